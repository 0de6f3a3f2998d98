"""SOTS-indoor's ground truth carries a white border (e.g. 640x480 around a 620x460 hazy image).

Scoring against the bordered image would penalise every method for pixels no hazy input shows, so the
ground truth is centre-cropped to its hazy images' size once, written as PNG copies, and the manifest
points at the copies; the originals are never modified.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from cddgan.io import read_image, write_image

CROP_FOLDER = "gt_cropped"


def centre_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """The central height x width window (an odd margin leaves the extra pixel at the bottom/right)."""
    top = (image.shape[0] - height) // 2
    left = (image.shape[1] - width) // 2
    return image[top : top + height, left : left + width]


def crop_ground_truth(
    rows: list[dict[str, Any]], sizes: dict[Path, tuple[int, int]], out_dir: Path
) -> dict[str, Any]:
    """Crop every test ground truth that is larger than its hazy images in both dimensions.

    Updates `rows` (paths) and `sizes` in place and returns what was done for the sidecar. A ground truth
    smaller than, or not enclosing, its hazy image is left alone: the size check reports it.
    """
    hazy_size: dict[str, tuple[int, int]] = {}
    for r in rows:
        if r["split"] == "test" and r["domain"] == "hazy" and r["pair_id"]:
            hazy_size.setdefault(r["pair_id"], sizes[Path(r["path"])])
    done: Counter[str] = Counter()
    for r in rows:
        if r["split"] != "test" or r["domain"] != "clear" or r["pair_id"] not in hazy_size:
            continue
        source = Path(r["path"])
        (gw, gh), (hw, hh) = sizes[source], hazy_size[r["pair_id"]]
        if (gw, gh) == (hw, hh) or gw < hw or gh < hh:
            continue
        target = out_dir / CROP_FOLDER / f"{r['image_id']}.png"
        write_image(target, centre_crop(read_image(source), hh, hw))
        r["path"] = str(target)
        sizes[target] = (hw, hh)
        done[f"{gw}x{gh}->{hw}x{hh}"] += 1
    return {"gt_cropped": {"count": sum(done.values()), "folder": CROP_FOLDER, "sizes": dict(done)}}
