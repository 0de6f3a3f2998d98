"""cddgan-bench: a reproducible benchmark and ablation harness for unpaired image dehazing."""

__version__ = "0.2.0"
