"""Datasets: the synthetic haze benchmark, adapters for public datasets, and unpaired sampling."""

# `training.cache_images: auto` keeps a training set in memory when the decoded uint8 images of both domains
# take less than this many bytes (cddgan.data.unpaired); the scheduler's memory request counts it
# (cddgan.resources). Here, not in unpaired.py, so that reading it does not import torch.
AUTO_CACHE_BYTES = 2 * 1024**3
