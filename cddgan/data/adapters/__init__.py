"""Adapters that turn public dehazing datasets, as distributed, into the common manifest.

`build_manifest(name, spec, out_dir)` is what the command line calls; `ADAPTERS` lists every adapter with
its allowed spec keys and a docstring. Each dataset module only finds files and pairs them; the shared
pipeline in `build` carves the val split out of the training scenes (`val`), makes RESIDE's paired
training sets unpaired, applies `limit`, decodes every image once (`decode`), crops SOTS-indoor's border,
shrinks large test images and writes the manifest.
"""

from cddgan.data.adapters.base import COMMON_KEYS, Adapter
from cddgan.data.adapters.build import build_manifest
from cddgan.data.adapters.registry import ADAPTERS

__all__ = ["ADAPTERS", "COMMON_KEYS", "Adapter", "build_manifest"]
