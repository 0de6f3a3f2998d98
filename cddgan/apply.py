"""`cddgan apply`: dehaze anyone's photos with a trained model file or a training-free method.

The benchmark reads manifests of datasets; this reads what a person points at: files, folders (with their
sub-folders when asked) and glob patterns, in any size, mode and bit depth (`cddgan.imagefile`), tiled
when large (`cddgan.tiling`). Outputs are PNGs named after their inputs. Nothing is ever written onto an
input (refused before any work), an existing output is kept unless `overwrite`, and one bad file does not
stop the rest: it is named in the summary, and the command's exit status says that something failed.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from cddgan import __version__, comparepage
from cddgan.dehaze import is_out_of_memory
from cddgan.errors import ConfigError, HarnessError, ImageError, OutOfMemory
from cddgan.imagefile import Photo, read_photo, write_photo
from cddgan.io import is_image
from cddgan.methods.base import Method
from cddgan.methods.registry import available, build_method, method_class
from cddgan.modelfile import method_from_payload, notes, read_model
from cddgan.tiling import DEFAULT_OVERLAP, MIN_TILE, default_max_pixels, dehaze_any, tile_side, tileable

GLOB_CHARACTERS = "*?["


@dataclass
class Job:
    """One input and its output (`rel`: the output's path under the output folder)."""

    source: Path
    rel: PurePosixPath
    output: Path


@dataclass
class Outcome:
    """What `apply` did: outputs written, skipped (with why) and failed (input, reason)."""

    written: list[Job] = field(default_factory=list)
    skipped: list[tuple[Job, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    ignored: int = 0  # files in the folders given that are not images (by suffix)
    page: Path | None = None


@dataclass
class Limits:
    """How large a piece of an image one pass may dehaze (`cddgan.tiling`)."""

    max_pixels: int
    tile: int | None = None
    overlap: int = DEFAULT_OVERLAP


# ---- the inputs ------------------------------------------------------------------------------------------
def _hidden(path: Path, base: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(base).parts)


def _earlier_output(path: Path, out_dir: Path, base: Path) -> bool:
    """A file in the output folder that sits below the folder being read (`--out photos/dehazed` for
    `photos/`): an output of an earlier run, not an input. With `--out` the folder itself, nothing is."""
    out_dir = out_dir.resolve()
    return out_dir != base.resolve() and path.resolve().is_relative_to(out_dir)


def _output_rel(rel: Path, suffix: str) -> PurePosixPath:
    return PurePosixPath(rel.with_name(f"{rel.stem}{suffix}.png").as_posix())


def _glob_base(pattern: str) -> Path:
    """The folder a glob pattern's matches are named relative to: its leading parts without wildcards."""
    parts = Path(pattern).parts
    first_wild = next(i for i, part in enumerate(parts) if any(c in part for c in GLOB_CHARACTERS))
    return Path(*parts[:first_wild]) if first_wild else Path(".")


def gather(
    inputs: Sequence[str], out_dir: Path, recursive: bool = False, suffix: str = ""
) -> tuple[list[Job], list[tuple[str, str]], int]:
    """The jobs the inputs name, the inputs that name nothing (with why), and how many files in the folders
    were not images. A file keeps its name; a folder's or a glob's files keep their path under the folder
    (the glob's leading folders), so that sub-folders do not collide."""
    jobs: list[Job] = []
    failed: list[tuple[str, str]] = []
    ignored = 0
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            files = sorted(path.rglob("*") if recursive else path.iterdir())
            files = [f for f in files if f.is_file() and not _hidden(f, path)]
            files = [f for f in files if not _earlier_output(f, out_dir, path)]
            images = [f for f in files if is_image(f)]
            ignored += len(files) - len(images)
            if not images:
                has_folders = any(p.is_dir() for p in path.iterdir())
                hint = "; add --recursive for its sub-folders" if has_folders and not recursive else ""
                failed.append((text, f"no images in this folder{hint}"))
            jobs += [Job(f, _output_rel(f.relative_to(path), suffix), Path()) for f in images]
        elif path.is_file():
            jobs.append(Job(path, _output_rel(Path(path.name), suffix), Path()))
        elif any(c in text for c in GLOB_CHARACTERS):
            base = _glob_base(text)
            matches = [Path(m) for m in sorted(glob.glob(text, recursive=True)) if Path(m).is_file()]
            matches = [m for m in matches if not _earlier_output(m, out_dir, base)]
            if not matches:
                failed.append((text, "no file matches this pattern"))
            jobs += [Job(m, _output_rel(m.relative_to(base), suffix), Path()) for m in matches]
        else:
            failed.append((text, "no such file or folder"))
    unique: dict[Path, Job] = {}
    for job in jobs:
        unique.setdefault(job.source.resolve(), job)
    jobs = list(unique.values())
    for job in jobs:
        job.output = out_dir / Path(job.rel)
    return jobs, failed, ignored


def refuse_writing_onto_inputs(jobs: Sequence[Job], out_dir: Path, suffix: str) -> None:
    """Stop before any work when an output would replace an input (this job's or another's)."""
    sources = {os.path.realpath(job.source) for job in jobs}
    clashes = [job for job in jobs if os.path.realpath(job.output) in sources]
    if clashes:
        named = ", ".join(f"{job.output} (from {job.source})" for job in clashes[:5])
        more = f" and {len(clashes) - 5} more" if len(clashes) > 5 else ""
        hint = "another --out folder" + ("" if suffix else ", or a --suffix such as --suffix _dehazed")
        raise HarnessError(
            f"--out {out_dir} would write onto input files: {named}{more}. Nothing was written; choose {hint}"
        )


def split_collisions(jobs: Sequence[Job]) -> tuple[list[Job], list[tuple[str, str]]]:
    """Jobs whose output another job already claims (a.jpg and a.png in one folder) fail, named."""
    first: dict[Path, Job] = {}
    kept, failed = [], []
    for job in jobs:
        key = Path(os.path.realpath(job.output))
        if key in first:
            why = f"its output {job.output} is also {first[key].source}'s; rename one of them"
            failed.append((str(job.source), why))
        else:
            first[key] = job
            kept.append(job)
    return kept, failed


# ---- the method --------------------------------------------------------------------------------------------
def resolve_device(name: str) -> torch.device:
    """`auto` (CUDA when present), `cpu`, `cuda` or `cuda:N`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"--device {name!r}: not a device; use auto, cpu or cuda[:N]") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available here; use --device cpu")
    return device


def parse_settings(pairs: Sequence[str]) -> dict[str, Any]:
    """`--set key=value` pairs; values read as YAML scalars (15 -> int, 0.9 -> float, true -> bool)."""
    import yaml

    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r}: expected key=value, e.g. --set omega=0.9")
        settings[key.strip()] = yaml.safe_load(value)
    return settings


def training_free() -> list[str]:
    return [name for name in available() if not method_class(name).trainable]


def load_method(model: str, device: torch.device, settings: Sequence[str] = ()) -> tuple[Method, str]:
    """The method MODEL names (a model file, or a training-free method's name) and a label for it."""
    path = Path(model)
    if path.is_file() or path.suffix == ".pt" or os.sep in model:
        payload = read_model(path, device)
        if settings:
            raise ConfigError("--set applies to training-free methods; a trained model's settings are in its file")
        if payload.get("failed"):
            raise HarnessError(f"{path}: {notes(payload)[0]}")
        spec = payload["spec"]
        label = f"{payload['method']} ({spec.get('run', '?')}, seed {spec.get('seed', '?')}, {path.name})"
        return method_from_payload(payload, path, device), label
    cls = method_class(model)  # a ConfigError listing the registered methods for an unknown name
    if cls.trainable:
        raise ConfigError(
            f"{model} needs training: pass the model.pt a training wrote (results/runs/<experiment>/<run>/seed<k>/"
            f"model.pt), or a training-free method: {', '.join(training_free())}"
        )
    method = build_method({"method": model, "settings": parse_settings(settings)}, device)
    return method, f"{model} (training-free)"


# ---- one image --------------------------------------------------------------------------------------------
def dehaze_photo(method: Method, photo: Photo, device: torch.device, limits: Limits) -> np.ndarray:
    """The dehazed RGB of a photo; on running out of memory, tiles four times smaller until a tile fits."""
    max_pixels, tile = limits.max_pixels, limits.tile
    while True:
        try:
            return dehaze_any(method, photo.rgb, device, max_pixels, tile, limits.overlap)
        except (RuntimeError, MemoryError) as exc:
            if not is_out_of_memory(exc):
                raise
            if device.type == "cuda":
                torch.cuda.empty_cache()
            side = tile_side(max_pixels, tile)
            if not tileable(method) or side <= MIN_TILE:
                width, height = photo.size
                raise OutOfMemory(
                    f"{width}x{height}: out of memory on {device}"
                    + (f" even in tiles of {side} px" if tileable(method) else "")
                    + "; try --device cpu, or free memory"
                ) from exc
            max_pixels, tile = max(MIN_TILE**2, max_pixels // 4), (max(MIN_TILE, tile // 2) if tile else None)
            side = tile_side(max_pixels, tile)
            tqdm.write(f"out of memory on {device}: retrying in tiles of {side} px", file=sys.stderr)


# ---- the command -------------------------------------------------------------------------------------------
def apply(
    model: str,
    inputs: Sequence[str],
    out_dir: str | Path,
    *,
    recursive: bool = False,
    suffix: str = "",
    overwrite: bool = False,
    device: str = "auto",
    max_pixels: int | None = None,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    settings: Sequence[str] = (),
    compare: bool = False,
    progress: bool = True,
) -> Outcome:
    """Dehaze every image `inputs` name into `out_dir` (module docstring); returns what happened."""
    out_dir = Path(out_dir)
    jobs, failed, ignored = gather(inputs, out_dir, recursive, suffix)
    refuse_writing_onto_inputs(jobs, out_dir, suffix)
    jobs, collided = split_collisions(jobs)
    outcome = Outcome(failed=failed + collided, ignored=ignored)
    if not jobs:
        return outcome
    torch_device = resolve_device(device)
    method, label = load_method(model, torch_device, settings)
    limits = Limits(max_pixels or default_max_pixels(torch_device), tile, overlap)
    pairs: list[comparepage.Pair] = []
    for job in tqdm(jobs, desc="apply", unit="image", file=sys.stderr, disable=not progress):
        exists = job.output.exists() and not overwrite
        if exists and not compare:
            outcome.skipped.append((job, "exists"))
            continue
        try:
            photo = read_photo(job.source)
            if compare:
                write_photo(comparepage.before_path(out_dir, job.rel), photo, photo.rgb, bits=8)
            if exists:
                outcome.skipped.append((job, "exists"))
            else:
                write_photo(job.output, photo, dehaze_photo(method, photo, torch_device, limits))
                outcome.written.append(job)
        except (ImageError, OutOfMemory, OSError) as exc:
            outcome.failed.append((str(job.source), str(exc).removeprefix(f"{job.source}: ")))
            continue
        pairs.append(_pair(job, photo))
    if compare and pairs:
        byline = f"{len(pairs)} image{'s' if len(pairs) != 1 else ''} · cddgan-bench {__version__}"
        outcome.page = comparepage.write_page(out_dir, pairs, f"Dehazed with {label}", byline)
    return outcome


def _pair(job: Job, photo: Photo) -> comparepage.Pair:
    width, height = photo.size
    mode = ("grey" if photo.grey else "RGB") + (" + alpha" if photo.alpha is not None else "")
    before = PurePosixPath(comparepage.AUX_DIR, "before", job.rel)
    return comparepage.Pair(str(job.source), before, job.rel, f"{width}x{height}, {mode}, {photo.bits}-bit", width)


def summary(outcome: Outcome) -> str:
    """The closing lines: counts, the skipped outputs, every failure with its reason."""
    lines = [f"written {len(outcome.written)}, skipped {len(outcome.skipped)}, failed {len(outcome.failed)}"]
    if outcome.skipped:
        names = ", ".join(str(job.output) for job, _ in outcome.skipped[:10])
        more = f" and {len(outcome.skipped) - 10} more" if len(outcome.skipped) > 10 else ""
        lines.append(f"skipped (the output exists; --overwrite replaces it): {names}{more}")
    if outcome.ignored:
        lines.append(f"ignored {outcome.ignored} file(s) in the folders that are not images (by suffix)")
    lines += [f"failed: {name}: {reason}" for name, reason in outcome.failed]
    if outcome.page:
        lines.append(f"compare page: {outcome.page}")
    return "\n".join(lines)
