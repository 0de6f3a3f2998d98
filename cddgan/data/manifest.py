"""The common manifest every dataset becomes: one CSV row per image, plus a JSON sidecar of counts.

Columns (all strings in the CSV; numbers empty where unknown):

- ``dataset``: the dataset's name in the config;
- ``split``: ``train``, ``test`` or ``val`` (the validation split: paired like ``test``, of scenes that appear
  in neither training nor test; what the training loop scores while it trains, never the test set);
- ``domain``: ``hazy`` or ``clear``;
- ``image_id``: unique within (split, domain); also the output file stem of a dehazed test image;
- ``pair_id``: links a test (or val) hazy image to its clear ground truth (several hazy rows may share one
  clear row, as in SOTS); empty on the unpaired training split and for sets without ground truth;
- ``scene_id``: the scene the image shows (training splits are made scene-disjoint with it);
- ``path``: relative to the manifest's folder when inside it, absolute otherwise;
- ``beta``, ``airlight``: haze parameters where known (synthetic data, RESIDE file names);
- ``depth``: path of a depth map where known.

The sidecar ``manifest.json`` holds counts per split and domain, the adapter, the layout it recognised, any
conversion warnings (and every converted file, ``conversions``), what was cropped or shrunk (``gt_cropped``,
``test_resized``), how the val split was made or why there is none (``val``), and the largest and total
megapixels of the hazy test images (``test_megapixels``, which sizes the dehaze and evaluate jobs); the
report shows it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cddgan.errors import DatasetError
from cddgan.io import atomic_path, write_text

COLUMNS = ["dataset", "split", "domain", "image_id", "pair_id", "scene_id", "path", "beta", "airlight", "depth"]
SPLITS = ("train", "test", "val")
# The splits whose hazy rows point at ground truth by pair_id.
PAIRED_SPLITS = ("test", "val")
DOMAINS = ("hazy", "clear")


@dataclass
class ManifestInfo:
    """What the sidecar JSON records about how a manifest was made."""

    dataset: str
    adapter: str
    layout: str = ""
    root: str = ""
    warnings: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def sidecar_path(manifest_path: str | os.PathLike) -> Path:
    """The JSON sidecar that sits beside a manifest CSV."""
    return Path(manifest_path).with_suffix(".json")


def counts(frame: pd.DataFrame) -> dict[str, int]:
    """Image counts per split and domain, e.g. ``{"train/hazy": 200, ..., "val/clear": 16}``."""
    result: dict[str, int] = {}
    for split in SPLITS:
        for domain in DOMAINS:
            result[f"{split}/{domain}"] = int(((frame["split"] == split) & (frame["domain"] == domain)).sum())
    return result


def write_manifest(frame: pd.DataFrame, path: str | os.PathLike, info: ManifestInfo) -> None:
    """Validate and write the manifest CSV and its JSON sidecar, both atomically.

    Paths inside the manifest's folder are stored relative to it, so a results folder can be moved.
    """
    path = Path(path)
    frame = frame.copy()
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    frame = frame[COLUMNS]
    validate_frame(frame, path)
    base = path.parent.resolve()

    def relative(p: str) -> str:
        if not p:
            return p
        absolute = Path(p).resolve()
        try:
            return str(absolute.relative_to(base))
        except ValueError:
            return str(absolute)

    frame["path"] = frame["path"].astype(str).map(relative)
    frame["depth"] = frame["depth"].fillna("").astype(str).map(relative)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    meta = {
        "dataset": info.dataset,
        "adapter": info.adapter,
        "layout": info.layout,
        "root": info.root,
        "counts": counts(frame),
        "warnings": info.warnings,
        **info.extra,
    }
    write_text(sidecar_path(path), json.dumps(meta, indent=2) + "\n")


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read a manifest with paths made absolute. Raises `DatasetError` naming the file when malformed."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: manifest not found; run `cddgan make-data` (or the `data` rule) first")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(f"{path}: manifest lacks columns {missing}; regenerate it with `cddgan make-data`")
    base = path.parent.resolve()
    frame["path"] = frame["path"].map(lambda p: str((base / p).resolve()) if p else p)
    frame["depth"] = frame["depth"].map(lambda p: str((base / p).resolve()) if p else p)
    validate_frame(frame, path)
    return frame


def validate_frame(frame: pd.DataFrame, path: Path) -> None:
    """Check the invariants every stage relies on."""
    bad_split = sorted(set(frame["split"]) - set(SPLITS))
    bad_domain = sorted(set(frame["domain"]) - set(DOMAINS))
    if bad_split or bad_domain:
        raise DatasetError(f"{path}: unknown split {bad_split} or domain {bad_domain} in manifest")
    dup = frame.duplicated(["split", "domain", "image_id"])
    if dup.any():
        ids = frame.loc[dup, "image_id"].head(10).tolist()
        raise DatasetError(f"{path}: duplicate image_id within a split and domain: {ids}")
    for split in PAIRED_SPLITS:
        part = frame[frame["split"] == split]
        clear_ids = set(part.loc[part["domain"] == "clear", "pair_id"])
        hazy_pairs = part.loc[(part["domain"] == "hazy") & (part["pair_id"] != ""), "pair_id"]
        orphans = sorted(set(hazy_pairs) - clear_ids)
        if orphans:
            raise DatasetError(
                f"{path}: {split} hazy images point to missing ground truth pair_id {orphans[:10]}"
            )


def _pairs(frame: pd.DataFrame, split: str) -> pd.DataFrame:
    part = frame[frame["split"] == split]
    hazy = part[part["domain"] == "hazy"].copy()
    clear = part[part["domain"] == "clear"][["pair_id", "path"]].rename(columns={"path": "clear_path"})
    clear = clear.drop_duplicates("pair_id")
    merged = hazy.merge(clear, on="pair_id", how="left")
    merged["clear_path"] = merged["clear_path"].fillna("")
    merged.loc[merged["pair_id"] == "", "clear_path"] = ""
    return merged.reset_index(drop=True)


def test_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """Test hazy rows joined with their ground-truth path (``clear_path`` empty where there is none)."""
    return _pairs(frame, "test")


def val_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """Validation hazy rows joined with their ground-truth path, in manifest order (the same columns as
    `test_pairs`); empty where the dataset has no val split (a test-only set, or unpaired training data
    without ground truth: the sidecar's ``val`` says why)."""
    return _pairs(frame, "val")
