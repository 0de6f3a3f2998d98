"""The validation split of a real dataset: a seeded, scene-disjoint carve-out of its training scenes.

Where a published layout has no validation split (RESIDE ITS/OTS, a paired training folder), the shared
build pipeline moves `floor(val_fraction x scenes)` training scenes, at most `val_max`, chosen with
`val_seed`, into the split ``val``: one hazy image per scene (also chosen with the seed) with its ground
truth, paired by ``pair_id`` like the test split. Every image of a val scene leaves training, the scene's
other hazy versions included, so no method ever trains on a scene it is validated on; test sets are other
datasets (or the dataset's own test split) and are never touched. For RESIDE ITS/OTS the carve-out runs
before the unpaired split, on the paired scenes, so that the val pairs keep their ground truth.

No val split, and the sidecar's ``val.reason`` says why, when: the dataset has no training split (SOTS,
HSTS, RTTS, I-HAZE, O-HAZE as test sets; validation comes from the training dataset), the training images
have no ground truth (unpaired-folders: a val split could not be scored), `val_fraction` or `val_max` is 0,
or the fraction of the scenes rounds down to none.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from cddgan.data.adapters.base import Context
from cddgan.data.adapters.scan import natural_key
from cddgan.errors import ConfigError

VAL_KEYS = frozenset({"val_fraction", "val_max", "val_seed"})
VAL_FRACTION = 0.05
VAL_MAX = 50
VAL_SEED = 0
HOW = (
    "seeded, scene-disjoint carve-out of the training scenes: floor(val_fraction x scenes), at most val_max; "
    "one hazy image per scene (seeded) with its ground truth; every image of a val scene leaves training"
)


def val_settings(ctx: Context) -> tuple[float, int | None, int]:
    """(fraction, cap or None, seed) from the spec, each checked with the key named."""
    fraction = ctx.spec.get("val_fraction", VAL_FRACTION)
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, numbers.Real)
        or not math.isfinite(float(fraction))
        or not 0.0 <= float(fraction) < 1.0
    ):
        raise ConfigError(
            f"{ctx.key('val_fraction')}: expected a number in [0, 1) (the share of training scenes that "
            f"becomes the val split; 0 switches it off), got {fraction!r}"
        )
    cap = ctx.optional_int("val_max", VAL_MAX, minimum=0)
    seed = ctx.optional_int("val_seed", VAL_SEED, minimum=0)
    return float(fraction), cap, int(seed or 0)


def _scene(r: dict[str, Any]) -> str:
    return r["scene_id"] or r["pair_id"]


def carve_validation(
    ctx: Context, rows: list[dict[str, Any]], keep: int = 1
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows with the val split carved out of the training rows, and the sidecar's ``val`` record.

    A training scene can go to val when it has a clear image and a hazy image with the same ``pair_id``.
    At least `keep` eligible scenes stay in training (2 where the unpaired split follows). Rows of other
    splits pass through unchanged; the order of `rows` is kept.
    """
    fraction, cap, seed = val_settings(ctx)
    settings = {"val_fraction": fraction, "val_max": cap, "val_seed": seed}
    train = [r for r in rows if r["split"] == "train"]
    if not train:
        return rows, {"pairs": 0, **settings, "reason": "test-only dataset: no training split to carve a "
                      "validation split from (validation comes from the training dataset)"}
    clear_ids: dict[str, set[str]] = {}
    hazy_by_scene: dict[str, list[dict[str, Any]]] = {}
    for r in train:
        if r["pair_id"] and r["domain"] == "clear":
            clear_ids.setdefault(_scene(r), set()).add(r["pair_id"])
    for r in train:
        if r["pair_id"] and r["domain"] == "hazy" and r["pair_id"] in clear_ids.get(_scene(r), ()):
            hazy_by_scene.setdefault(_scene(r), []).append(r)
    eligible = sorted(hazy_by_scene, key=natural_key)
    if not eligible:
        return rows, {"pairs": 0, **settings, "reason": "the training images have no ground truth (unpaired "
                      "training data): a validation split could not be scored"}
    if fraction == 0 or cap == 0:
        key = "val_fraction" if fraction == 0 else "val_max"
        return rows, {"pairs": 0, **settings, "reason": f"switched off ({ctx.key(key)}: 0)"}
    count = math.floor(fraction * len(eligible))
    if cap is not None:
        count = min(count, cap)
    count = max(0, min(count, len(eligible) - keep))
    if count == 0:
        return rows, {"pairs": 0, **settings, "scenes_available": len(eligible), "reason": (
            f"{ctx.key('val_fraction')}: {fraction:g} of {len(eligible)} training scenes rounds down to none "
            f"(at least {keep} must stay in training)")}
    scene_rng, hazy_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    chosen = sorted((eligible[i] for i in scene_rng.permutation(len(eligible))[:count]), key=natural_key)
    val_scenes = set(chosen)
    picked: dict[int, str] = {}  # id(row) -> its new split, for the rows that go to val
    for scene in chosen:
        candidates = sorted(hazy_by_scene[scene], key=lambda r: natural_key(r["image_id"]))
        hazy = candidates[int(hazy_rng.integers(len(candidates)))]
        picked[id(hazy)] = hazy["pair_id"]
    val_pairs = set(picked.values())
    out: list[dict[str, Any]] = []
    removed = {"clear": 0, "hazy": 0}
    for r in rows:
        if r["split"] != "train" or _scene(r) not in val_scenes:
            out.append(r)
            continue
        removed[r["domain"]] += 1
        if id(r) in picked or (r["domain"] == "clear" and (r["pair_id"]) in val_pairs):
            out.append({**r, "split": "val"})
    return out, {
        "pairs": count,
        **settings,
        "scenes": chosen,
        "scenes_available": len(eligible),
        "removed_from_training": removed,
        "how": HOW,
    }
