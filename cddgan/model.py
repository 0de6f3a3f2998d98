"""CDD-GAN (placeholder until the CDD-GAN issue lands)."""
