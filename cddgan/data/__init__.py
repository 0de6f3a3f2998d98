"""Datasets: the synthetic haze benchmark, adapters for public datasets, and unpaired sampling."""
