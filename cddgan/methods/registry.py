"""The registry of methods: names to classes, and where method modules are found.

A method is a class that calls `@register("name")`. Method modules are found the same way wherever they
live: every module of this package (the paper's CDD-GAN and the library pieces it shares), every module
of the shipped `baselines` package, and each module named in the config's `plugins:` list are imported,
and importing them registers their methods. A module that fails to import is a ConfigError naming its
file and line, because one broken file would otherwise stop every run with a traceback ending elsewhere.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import pkgutil
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from cddgan.errors import ConfigError
from cddgan.methods.base import Method

_REGISTRY: dict[str, type[Method]] = {}
METHODS_PACKAGE = __name__.rpartition(".")[0]  # cddgan.methods
METHODS_DIR = Path(__file__).resolve().parent
# The shipped baselines: a sibling of the cddgan package, in a checkout and in an installed wheel alike.
BASELINES_DIR = METHODS_DIR.parents[1] / "baselines"
# Packages whose every module is imported, each with the folder it must come from.
METHOD_PACKAGES: tuple[tuple[str, Path], ...] = ((METHODS_PACKAGE, METHODS_DIR), ("baselines", BASELINES_DIR))
# Modules of the Method interface itself: not a method's code (see `source_files`).
INTERFACE_MODULES = ("builtins", f"{METHODS_PACKAGE}.base")


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


def class_source_file(cls: type) -> str | None:
    """The file that defines `cls`, or None for a class without one (built in, or made at run time)."""
    try:
        return inspect.getsourcefile(cls)
    except (TypeError, OSError):  # built in, or defined where no source file exists
        return None


def _source(cls: type) -> str:
    return class_source_file(cls) or cls.__module__


def import_method_module(module: str, remedy: str) -> ModuleType:
    """Import one module that may register methods; a failure is a ConfigError naming the module, the
    failing file and line, and `remedy` (what the user can do about it)."""
    try:
        return importlib.import_module(module)
    except Exception as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name == module:
            raise ConfigError(f"{module}: cannot import it ({exc}); {remedy}") from exc
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if "importlib" not in f.filename]
        where = getattr(exc, "filename", None) and f"{exc.filename}:{exc.lineno}"  # SyntaxError
        if not where and frames:
            where = f"{frames[-1].filename}:{frames[-1].lineno}"
        raise ConfigError(
            f"{module}: the method file cannot be imported ({type(exc).__name__}: {exc}) at {where or module}; "
            f"{remedy}"
        ) from exc


def import_package(package: str, folder: Path) -> None:
    """Import `package`, refused unless it comes from `folder`, and then every module in it."""
    remedy = f"fix it, or move it out of {folder.name}/ (every file there is imported by every run)"
    imported = import_method_module(package, remedy)
    _check_not_shadowed(imported, folder)
    for info in pkgutil.iter_modules(imported.__path__):
        import_method_module(f"{package}.{info.name}", remedy)


def _check_not_shadowed(package: ModuleType, folder: Path) -> None:
    """`baselines` is a common folder name: one in the working directory or on PYTHONPATH would be
    imported instead of ours, and every shipped method would silently vanish."""
    found = [Path(p).resolve() for p in package.__path__]
    if folder not in found:
        raise ConfigError(
            f"the package `{package.__name__}` was imported from {', '.join(map(str, found))}, not from "
            f"cddgan-bench's {folder}: a folder named {folder.name}/ in the working directory or on PYTHONPATH "
            "shadows it. Run from another directory, or take that folder off PYTHONPATH"
        )


def load_plugins(modules: list[str] | tuple[str, ...] = ()) -> None:
    """Import every shipped method module (this package's and the baselines') and the user's `modules`
    so that their methods register."""
    for package, folder in METHOD_PACKAGES:
        import_package(package, folder)
    for module in modules:
        import_method_module(module, "plugins: make sure the module is on PYTHONPATH and imports cleanly")


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
    text = f"Method files are imported from {METHODS_DIR}/, {BASELINES_DIR}/ and the modules under `plugins:`"
    here = Path.cwd() / "baselines"
    if here.is_dir() and here.resolve() != BASELINES_DIR:
        text += (
            "; ./baselines/ here is another copy: run `pip install -e .` in this directory, or use "
            "`python -m cddgan` from it"
        )
    return text + "."


def source_files(name: str) -> list[str]:
    """The source files of a method's class and its base classes, the interface and torch's excepted:
    what a researcher edits when they fix their method (a shared piece such as the cycle pair included)."""
    files = set()
    for cls in method_class(name).__mro__:
        module = cls.__module__ or ""
        if module in INTERFACE_MODULES or module.split(".")[0] in ("torch", "typing", "abc"):
            continue
        path = class_source_file(cls)
        if path:
            files.add(path)
    return sorted(files)


def source_digest(name: str) -> str:
    """A short SHA-256 of `source_files(name)`: a tracked param of the method's jobs, so that editing the
    method's file reruns its training and dehazing (Snakemake itself only sees the rules' code)."""
    digest = hashlib.sha256()
    for path in source_files(name):
        digest.update(Path(path).name.encode() + b"\0" + Path(path).read_bytes())
    return digest.hexdigest()[:16]


def build_method(spec: Mapping[str, Any], device: torch.device) -> Method:
    """Instantiate the run's method on `device` (used by training, dehazing, efficiency and benchmarks)."""
    load_plugins(spec.get("plugins", ()))
    cls = method_class(spec["method"])
    method = cls(spec["settings"], device)
    if isinstance(method, torch.nn.Module):
        method.to(device)
    return method
