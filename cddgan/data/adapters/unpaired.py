"""The unpaired training protocol on a paired set (RESIDE ITS/OTS): split by scene, throw pairing away.

Scenes (a clear image and its hazy versions) go either to the clear side or to the hazy side, never both,
so a method can never see a hazy image together with its own clean source. Each random step has its own
generator spawned from `seed`, so e.g. changing `n_clear` leaves the hazy side unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cddgan.data.adapters.base import Context, Found, Option, row
from cddgan.data.adapters.scan import natural_key, natural_sorted
from cddgan.errors import DatasetError

CLEAR_FRACTION = 0.5  # the default share of scenes on the clear side
UNPAIRED_OPTIONS = (
    Option(
        "clear_fraction",
        "number in (0, 1)",
        f"`{CLEAR_FRACTION}`",
        "Share of the scenes (a clear image and its hazy versions) that go to the clear side: their clear "
        "image is trained on and their hazy images are dropped; the other scenes give their hazy images "
        "and drop their clear one. At least one scene goes to each side.",
    ),
    Option(
        "hazy_per_scene",
        "integer ≥ 1 or null",
        "`null`",
        "Keep at most this many hazy images per hazy-side scene (drawn with `seed`); null keeps all of them "
        "(10 per scene in ITS, 35 in OTS).",
    ),
    Option(
        "n_clear",
        "integer ≥ 1 or null",
        "`null`",
        "Keep at most this many clear training images (drawn with `seed`); null keeps all; more than there "
        "are keeps all, with a warning.",
    ),
    Option(
        "n_hazy",
        "integer ≥ 1 or null",
        "`null`",
        "Keep at most this many hazy training images (drawn with `seed`, after `hazy_per_scene`); null keeps "
        "all; more than there are keeps all, with a warning.",
    ),
    Option(
        "seed",
        "integer ≥ 0 or null",
        "`0`",
        "Seed of the scene split and of the draws above, each with a stream of its own (changing `n_clear` "
        "leaves the hazy side as it was); null means 0.",
    ),
)
UNPAIRED_KEYS = frozenset(o.key for o in UNPAIRED_OPTIONS)

HazeParams = Callable[[Path], tuple[float | str, float | str]]


def _pick(rng: np.random.Generator, items: list[Path], cap: int | None) -> list[Path]:
    """A random subset of at most `cap` items, returned in natural order."""
    if cap is None or cap >= len(items):
        return list(items)
    chosen = rng.choice(len(items), size=cap, replace=False)
    return natural_sorted(items[i] for i in chosen)


def unpair(ctx: Context, found: Found) -> Found:
    """`found` with its paired training rows (pair_id = scene_id) replaced by the scene-disjoint unpaired
    split (`split_scenes`), the protocol's counts in ``extra['unpaired']`` and its cap notes as warnings.
    Rows of other splits (the val split carved out before) are kept as they are."""
    train = [r for r in found.rows if r["split"] == "train"]
    clear_by_scene = {r["scene_id"]: Path(r["path"]) for r in train if r["domain"] == "clear"}
    hazy_by_scene: dict[str, list[Path]] = {}
    haze: dict[Path, tuple[float | str, float | str]] = {}
    for r in train:
        if r["domain"] == "hazy":
            hazy_by_scene.setdefault(r["scene_id"], []).append(Path(r["path"]))
            haze[Path(r["path"])] = (r["beta"], r["airlight"])
    rows, extra, notes = split_scenes(ctx, clear_by_scene, hazy_by_scene, haze.__getitem__)
    others = [r for r in found.rows if r["split"] != "train"]
    return Found(
        [*rows, *others], found.layout, [*found.warnings, *notes], {**found.extra, **extra}, found.crop_gt
    )


def split_scenes(
    ctx: Context,
    clear_by_scene: dict[str, Path],
    hazy_by_scene: dict[str, list[Path]],
    haze_params: HazeParams,
) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    """Rows of the scene-disjoint unpaired training split, the protocol's counts, and cap warnings.

    Both mappings must hold the same scenes (orphans are rejected before this is called).
    """
    n_clear = ctx.optional_int("n_clear")
    n_hazy = ctx.optional_int("n_hazy")
    per_scene = ctx.optional_int("hazy_per_scene")
    fraction = ctx.fraction("clear_fraction", CLEAR_FRACTION)
    seed = ctx.optional_int("seed", 0, minimum=0) or 0
    scenes = sorted(clear_by_scene, key=natural_key)
    if len(scenes) < 2:
        raise DatasetError(
            f"{ctx.key('root')}: {ctx.root} holds {len(scenes)} scene(s) with both a clear and a hazy image; "
            "the unpaired split needs at least 2 (one per side)"
        )
    split_rng, clear_rng, hazy_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    order = split_rng.permutation(len(scenes))
    k = min(max(round(fraction * len(scenes)), 1), len(scenes) - 1)
    clear_scenes = sorted((scenes[i] for i in order[:k]), key=natural_key)
    hazy_scenes = sorted((scenes[i] for i in order[k:]), key=natural_key)

    clear_pool = [clear_by_scene[s] for s in clear_scenes]
    hazy_pool: list[Path] = []
    for scene in hazy_scenes:
        hazy_pool.extend(_pick(hazy_rng, natural_sorted(hazy_by_scene[scene]), per_scene))
    clear_used = _pick(clear_rng, clear_pool, n_clear)
    hazy_used = _pick(hazy_rng, hazy_pool, n_hazy)

    notes = []
    for key, cap, available in (("n_clear", n_clear, len(clear_pool)), ("n_hazy", n_hazy, len(hazy_pool))):
        if cap is not None and cap > available:
            notes.append(f"{ctx.key(key)}={cap} but only {available} images on that side; using all of them")

    scene_of = {p: s for s, paths in hazy_by_scene.items() for p in paths}
    scene_of.update({p: s for s, p in clear_by_scene.items()})
    rows = [row("train", "clear", p.stem, p, scene_id=scene_of[p]) for p in clear_used]
    for p in hazy_used:
        beta, airlight = haze_params(p)
        rows.append(row("train", "hazy", p.stem, p, scene_id=scene_of[p], beta=beta, airlight=airlight))
    extra = {
        "unpaired": {
            "protocol": "scene-disjoint split, pairing discarded",
            "seed": seed,
            "clear_fraction": fraction,
            "hazy_per_scene": per_scene,
            "n_clear": n_clear,
            "n_hazy": n_hazy,
            "scenes": len(scenes),
            "clear_scenes": len(clear_scenes),
            "hazy_scenes": len(hazy_scenes),
            "clear_available": len(clear_pool),
            "hazy_available": len(hazy_pool),
            "clear_used": len(clear_used),
            "hazy_used": len(hazy_used),
            "hazy_scenes_used": len({scene_of[p] for p in hazy_used}),
        }
    }
    return rows, extra, notes
