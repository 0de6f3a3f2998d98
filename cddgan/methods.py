"""The Method interface and the registry of methods.

A method is a class registered under a name with its default settings in one place (`defaults`).
Training-free methods implement `dehaze` only. GAN methods subclass `GANMethod`: they build their networks
from `cddgan.nn` and say only which losses to minimise in which order (`step`); the shared loop in
`cddgan.train` owns devices, precision, seeds, sampling, schedules, checkpoints, logging and progress.

Adding a method is one module that calls `@register("name")` plus one entry under `runs:` in the config.
Modules are found by importing `baselines` (every module in it) and `cddgan.model`, plus any module named
in the config's `plugins:` list.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import traceback
from collections.abc import Callable, Hashable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from cddgan.errors import ConfigError

_REGISTRY: dict[str, type[Method]] = {}
# The shipped method files: a sibling of this package, in a checkout and in an installed wheel alike.
BASELINES_DIR = Path(__file__).resolve().parents[1] / "baselines"


def register(name: str) -> Callable[[type[Method]], type[Method]]:
    """Class decorator: make a method available under `name` (the `method:` key of a run)."""

    def decorate(cls: type[Method]) -> type[Method]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            first, second = _REGISTRY[name], cls
            raise ValueError(
                f"method {name!r} is registered twice: {first.__qualname__} ({_source(first)}) and "
                f"{second.__qualname__} ({_source(second)}); give one of them another name in @register(...)"
            )
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def _source_file(cls: type) -> str | None:
    try:
        return inspect.getsourcefile(cls)
    except (TypeError, OSError):  # built in, or defined where no source file exists
        return None


def _source(cls: type) -> str:
    return _source_file(cls) or cls.__module__


def _import_baseline(module: str) -> None:
    """Import one module of `baselines/`; a broken file is a ConfigError naming it and the failing line,
    because one broken baseline would otherwise stop every run with a traceback ending somewhere else."""
    try:
        importlib.import_module(module)
    except Exception as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if "importlib" not in f.filename]
        where = getattr(exc, "filename", None) and f"{exc.filename}:{exc.lineno}"  # SyntaxError
        if not where and frames:
            where = f"{frames[-1].filename}:{frames[-1].lineno}"
        raise ConfigError(
            f"{module}: the method file cannot be imported ({type(exc).__name__}: {exc}) at {where or module}; "
            "fix it, or move it out of baselines/ (every file there is imported by every run)"
        ) from exc


def _check_not_shadowed(package: Any) -> None:
    """`baselines` is a common folder name: one in the working directory or on PYTHONPATH would be
    imported instead of ours, and every shipped method would silently vanish."""
    found = [Path(p).resolve() for p in package.__path__]
    if BASELINES_DIR not in found:
        raise ConfigError(
            f"the package `baselines` was imported from {', '.join(map(str, found))}, not from cddgan-bench's "
            f"{BASELINES_DIR}: a folder named baselines/ in the working directory or on PYTHONPATH shadows it. "
            "Run from another directory, or take that folder off PYTHONPATH"
        )


def load_plugins(modules: list[str] | tuple[str, ...] = ()) -> None:
    """Import the shipped baselines, CDD-GAN and any user modules so that their methods register."""
    import baselines

    _check_not_shadowed(baselines)
    for info in pkgutil.iter_modules(baselines.__path__):
        _import_baseline(f"baselines.{info.name}")
    importlib.import_module("cddgan.model")
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"plugins: cannot import {module!r} ({exc}); make sure it is on PYTHONPATH") from exc


def available() -> list[str]:
    """Names of every registered method."""
    load_plugins()
    return sorted(_REGISTRY)


def method_class(name: str) -> type[Method]:
    """The class registered under `name`, or a `ConfigError` listing what is available."""
    if name not in _REGISTRY:
        load_plugins()
    if name not in _REGISTRY:
        raise ConfigError(
            f"unknown method {name!r}; registered methods: {', '.join(sorted(_REGISTRY))}. {_where_methods_come_from()}"
        )
    return _REGISTRY[name]


def _where_methods_come_from() -> str:
    """Where method files come from (`load_plugins` has refused any other `baselines`), and a hint when
    the working directory holds another copy (a second checkout while `cddgan` is installed from the
    first one)."""
    text = f"Method files are imported from {BASELINES_DIR}/ (and from the modules under `plugins:`)"
    here = Path.cwd() / "baselines"
    if here.is_dir() and here.resolve() != BASELINES_DIR:
        text += (
            "; ./baselines/ here is another copy: run `pip install -e .` in this directory, or use "
            "`python -m cddgan` from it"
        )
    return text + "."


def source_files(name: str) -> list[str]:
    """The source files of a method's class and its base classes, the interface in this module and
    torch's excepted: what a researcher edits when they fix their method."""
    files = set()
    for cls in method_class(name).__mro__:
        module = cls.__module__ or ""
        if module in ("builtins", __name__) or module.split(".")[0] in ("torch", "typing", "abc"):
            continue
        path = _source_file(cls)
        if path:
            files.add(path)
    return sorted(files)


def source_digest(name: str) -> str:
    """A short SHA-256 of `source_files(name)`: a tracked param of the method's jobs, so that editing the
    method's file reruns its training and dehazing (Snakemake itself only sees the rules' code)."""
    import hashlib

    digest = hashlib.sha256()
    for path in source_files(name):
        digest.update(Path(path).name.encode() + b"\0" + Path(path).read_bytes())
    return digest.hexdigest()[:16]


def resolve_settings(cls: type[Method], overrides: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """The method's defaults updated by `overrides`; an unknown key is a `ConfigError` naming `where`."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(cls.defaults))
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {unknown} for method {cls.name!r}; "
            f"allowed: {', '.join(sorted(cls.defaults)) or '(none)'}"
        )
    settings = dict(cls.defaults)
    settings.update(overrides)
    return settings


class Method:
    """A dehazing method. Images are float tensors (B, 3, H, W) in [0, 1]."""

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    trainable: ClassVar[bool] = False

    def __init__(self, settings: Mapping[str, Any] | None = None, device: torch.device | str = "cpu") -> None:
        self.settings = resolve_settings(type(self), settings, f"runs.<{self.name}>.settings")
        self.device = torch.device(device)

    def dehaze(self, hazy: torch.Tensor) -> torch.Tensor:
        """Return the dehazed images, same shape as `hazy`, values in [0, 1]."""
        raise NotImplementedError


class GANMethod(Method, nn.Module):
    """A trainable method. Subclasses implement `build`, `optim_groups`, `step` and `translate`.

    `step` is a generator: it yields ``(group, loss, logs)`` once per optimiser update, in update order.
    The loop zeroes that group's gradients, back-propagates the loss, steps its optimiser, then resumes the
    generator. `logs` maps names to floats (or 0-dim tensors) written to losses.csv.

    CUDA graphs (`training.cuda_graph`) replay one captured iteration, so everything the host decides
    inside `step` is frozen at capture. A method whose iteration branches on a host-side draw returns
    that draw from `host_decisions()`; the loop calls it before every iteration, passes the result to
    `step` as keyword arguments and keeps one graph per distinct value. A method whose tensor shapes
    change during its first iterations (a queue filling up) says how many in `graph_warmup()`.
    """

    trainable: ClassVar[bool] = True

    def __init__(self, settings: Mapping[str, Any] | None = None, device: torch.device | str = "cpu") -> None:
        nn.Module.__init__(self)
        Method.__init__(self, settings, device)
        self.build()

    def build(self) -> None:
        """Create the networks from `self.settings` (as attributes, so they are in the state dict)."""
        raise NotImplementedError

    def optim_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters per optimiser, keyed by the group names `step` yields (e.g. ``D``, ``G``)."""
        raise NotImplementedError

    def step(self, hazy: torch.Tensor, clear: torch.Tensor) -> Iterator[tuple[str, torch.Tensor, dict]]:
        """One training iteration on an unpaired batch: yield each update's loss in order."""
        raise NotImplementedError

    def translate(self, hazy: torch.Tensor) -> torch.Tensor:
        """The hazy -> clear generator's output in [-1, 1] for input in [-1, 1]."""
        raise NotImplementedError

    def after_step(self) -> None:
        """Hook run after every iteration (e.g. EMA updates). Default: nothing."""

    def host_decisions(self) -> dict[str, Hashable]:
        """Host-side random choices of the next iteration, passed to `step` as keywords. Default: none."""
        return {}

    def graph_warmup(self) -> int:
        """Iterations after which every iteration runs the same kernels on same-shaped tensors."""
        return 0

    @torch.no_grad()
    def dehaze(self, hazy: torch.Tensor) -> torch.Tensor:
        return ((self.translate(hazy * 2 - 1) + 1) / 2).clamp(0, 1)


def set_requires_grad(modules: nn.Module | list[nn.Module], flag: bool) -> None:
    """Switch gradient tracking of whole networks (saves the weight-gradient work of frozen ones)."""
    for module in modules if isinstance(modules, list | tuple) else [modules]:
        for p in module.parameters():
            p.requires_grad_(flag)
