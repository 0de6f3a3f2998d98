"""Test images larger than `test_max_side` are scored at a smaller size, the same for every method.

Why: I-HAZE and O-HAZE ship multi-megapixel photographs. A paper-scale ResNet generator needs about
1.7 GB of memory per megapixel to dehaze one (docs/benchmarks.md), so full-size inference fails on common
GPUs and takes minutes per image on a CPU, and papers that test on these sets often shrink them first.
Shrinking once here, into PNG copies the manifest points at, gives every method (a `command:` program
included, which reads the staged copies) and every metric the same pixels; the originals are never
modified, as with SOTS-indoor's cropped ground truth (`crop.py`).
"""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from cddgan.io import read_image, write_image

RESIZE_FOLDER = "test_resized"
# What the report and the sidecar say was done; torch's antialiased bicubic follows PIL's BICUBIC resize.
RESIZE_FILTER = "bicubic with antialiasing (torch.nn.functional.interpolate), 8-bit PNG"


def fit_within(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is `max_side`, aspect ratio kept; unchanged if it fits."""
    longer = max(width, height)
    if longer <= max_side:
        return width, height
    scale = max_side / longer
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_image(path: Path, size: tuple[int, int]) -> np.ndarray:
    """The image at `path` resampled to `size` (width, height), as float HxWx3 in [0, 1]."""
    import torch  # here: the adapters are imported while Snakemake parses the workflow, which needs no torch
    import torch.nn.functional as F

    image = torch.from_numpy(read_image(path)).permute(2, 0, 1)[None]
    width, height = size
    out = F.interpolate(image, size=(height, width), mode="bicubic", antialias=True, align_corners=False)
    return out.clamp(0.0, 1.0)[0].permute(1, 2, 0).numpy()


def resize_test_images(
    rows: list[dict[str, Any]],
    sizes: dict[Path, tuple[int, int]],
    out_dir: Path,
    max_side: int | None,
    progress: bool = True,
) -> dict[str, Any]:
    """Shrink every test image whose longer side exceeds `max_side`; None leaves the test split alone.

    A hazy image and its ground truth have equal sizes by now (`check_pair_sizes`), so both get the same
    new size. Updates `rows` (paths) and `sizes` in place and returns what was done for the sidecar.
    Copies of an earlier setting are removed first: the folder holds exactly what this manifest uses.
    """
    folder = out_dir / RESIZE_FOLDER
    if folder.exists():
        shutil.rmtree(folder)
    if max_side is None:
        return {}
    todo = []  # (row, its size, its new size) of every test image larger than the limit
    for r in (r for r in rows if r["split"] == "test"):
        old = sizes[Path(r["path"])]
        new = fit_within(*old, max_side)
        if new != old:
            todo.append((r, old, new))
    done: Counter[str] = Counter()
    for r, (width, height), new in tqdm(
        todo, desc="resize test images", file=sys.stderr, disable=not progress or not todo
    ):
        source = Path(r["path"])
        target = folder / r["domain"] / f"{r['image_id']}.png"
        write_image(target, resize_image(source, new))
        r["path"] = str(target)
        sizes[target] = new
        done[f"{width}x{height}->{new[0]}x{new[1]}"] += 1
    return {
        "test_resized": {
            "max_side": max_side,
            "count": sum(done.values()),
            "folder": RESIZE_FOLDER,
            "filter": RESIZE_FILTER,
            "sizes": dict(done),
        }
    }
