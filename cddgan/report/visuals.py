"""Visual comparisons: which test images to show, copied (downscaled) into the report, with zoomed crops.

Images go through `cddgan.io.read_image`/`write_image` and Pillow for resizing; the report folder gets
its own copies so it stays self-contained when zipped. Large images are downscaled to 512 px on the long
side for the grid; the zoomed crops are cut from the full-resolution image first, so they show real detail.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from cddgan import plan
from cddgan.data.manifest import read_manifest, test_pairs
from cddgan.errors import HarnessError
from cddgan.io import read_image, write_image
from cddgan.layout import Layout, report_link
from cddgan.report.tables import slug

MAX_SIDE = 512
CROP_SIDE = 160
WIDE_GRID = 7  # from this many columns the grid is wider than the page and scrolls inside its box


@dataclass
class Tile:
    """One image of the grid: its file in the report, its zoomed crop, a label and its PSNR text."""

    label: str
    src: str
    crop: str
    psnr: str = ""


@dataclass
class VisualRow:
    """One test image across the columns; `zoom_box` outlines the crop on it (left/top/width/height in %)."""

    image_id: str
    tiles: list[Tile]
    zoom_box: dict[str, float] = field(default_factory=dict)


@dataclass
class VisualSet:
    """The grid of one (experiment, test set), plus the before/after pair for the slider."""

    id: str
    columns: list[str]
    rows: list[VisualRow] = field(default_factory=list)
    slider: dict[str, str] | None = None
    notes: list[str] = field(default_factory=list)


def pick_images(image_ids: Sequence[str], count: int) -> list[str]:
    """`count` ids spread evenly over the sorted test set (first and last included), so the grid is not
    just the first few scenes."""
    ids = sorted(image_ids)
    if count <= 0 or not ids:
        return []
    if count >= len(ids):
        return ids
    positions = np.linspace(0, len(ids) - 1, count).round().astype(int)
    return [ids[i] for i in dict.fromkeys(positions.tolist())]


def zoom_box(zoom: Sequence[float], height: int, width: int) -> tuple[int, int, int]:
    """(top, left, side) in pixels of the square crop centred at (cx, cy), side = size x shorter side.

    The centre moves inwards where the square would leave the image.
    """
    if len(zoom) != 3:
        raise HarnessError(f"report.zoom: expected [centre x, centre y, size] as fractions, got {list(zoom)}")
    cx, cy, size = (float(v) for v in zoom)
    if not (0 <= cx <= 1 and 0 <= cy <= 1 and 0 < size <= 1):
        raise HarnessError(f"report.zoom: {list(zoom)} must be fractions in [0, 1] with size > 0")
    side = max(1, round(size * min(height, width)))
    left = min(max(0, round(cx * width - side / 2)), width - side)
    top = min(max(0, round(cy * height - side / 2)), height - side)
    return top, left, side


def psnr(pred: np.ndarray, gt: np.ndarray, protocol: object) -> float:
    """The tables' PSNR (`cddgan.metrics.psnr`, piq, under the test set's protocol), for a tile whose value
    no metric file holds: the hazy input when the config has no reference run."""
    from cddgan.metrics import Protocol
    from cddgan.metrics import psnr as metric_psnr

    return metric_psnr(pred, gt, Protocol.from_config(protocol))


def downscale(image: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    pil = Image.fromarray(np.clip(np.rint(image * 255), 0, 255).astype(np.uint8))
    pil = pil.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    return np.asarray(pil, dtype=np.float32) / 255.0


def _crop(image: np.ndarray, zoom: Sequence[float]) -> np.ndarray:
    """The zoom region, enlarged with nearest-neighbour so pixels stay visible as pixels."""
    top, left, side = zoom_box(zoom, *image.shape[:2])
    crop = image[top : top + side, left : left + side]
    factor = max(1, CROP_SIDE // side)
    return np.repeat(np.repeat(crop, factor, axis=0), factor, axis=1)


def _copy(image: np.ndarray, zoom: Sequence[float], layout: Layout, name: str) -> tuple[str, str]:
    """Write the image (downscaled) and its zoomed crop into the report; return their links."""
    links = report_link("images", f"{name}.png"), report_link("images", f"{name}-zoom.png")
    write_image(layout.report_file("images", f"{name}.png"), downscale(image))
    write_image(layout.report_file("images", f"{name}-zoom.png"), _crop(image, zoom))
    return links


def _first_seed_with_output(layout: Layout, experiment: str, run: str, seeds: Sequence[int], dataset: str,
                            image_id: str, failed: set[tuple[str, int]]) -> int | None:
    for seed in seeds:
        if (run, int(seed)) in failed:
            continue
        if Path(layout.output_image(experiment, run, int(seed), dataset, image_id)).is_file():
            return int(seed)
    return None


def visual_set(
    config: Mapping,
    layout: Layout,
    experiment: str,
    dataset: str,
    runs: Sequence[str],
    rows: pd.DataFrame,
    failures: pd.DataFrame,
    slider_run: str | None = None,
    hazy_run: str | None = None,
) -> VisualSet | None:
    """Copy the grid's images into the report's images/ and describe the grid; None without a manifest.

    Columns: the hazy input, each of `runs` (its first seed that did not fail and has outputs), the
    ground truth where the test set has one. Tiles carry the per-image PSNR from the metric table (for the
    hazy input: that of `hazy_run`, the reference floor, when given), else computed here the same way.
    """
    path = Path(layout.manifest(dataset))
    if not path.is_file():
        return None
    pairs = test_pairs(read_manifest(path)).drop_duplicates("image_id").set_index("image_id")
    report_cfg = config.get("report", {}) or {}
    zoom = list(report_cfg.get("zoom", [0.5, 0.5, 0.25]))
    chosen = pick_images(list(pairs.index), int(report_cfg.get("visual_images", 4)))
    if not chosen:
        return None
    failed = {(r.run, int(r.seed)) for r in failures.itertuples() if r.experiment == experiment}
    runs_cfg = config.get("runs", {})
    label = {run: plan.label(config, run) for run in runs}
    protocol = config.get("datasets", {}).get(dataset, {}).get("protocol")
    has_gt = any(pairs.loc[i, "clear_path"] for i in chosen)
    vset = VisualSet(id=slug("visual", experiment, dataset),
                     columns=["Hazy input", *[label[r] for r in runs], *(["Ground truth"] if has_gt else [])])
    psnr_of = _psnr_lookup(rows, experiment, dataset)
    for image_id in chosen:
        hazy = read_image(pairs.loc[image_id, "path"])
        gt_path = pairs.loc[image_id, "clear_path"]
        gt = read_image(gt_path) if gt_path else None
        base = (experiment, dataset, image_id)
        src, crop = _copy(hazy, zoom, layout, _name(base, "hazy"))
        hazy_psnr = next((v for (r, _, i), v in psnr_of.items() if r == hazy_run and i == image_id), None)
        if hazy_psnr is None and gt is not None and gt.shape == hazy.shape:
            hazy_psnr = psnr(hazy, gt, protocol)
        tiles = [Tile("Hazy input", src, crop, _fmt_psnr(hazy_psnr))]
        for run in runs:
            seed = _first_seed_with_output(layout, experiment, run, runs_cfg.get(run, {}).get("seeds", [0]),
                                           dataset, image_id, failed)
            if seed is None:
                tiles.append(Tile(label[run], "", "", "no output"))
                continue
            out = read_image(layout.output_image(experiment, run, seed, dataset, image_id))
            src, crop = _copy(out, zoom, layout, _name(base, run, f"seed{seed}"))
            value = psnr_of.get((run, seed, image_id))
            if value is None and gt is not None and gt.shape == out.shape:
                value = psnr(out, gt, protocol)
            tiles.append(Tile(f"{label[run]} (seed {seed})", src, crop, _fmt_psnr(value)))
        if gt is not None:
            src, crop = _copy(gt, zoom, layout, _name(base, "gt"))
            tiles.append(Tile("Ground truth", src, crop, ""))
        elif has_gt:
            tiles.append(Tile("Ground truth", "", "", "none"))
        h, w = hazy.shape[:2]
        top, left, side = zoom_box(zoom, h, w)
        box = {"left": 100 * left / w, "top": 100 * top / h, "width": 100 * side / w, "height": 100 * side / h}
        vset.rows.append(VisualRow(image_id, tiles, box))
    vset.slider = _slider(vset, label.get(slider_run or "", ""))
    if has_gt:
        vset.notes.append("PSNR in dB against the ground truth, from the metric files (same protocol as the "
                          "tables).")
    vset.notes.append("Under each image: the zoomed region outlined on the hazy input.")
    if len(vset.columns) >= WIDE_GRID:
        vset.notes.append(f"{len(vset.columns)} columns: scroll the grid sideways to see them all.")
    return vset


def _name(base: tuple[str, str, str], *parts: str) -> str:
    """The file stem of one copied image: its test set, image and column, as one slug."""
    return slug(*base, *parts)


def _slider(vset: VisualSet, run_label: str) -> dict[str, str] | None:
    """Before (hazy) and after (`run_label`'s output, else the last method with an output) of the first row."""
    if not vset.rows:
        return None
    tiles = vset.rows[0].tiles
    methods = [t for t in tiles[1:] if t.src and t.label != "Ground truth"]
    preferred = [t for t in methods if run_label and t.label.startswith(run_label)]
    after = (preferred or methods[-1:] or [None])[0]
    if after is None:
        return None
    return {"before": tiles[0].src, "after": after.src, "before_label": "Hazy input", "after_label": after.label,
            "image_id": vset.rows[0].image_id}


def _psnr_lookup(rows: pd.DataFrame, experiment: str, dataset: str) -> dict[tuple[str, int, str], float]:
    if rows.empty or "psnr" not in rows.columns:
        return {}
    sub = rows[(rows["experiment"] == experiment) & (rows["dataset"] == dataset)]
    return {(r.run, int(r.seed), str(r.image_id)): float(r.psnr) for r in sub.itertuples()}


def _fmt_psnr(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return "PSNR ∞" if math.isinf(value) else f"PSNR {value:.2f} dB"
