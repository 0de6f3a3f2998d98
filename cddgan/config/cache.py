"""`resolve` for the Snakefile: cached on disk, and on a miss run in a subprocess.

Snakemake parses the Snakefile at every start, and again inside every cluster job. Resolving a config
imports every method, and so torch (seconds); the result depends only on the raw config and on the code
that resolution reads. So `resolve_cached` keys the resolved config by both and keeps it as JSON under
`cache_dir`; on a miss a child process resolves it (`python -P -m cddgan.config IN OUT`), so the
calling process never imports torch either way.

The result is the JSON form of `resolve(raw)` on a hit and on a miss alike (tuples such as a method's
default `nce_layers` become lists), so nothing downstream depends on the state of the cache.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cddgan.config.shipped import PACKAGE_DIR
from cddgan.errors import ConfigError

KEEP = 32  # cached resolutions kept per cache folder (the newest); older ones are removed
CONFIG_ERROR_EXIT = 3  # the child's exit status for a ConfigError (cddgan/config/__main__.py)


def _plain(value: Any) -> Any:
    raise ConfigError(
        f"the config holds {value!r} ({type(value).__name__}), which is not plain data (strings, numbers, "
        "booleans, null, lists, mappings); quote it"
    )


def raw_json(raw: Mapping) -> str:
    """The raw config as JSON, key order kept: the resolved config keeps the raw config's order, so two
    configs that differ only in order resolve differently and must not share a cache entry."""
    return json.dumps(raw, separators=(",", ":"), ensure_ascii=False, default=_plain)


def _files(folder: Path, patterns: tuple[str, ...]) -> Iterator[Path]:
    for pattern in patterns:
        yield from folder.rglob(pattern)


def module_file(name: str) -> Path | None:
    """The source file of module `name`, found without importing it or its parent packages (whose
    `__init__` may import torch); None when there is none."""
    parts = name.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
        for depth in range(2, len(parts) + 1):
            if spec is None or spec.submodule_search_locations is None:
                return None
            locations = list(spec.submodule_search_locations)
            spec = importlib.machinery.PathFinder.find_spec(".".join(parts[:depth]), locations)
    except (ImportError, ValueError):
        return None
    origin = spec.origin if spec is not None else None
    return Path(origin) if origin and Path(origin).is_file() else None


def dependencies(plugins: list[str] | tuple[str, ...] = ()) -> list[Path]:
    """The files resolution reads code or data from: the cddgan package (its modules, schema and configs),
    the shipped `baselines` and each plugin module (all of a plugin package's modules)."""
    roots = [(PACKAGE_DIR, ("*.py", "*.yaml"))]
    baselines = importlib.util.find_spec("baselines")
    for location in (baselines.submodule_search_locations or []) if baselines else []:
        roots.append((Path(location), ("*.py",)))
    files = [path for folder, patterns in roots for path in _files(folder, patterns)]
    for name in plugins:
        source = module_file(str(name))
        if source is not None:
            files += list(_files(source.parent, ("*.py",))) if source.name == "__init__.py" else [source]
    return sorted(set(files))


def cache_key(raw: Mapping) -> str:
    """A digest of the raw config and of the (path, size, mtime) of every file resolution depends on."""
    plugins = raw.get("plugins") if isinstance(raw.get("plugins"), list) else []
    stats = []
    for path in dependencies([p for p in plugins if isinstance(p, str)]):
        try:
            stat = path.stat()
        except OSError:  # removed while we looked: it counts as changed
            stats.append([str(path), -1, -1])
            continue
        stats.append([str(path), stat.st_size, stat.st_mtime_ns])
    digest = hashlib.sha256()
    for part in (sys.executable, str(PACKAGE_DIR), raw_json(raw), json.dumps(stats)):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def _child_env() -> dict[str, str]:
    """This process's environment, with its import path: the child imports the same cddgan, baselines
    and plugins (a test or Snakemake may have put folders on sys.path that PYTHONPATH lacks)."""
    path = [entry or os.getcwd() for entry in sys.path]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


def resolve_in_subprocess(raw: Mapping) -> dict:
    """resolve(raw) in a child process with this interpreter; a ConfigError there is raised here with the
    same message. `-P`: the working folder is not put first on the child's path (a `baselines/` there
    would shadow the shipped one)."""
    with tempfile.TemporaryDirectory(prefix="cddgan-resolve-") as scratch:
        given, out = Path(scratch, "raw.json"), Path(scratch, "resolved.json")
        given.write_text(raw_json(raw))
        done = subprocess.run(
            [sys.executable, "-P", "-m", "cddgan.config", str(given), str(out)],
            capture_output=True, text=True, env=_child_env(), check=False,
        )
        sys.stderr.write(done.stderr if done.returncode in (0, CONFIG_ERROR_EXIT) else "")
        if done.returncode == CONFIG_ERROR_EXIT:
            raise ConfigError(out.read_text())
        if done.returncode != 0 or not out.is_file():
            raise RuntimeError(f"resolving the config in a subprocess failed ({done.returncode}):\n{done.stderr}")
        return json.loads(out.read_text())


def resolve_cached(raw: Mapping, cache_dir: str | os.PathLike) -> dict:
    """`resolve(raw)` in its JSON form, read from `cache_dir/resolved-<key>.json` when the raw config and
    the code it depends on are unchanged (see `cache_key`); otherwise resolved in a subprocess and then
    stored, atomically, and only when resolution succeeded. Raises ConfigError as `resolve` does."""
    path = Path(cache_dir) / f"resolved-{cache_key(raw)}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # missing, or removed or garbled by another process: resolve anew
        pass
    resolved = resolve_in_subprocess(raw)
    from cddgan.io import atomic_path  # here: it imports numpy and PIL, which a cache hit does not need

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(resolved))
    _prune(Path(cache_dir))
    return resolved


def _prune(cache_dir: Path) -> None:
    """Keep the newest `KEEP` cached resolutions; every edit of the config or the code adds one."""
    def age(path: Path) -> int:
        try:
            return path.stat().st_mtime_ns
        except OSError:
            return 0

    for stale in sorted(cache_dir.glob("resolved-*.json"), key=age, reverse=True)[KEEP:]:
        stale.unlink(missing_ok=True)
