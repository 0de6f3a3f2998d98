"""Image and file I/O shared by every stage.

Every writer goes through a temporary name in the same folder and `os.replace`, so a crash never
leaves a half-written file that Snakemake would count as done. Every reader names the file it failed on.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from cddgan.errors import ImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

# Decompression-bomb guard: PIL warns above ~89 MP; we refuse above this many pixels with a clear message.
MAX_PIXELS = 20000 * 20000


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_dir(out_dir: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside `out_dir`; if the block succeeds it replaces `out_dir` as a whole,
    else it is removed and an earlier `out_dir` stays as it was (`atomic_path` for folders). The folder
    gets the permissions a plain `mkdir` would give: `mkdtemp` makes it private (0700), which a report
    or an external program run under another account could not read."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    staging.chmod(0o777 & ~_umask())
    try:
        yield staging
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def is_image(path: Path) -> bool:
    """True for files whose suffix (any case) is an image format the harness reads."""
    return path.suffix.lower() in IMAGE_SUFFIXES


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    with atomic_paths([path]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_paths(paths: Sequence[str | os.PathLike]) -> Iterator[list[Path]]:
    """Yield one temporary path beside each of `paths`; only if the block succeeds are they all renamed
    onto their targets, one after the other, so files that describe each other (tables and the config
    snapshot they came from) are replaced together or not at all."""
    targets = [Path(p) for p in paths]
    temps: list[Path] = []
    try:
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + target.suffix, dir=target.parent)
            os.close(fd)
            temps.append(Path(tmp))
        yield list(temps)
        for tmp in temps:
            if tmp.exists():  # mkstemp's file is private (0600); give it a plain file's permissions
                tmp.chmod(0o666 & ~_umask())
        for tmp, target in zip(temps, targets, strict=True):
            os.replace(tmp, target)
    finally:
        for tmp in temps:
            if tmp.exists():
                tmp.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_failed_marker(out_dir: str | os.PathLike, message: str) -> None:
    """The output folder of a failed run: only the FAILED file, with the reason (scoring gives it no rows;
    the aggregate job lists it in failures.csv and the report shows it)."""
    from cddgan.layout import FAILED_MARKER

    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    write_text(out_dir / FAILED_MARKER, message + "\n")


def read_image(path: str | os.PathLike, *, mode: str = "RGB") -> np.ndarray:
    """Read an image as float32 HxWxC in [0, 1].

    Grayscale and RGBA inputs are converted to RGB with a warning (alpha is dropped, not composited);
    16-bit images keep their precision. Truncated, empty or non-image files raise `ImageError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: image file not found")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: file is empty (0 bytes); re-copy it from the dataset")
    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_PIXELS:
                raise ImageError(
                    f"{path}: {img.width}x{img.height} is larger than the {MAX_PIXELS} pixels the harness "
                    "reads; resize it first"
                )
            img.load()
            array = _to_float(img, path, mode)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        # PIL refuses such headers in Image.open itself, before our own size check can run.
        raise ImageError(f"{path}: {exc} The harness does not decode it; resize it first") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: cannot decode image ({exc}); the file is truncated or not an image") from exc
    return array


def _to_float(img: Image.Image, path: Path, mode: str) -> np.ndarray:
    """Convert a decoded PIL image to float32 in [0, 1], warning on colour-mode conversions."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        raw = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if raw.max() > 255 or img.mode.startswith("I;16") else 255.0
        gray = np.clip(raw / peak, 0.0, 1.0).astype(np.float32)
        if mode == "L":
            return gray[..., None]
        warnings.warn(f"{path}: 16-bit grayscale image converted to RGB", stacklevel=3)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "RGB" and img.mode != "RGB":
        # Palette and YCbCr images are colour images stored differently: convert silently.
        if img.mode not in ("P", "YCbCr"):
            warnings.warn(f"{path}: {img.mode} image converted to RGB", stacklevel=3)
        img = img.convert("RGB")
    elif mode == "L" and img.mode != "L":
        img = img.convert("L")
    array = np.asarray(img, dtype=np.float32) / 255.0
    if array.ndim == 2:
        array = array[..., None]
    return array


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a float HxWx3 (or HxW) array in [0, 1] as an 8-bit image, atomically. Format from the suffix."""
    path = Path(path)
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if not np.isfinite(array).all():
        raise ImageError(f"{path}: refusing to write an image with NaN or inf values")
    u8 = np.clip(np.rint(np.clip(array, 0.0, 1.0) * 255.0), 0, 255).astype(np.uint8)
    with atomic_path(path) as tmp:
        Image.fromarray(u8).save(tmp, format=_pil_format(path))


def write_uint16(path: str | os.PathLike, array: np.ndarray, scale: float) -> None:
    """Write a non-negative float map (e.g. depth) as a 16-bit PNG of `array * scale`, atomically."""
    u16 = np.clip(np.rint(np.asarray(array, dtype=np.float64) * scale), 0, 65535).astype(np.uint16)
    with atomic_path(path) as tmp:
        Image.fromarray(u16).save(tmp, format="PNG")


def _pil_format(path: Path) -> str:
    suffix = path.suffix.lower()
    return {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}.get(
        suffix, "PNG"
    )
