"""Methods: the interface (`base`), the registry (`registry`), the paper's CDD-GAN (`cddgan`) and the
pieces it shares with the baselines (`cycle`: CycleGAN's cycle pair).

Adding a method is one module that calls `@register("name")` plus one entry under `runs:` in the config;
the names below are what such a module (and the docs' examples) import from `cddgan.methods`.
"""

from cddgan.methods.base import GANMethod, Method, resolve_settings, set_requires_grad
from cddgan.methods.registry import (
    available,
    build_method,
    load_plugins,
    method_class,
    register,
    source_digest,
    source_files,
)

__all__ = [
    "GANMethod",
    "Method",
    "available",
    "build_method",
    "load_plugins",
    "method_class",
    "register",
    "resolve_settings",
    "set_requires_grad",
    "source_digest",
    "source_files",
]
