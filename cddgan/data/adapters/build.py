"""The one pipeline every real dataset goes through: spec check, find, val carve-out, unpaired split, limit,
verify, crop, write."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from cddgan.data.adapters.base import VERIFY_MODES, Adapter, Context
from cddgan.data.adapters.crop import crop_ground_truth
from cddgan.data.adapters.decode import colour_warnings, conversions_record, inspect_images, summary_line
from cddgan.data.adapters.registry import ADAPTERS
from cddgan.data.adapters.resize import RESIZE_FOLDER, resize_test_images
from cddgan.data.adapters.scan import natural_key
from cddgan.data.adapters.unpaired import unpair
from cddgan.data.adapters.val import carve_validation
from cddgan.data.adapters.validate import check_pair_sizes, check_scorable
from cddgan.data.manifest import ManifestInfo, counts, write_manifest
from cddgan.errors import ConfigError, DatasetError
from cddgan.protocols import Protocol

# `test_max_side` below this would leave too little for SSIM's 11-px window after a protocol crop.
MIN_TEST_SIDE = 16
_ORDER = {"train": 0, "test": 1, "val": 2, "clear": 0, "hazy": 1}


def build_manifest(name: str, spec: Mapping[str, Any], out_dir: Path, progress: bool = True) -> Path:
    """Write out_dir/'manifest.csv' (+ manifest.json) for dataset `name` from its config `spec`.

    `spec['adapter']` picks the adapter; 'synthetic' delegates to `make_synthetic`. Every image is decoded
    once (`cddgan.data.adapters.decode`) unless the spec says `verify: header`; a progress bar shows it
    when `progress`, and one line on stderr sums up what was checked and converted. Returns the path.
    """
    out_dir = Path(out_dir)
    adapter = _adapter(name, spec)
    if adapter.find is None:
        from cddgan.data.synthetic import make_synthetic

        return make_synthetic(name, spec, out_dir)
    unknown = sorted(set(spec) - set(adapter.allowed_keys))
    if unknown:
        raise ConfigError(
            f"datasets.{name}.{unknown[0]}: unknown key for adapter {adapter.name!r}; "
            f"allowed keys: {', '.join(adapter.allowed_keys)}"
        )
    ctx = Context(name, spec, dataset_root(name, spec, adapter), out_dir)
    limit = ctx.optional_int("limit")
    max_side = ctx.optional_int("test_max_side", minimum=MIN_TEST_SIDE)
    verify = spec.get("verify")
    if verify is not None and verify not in VERIFY_MODES:
        raise ConfigError(
            f"{ctx.key('verify')}: expected one of {list(VERIFY_MODES)} or null, got {verify!r}"
        )

    found = adapter.find(ctx)
    if not found.rows:
        raise DatasetError(f"{ctx.key('root')}: {ctx.root} holds no images for {adapter.name}")
    # The val split first, on the paired scenes: for ITS/OTS before the unpaired split discards the pairing.
    found.rows, val = carve_validation(ctx, found.rows, keep=2 if found.unpaired else 1)
    if found.unpaired:
        found = unpair(ctx, found)
    available = counts(pd.DataFrame(found.rows))
    rows = apply_limit(found.rows, limit)
    paths = list(dict.fromkeys(Path(r["path"]) for r in rows))
    mode = verify or "full"  # every pixel of every image, once per set of files (cached beside the manifest)
    inspection = inspect_images(paths, mode, out_dir, progress=progress)
    sizes = inspection.sizes
    colour = colour_warnings(inspection, paths)
    extra = dict(found.extra)
    if found.crop_gt:
        extra.update(crop_ground_truth(rows, sizes, out_dir))
    check_pair_sizes(pairs(rows), sizes)
    extra.update(resize_test_images(rows, sizes, out_dir, max_side))
    protocol = Protocol.from_config(spec.get("protocol"), ctx.key("protocol"))
    shrunk = frozenset(Path(r["path"]) for r in rows if Path(r["path"]).is_relative_to(out_dir / RESIZE_FOLDER))
    check_scorable(
        pairs([r for r in rows if r["split"] == "test"]), sizes, protocol.crop, ctx.key("protocol"),
        ctx.key("test_max_side"), shrunk,
    )
    extra["test_megapixels"] = test_megapixels(rows, sizes)
    for message in found.warnings:
        warnings.warn(message, stacklevel=2)
    extra.update(verify=mode, decoded=inspection.decoded, limit=limit, available=available)
    extra["conversions"] = conversions_record(inspection, ctx.root)
    extra["val"] = {**val, "counts": {k: v for k, v in counts(pd.DataFrame(rows)).items() if k.startswith("val/")}}
    info = ManifestInfo(name, adapter.name, found.layout, str(ctx.root), [*found.warnings, *colour], extra)
    frame = pd.DataFrame(rows)
    frame.insert(0, "dataset", name)
    path = out_dir / "manifest.csv"
    write_manifest(frame, path, info)
    print(summary_line(name, inspection, extra), file=sys.stderr, flush=True)
    return path


def _adapter(name: str, spec: Mapping[str, Any]) -> Adapter:
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"datasets.{name}: expected a mapping with an 'adapter' key, got {type(spec).__name__}"
        )
    choice = spec.get("adapter")
    if choice not in ADAPTERS:
        raise ConfigError(
            f"datasets.{name}.adapter: {choice!r} is not a known adapter; choose one of {', '.join(ADAPTERS)}"
        )
    return ADAPTERS[choice]


def dataset_root(name: str, spec: Mapping[str, Any], adapter: Adapter) -> Path:
    """The dataset root, resolved; a missing or non-folder root says what it should hold."""
    value = spec.get("root")
    if not isinstance(value, str) or not value:
        raise ConfigError(
            f"datasets.{name}.root: required for adapter {adapter.name!r}; "
            f"set it to the folder that holds {adapter.root_hint}"
        )
    root = Path(value).expanduser().resolve()
    if not root.exists():
        raise DatasetError(
            f"datasets.{name}.root: {root} does not exist; "
            f"point it at the folder that holds {adapter.root_hint}"
        )
    if not root.is_dir():
        raise DatasetError(
            f"datasets.{name}.root: {root} is a file; point it at the folder that holds {adapter.root_hint}"
        )
    return root


def _sort_key(r: dict[str, Any]) -> tuple:
    return (_ORDER[r["split"]], _ORDER[r["domain"]], natural_key(r["image_id"]))


def apply_limit(rows: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """Rows in a fixed order, cut to the first `limit` test hazy images (with their ground truth), the
    first `limit` val hazy images (likewise) and the first `limit` images of each training domain; None
    keeps everything."""
    rows = sorted(rows, key=_sort_key)
    if limit is None:
        return rows
    paired = []
    for split in ("test", "val"):
        hazy = [r for r in rows if r["split"] == split and r["domain"] == "hazy"][:limit]
        kept_pairs = {r["pair_id"] for r in hazy if r["pair_id"]}
        paired += hazy
        paired += [r for r in rows if r["split"] == split and r["domain"] == "clear" and r["pair_id"] in kept_pairs]
    train = [
        r
        for domain in ("clear", "hazy")
        for r in [x for x in rows if x["split"] == "train" and x["domain"] == domain][:limit]
    ]
    return sorted([*train, *paired], key=_sort_key)


def test_megapixels(rows: list[dict[str, Any]], sizes: dict[Path, tuple[int, int]]) -> dict[str, float]:
    """Largest and total megapixels of the hazy test images: what sizes the dehaze and evaluate jobs
    (`cddgan.resources.sized_by_test_images`); zeros for a training-only dataset."""
    megapixels = [
        sizes[Path(r["path"])][0] * sizes[Path(r["path"])][1] / 1e6
        for r in rows
        if r["split"] == "test" and r["domain"] == "hazy"
    ]
    return {"largest": round(max(megapixels, default=0.0), 4), "total": round(sum(megapixels), 4)}


def pairs(rows: list[dict[str, Any]]) -> list[tuple[Path, Path]]:
    """(hazy path, ground-truth path) for every paired row, within each split."""
    clear = {
        (r["split"], r["pair_id"]): Path(r["path"]) for r in rows if r["domain"] == "clear" and r["pair_id"]
    }
    return [
        (Path(r["path"]), clear[(r["split"], r["pair_id"])])
        for r in rows
        if r["domain"] == "hazy" and r["pair_id"] and (r["split"], r["pair_id"]) in clear
    ]
