"""Every image of a dataset read once before any training starts: headers always, pixels by default.

`make_data` opens every image the manifest will list (its size and colour mode, in parallel threads: PIL
decodes without holding the GIL) and, unless the dataset says `verify: header`, decodes every pixel, so a
truncated file is found here and not at the iteration that first draws it. Every bad file is collected and
all are named in one error (`BadImages`, both an `ImageError` and a `DatasetError`) before anything is
written. A full check that passes is remembered in a small cache file beside the manifest
(`CACHE_NAME`), keyed by a digest of exactly the files checked (path, size and modification time, as
`cddgan.data.fingerprint` digests a dataset, plus the Pillow version): an unchanged set is not decoded
again, while one edited, added or removed image (or another `limit`) makes the next build decode it all.
The digest covers the files themselves rather than the dataset's tree fingerprint because a dataset may
read folders outside its root (paired-folders with absolute folders) and because keys that change no file
(val_seed, protocol) must not cost another full decode of a 300,000-image set.

What `cddgan.io.read_image` will convert on reading (grayscale, 16-bit, alpha, palette and other colour
modes) is counted per kind and listed in full in the sidecar (``conversions``); the build prints one line
with the counts to stderr.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import warnings
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import PIL
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from cddgan.data.adapters.scan import names
from cddgan.errors import DatasetError, ImageError
from cddgan.io import write_text

CACHE_NAME = "decode_check.json"
BAD_LIST_NAME = "bad_images.txt"
# Images named in the error message itself; every one is in BAD_LIST_NAME beside the manifest.
SHOWN_BAD = 100
_SCHEME = 1
# What read_image does with each colour mode (cddgan.io._to_float), by the kind the summary counts.
_SIXTEEN_BIT = frozenset({"I", "I;16", "I;16L", "I;16B", "F"})
_GRAY = frozenset({"1", "L"})
_ALPHA = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
KINDS = ("grayscale", "16-bit", "alpha", "palette", "other mode")


class BadImages(ImageError, DatasetError):
    """Images that cannot be read, all named at once (an `ImageError` about files of a dataset)."""


@dataclass
class Inspection:
    """What reading every image found: sizes (width, height), conversions by kind, and how deep it looked."""

    sizes: dict[Path, tuple[int, int]]
    conversions: dict[str, list[Path]] = field(default_factory=lambda: {k: [] for k in KINDS})
    other_modes: dict[str, int] = field(default_factory=dict)
    decoded: str = "headers only"  # "all", "cached" (unchanged since a full check passed) or "headers only"
    checked: int = 0  # images read (`sizes` may grow afterwards: the build adds its cropped and shrunk copies)


def default_workers() -> int:
    """The CPUs this process may use (a SLURM or taskset allotment, not the whole machine), at most 16."""
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count() or 1
    return max(1, min(16, available))


def files_digest(paths: Iterable[Path]) -> str:
    """A digest of the files' paths, sizes and modification times (and the Pillow version that read them)."""
    digest = hashlib.blake2b(b"cddgan-decode-check-%d:%s" % (_SCHEME, PIL.__version__.encode()), digest_size=16)
    for path in sorted(str(p) for p in paths):
        try:
            info = os.stat(path)
            record = f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0"
        except OSError:
            record = f"{path}\0missing\0"
        digest.update(record.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _kind(img: Image.Image) -> str | None:
    """The conversion read_image makes for this image's mode, or None for plain RGB (and YCbCr JPEG)."""
    mode = img.mode
    if mode in ("RGB", "YCbCr"):
        return None
    if mode in _SIXTEEN_BIT:
        return "16-bit"
    if mode in _GRAY:
        return "grayscale"
    if mode in _ALPHA or (mode == "P" and "transparency" in img.info):
        return "alpha"
    if mode == "P":
        return "palette"
    return "other mode"


def _read(path: Path, decode: bool) -> tuple[tuple[int, int] | None, str | None, str, str]:
    """(size, conversion kind, mode, error): one image's header, and its pixels when `decode`."""
    try:
        if os.stat(path).st_size == 0:
            return None, None, "", "file is empty (0 bytes); re-copy it from the dataset"
        with Image.open(path) as img:
            if decode:
                img.load()
            return img.size, _kind(img), img.mode, ""
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        return None, None, "", f"cannot decode image ({exc}); the file is truncated or not an image, re-copy it"


def inspect_images(
    paths: list[Path],
    mode: str,
    out_dir: Path | None = None,
    *,
    progress: bool = True,
    workers: int | None = None,
) -> Inspection:
    """Read every image's header, and decode its pixels in mode 'full' unless the cache under `out_dir` says
    these very files passed before. Raises `BadImages` naming every unreadable file (all of them in
    out_dir/bad_images.txt); writes the cache after a full check that passed."""
    cache = out_dir / CACHE_NAME if out_dir is not None else None
    bad_list = out_dir / BAD_LIST_NAME if out_dir is not None else None
    digest = files_digest(paths) if mode == "full" else ""
    decode = mode == "full" and not _cached(cache, digest)
    how = "all" if decode else ("cached" if mode == "full" else "headers only")
    found = Inspection({}, decoded=how, checked=len(paths))
    what = "decode" if decode else "check headers of"
    with ThreadPoolExecutor(workers or default_workers()) as pool:
        results = tqdm(
            pool.map(lambda p: _read(p, decode), paths),
            total=len(paths),
            desc=f"{what} {len(paths)} images",
            unit="img",
            file=sys.stderr,
            mininterval=1.0,
            disable=not progress or len(paths) < 200,
        )
        bad: list[str] = []
        for path, (size, kind, img_mode, error) in zip(paths, results, strict=True):
            if error:
                bad.append(f"{path}: {error}")
                continue
            found.sizes[path] = size
            if kind is not None:
                found.conversions[kind].append(path)
                if kind == "other mode":
                    found.other_modes[img_mode] = found.other_modes.get(img_mode, 0) + 1
    if bad:
        listed = ""
        if bad_list is not None:
            write_text(bad_list, "\n".join(bad) + "\n")
            listed = f" ({'all ' if len(bad) > 1 else ''}listed in {bad_list})"
        shown = "\n  ".join(bad[:SHOWN_BAD])
        more = f"\n  ... and {len(bad) - SHOWN_BAD} more" if len(bad) > SHOWN_BAD else ""
        raise BadImages(
            f"{len(bad)} of {len(paths)} images cannot be read{listed}; re-copy or remove them, then rerun "
            f"make_data:\n  {shown}{more}"
        )
    if bad_list is not None and bad_list.exists():
        bad_list.unlink()
    if decode and cache is not None:
        write_text(cache, json.dumps({"scheme": _SCHEME, "files": len(paths), "digest": digest}) + "\n")
    return found


def _cached(cache: Path | None, digest: str) -> bool:
    if cache is None or not cache.is_file():
        return False
    try:
        record = json.loads(cache.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("scheme") == _SCHEME and record.get("digest") == digest


def colour_warnings(found: Inspection, paths: list[Path]) -> list[str]:
    """Warn (and return the messages for the sidecar's ``warnings``) about images read_image converts with
    a loss: grayscale (16-bit included) and alpha; up to 10 names each, every file in ``conversions``."""
    gray_set = {*found.conversions["grayscale"], *found.conversions["16-bit"]}
    gray = [p for p in paths if p in gray_set]
    alpha = found.conversions["alpha"]
    messages = []
    if gray:
        messages.append(f"{len(gray)} grayscale image(s) will be converted to RGB: {names(gray)}")
    if alpha:
        messages.append(f"{len(alpha)} image(s) with alpha will be read as RGB (alpha dropped): {names(alpha)}")
    for message in messages:
        warnings.warn(message, stacklevel=3)
    return messages


def conversions_record(found: Inspection, root: Path) -> dict:
    """The sidecar's ``conversions``: counts per kind and every file (relative to the root where inside it)."""

    def shown(path: Path) -> str:
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

    return {
        "counts": {kind: len(paths) for kind, paths in found.conversions.items() if paths},
        "other_modes": found.other_modes,
        "files": {kind: [shown(p) for p in paths] for kind, paths in found.conversions.items() if paths},
        "note": "converted to RGB on reading (cddgan.io.read_image): grayscale and 16-bit repeated over R, G, "
        "B (16-bit at full precision), alpha dropped (not composited), palette expanded",
    }


def summary_line(name: str, found: Inspection, extra: dict) -> str:
    """One line for stderr: how many images were checked and how, what is converted, shrunk or cropped."""
    checked = found.checked
    how = {"all": "every pixel decoded", "cached": "decoded before, unchanged since",
           "headers only": "headers only (verify: header)"}[found.decoded]
    parts = [f"{len(paths)} {kind}" for kind, paths in found.conversions.items() if paths]
    line = f"make_data {name}: {checked} images checked ({how})"
    line += f"; converted to RGB on reading: {', '.join(parts)}" if parts else "; no conversions"
    resized = (extra.get("test_resized") or {}).get("count")
    if resized:
        line += f"; {resized} test images shrunk to test_max_side {extra['test_resized']['max_side']}"
    cropped = (extra.get("gt_cropped") or {}).get("count")
    if cropped:
        line += f"; {cropped} ground-truth images centre-cropped to their hazy size"
    if parts or resized or cropped:
        line += " (every file in manifest.json: conversions, test_resized, gt_cropped)"
    return line
