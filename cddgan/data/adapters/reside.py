"""RESIDE: ITS and OTS (training, made unpaired by scene) and SOTS indoor/outdoor (paired test sets).

Every RESIDE hazy name starts with its clear image's id (`1_1_0.90179.png` -> `1.png`). OTS and
SOTS-outdoor names continue with the airlight and beta used to render them (`0005_0.8_0.04.jpg`: A=0.8,
beta=0.04), so those two columns are filled there. ITS names continue with an index and a third number
whose meaning the distribution does not document, so ITS rows leave beta and airlight empty rather than
guess.
"""

from __future__ import annotations

import re
from pathlib import Path

from cddgan.data.adapters.base import Adapter, Context, Example, Found, row
from cddgan.data.adapters.scan import (
    by_stem,
    child_dir,
    layout_error,
    list_images,
    names,
    natural_key,
    require_images,
)
from cddgan.data.adapters.unpaired import UNPAIRED_KEYS, UNPAIRED_OPTIONS, HazeParams
from cddgan.data.adapters.validate import check_orphans
from cddgan.errors import DatasetError

HAZY_NAMES = ("hazy", "haze")
CLEAR_NAMES = ("clear", "gt")
ITS_NOTE = "not recorded: ITS names are id_index_X and the distribution does not say what X is"
# id, then one or two numeric fields: 1_1_0.90179 (ITS), 0005_0.8_0.04 (OTS, SOTS-outdoor), 1400_1 (SOTS-in)
HAZY_NAME = re.compile(r"[^_\s]+(_\d+(\.\d+)?){1,2}")


def scene_of(path: Path) -> str:
    """The clear image id a RESIDE hazy image was rendered from: the first `_` field of its name."""
    return path.stem.split("_")[0]


def airlight_beta(path: Path) -> tuple[float | str, float | str]:
    """(beta, airlight) from an `id_A_beta` name, or empty strings when the name does not have that form."""
    fields = path.stem.split("_")
    if len(fields) != 3:
        return "", ""
    try:
        airlight, beta = float(fields[1]), float(fields[2])
    except ValueError:
        return "", ""
    return beta, airlight


def no_params(path: Path) -> tuple[str, str]:
    """ITS: the name does not say which haze parameter its third field is."""
    return "", ""


def _tree(ctx: Context, adapter: str, example: str) -> tuple[Path, Path, str]:
    """The hazy and clear/gt folders under the root, and the variant found (e.g. 'hazy/+gt/')."""
    hazy = child_dir(ctx.root, *HAZY_NAMES)
    clear = child_dir(ctx.root, *CLEAR_NAMES)
    if hazy is None or clear is None:
        raise layout_error(ctx, adapter, [f"hazy/ (or haze/) + clear/ or gt/ ({example})"])
    return hazy, clear, f"{hazy.name}/+{clear.name}/"


def _paired(
    hazy_dir: Path, clear_dir: Path, recursive: bool, example: str
) -> tuple[dict[str, list[Path]], dict[str, Path]]:
    """Hazy images grouped by scene and clear images by id, with orphans on either side rejected. A hazy
    name that is not id_number[_number] (a copy such as `1400_1 (1).png`) is refused: it would still
    match its scene's ground truth and be scored twice."""
    hazy = require_images(list_images(hazy_dir, recursive=recursive), hazy_dir)
    odd = [p for p in hazy if not HAZY_NAME.fullmatch(p.stem)]
    if odd:
        raise DatasetError(
            f"{hazy_dir}: {len(odd)} hazy file(s) do not follow the RESIDE naming ({example}): {names(odd)}; "
            "these look like copies or renamed files: remove or rename them"
        )
    clear = by_stem(require_images(list_images(clear_dir), clear_dir), str(clear_dir))
    by_stem(hazy, str(hazy_dir))  # image ids must be unique
    groups: dict[str, list[Path]] = {}
    for path in hazy:
        groups.setdefault(scene_of(path), []).append(path)
    check_orphans(
        str(hazy_dir.parent),
        [p for p in hazy if scene_of(p) not in clear],
        [p for s, p in clear.items() if s not in groups],
    )
    return groups, clear


def _train(ctx: Context, adapter: str, example: str, params: HazeParams, note: str | None) -> Found:
    """A training set read as pairs (pair_id = scene_id = the clear image's id); the build pipeline carves
    the val split out of its scenes, then makes the rest unpaired by scene."""
    hazy_dir, clear_dir, layout = _tree(ctx, adapter, example)
    groups, clear = _paired(hazy_dir, clear_dir, recursive=True, example=example)
    if any(p.parent != hazy_dir for paths in groups.values() for p in paths):
        layout += " (hazy in sub-folders)"
    rows = [row("train", "clear", p.stem, p, scene, scene) for scene, p in clear.items()]
    for scene, paths in groups.items():
        for path in paths:
            beta, airlight = params(path)
            rows.append(row("train", "hazy", path.stem, path, scene, scene, beta, airlight))
    extra = {"haze_params": note} if note else {}
    return Found(rows, layout, extra=extra, unpaired=True)


def find_its(ctx: Context) -> Found:
    """RESIDE ITS: `hazy/1_1_0.90179.png` -> `clear/1.png`; unpaired, scene-disjoint training split."""
    return _train(ctx, "reside-its", "hazy/1_1_0.90179.png -> clear/1.png", no_params, ITS_NOTE)


def find_ots(ctx: Context) -> Found:
    """RESIDE OTS: `hazy/0005_0.8_0.04.jpg` (id_A_beta, sub-folders allowed) -> `clear/0005.jpg`."""
    return _train(ctx, "reside-ots", "hazy/0005_0.8_0.04.jpg -> clear/0005.jpg", airlight_beta, None)


def _test(ctx: Context, adapter: str, example: str, params: HazeParams, crop_gt: bool) -> Found:
    """A paired test set: each hazy image points at its scene's ground truth."""
    hazy_dir, clear_dir, layout = _tree(ctx, adapter, example)
    groups, clear = _paired(hazy_dir, clear_dir, recursive=False, example=example)
    rows = []
    for scene in sorted(groups, key=natural_key):
        for path in groups[scene]:
            beta, airlight = params(path)
            rows.append(row("test", "hazy", path.stem, path, scene, scene, beta, airlight))
    for scene in sorted(clear, key=natural_key):
        rows.append(row("test", "clear", scene, clear[scene], scene, scene))
    return Found(rows, layout, crop_gt=crop_gt)


def find_sots_indoor(ctx: Context) -> Found:
    """SOTS-indoor: `hazy/1400_1.png` -> `gt/1400.png` (or `clear/`); bordered GT is centre-cropped."""
    return _test(ctx, "sots-indoor", "hazy/1400_1.png -> gt/1400.png", no_params, crop_gt=True)


def find_sots_outdoor(ctx: Context) -> Found:
    """SOTS-outdoor: `hazy/0001_0.8_0.2.jpg` (id_A_beta) -> `gt/0001.png` (or `clear/`)."""
    return _test(ctx, "sots-outdoor", "hazy/0001_0.8_0.2.jpg -> gt/0001.png", airlight_beta, crop_gt=False)


_RESIDE = "Li et al., \"Benchmarking Single-Image Dehazing and Beyond\", IEEE TIP 28(1), 2019; " \
    "<https://sites.google.com/view/reside-dehaze-datasets>"
_UNPAIRED = (
    "Read as pairs, then made unpaired by scene (`cddgan.data.adapters.unpaired`): each scene's images go "
    "to the clear side or to the hazy side, never both, so no method sees a hazy image with its own source. "
    "The val split (pairs of scenes that leave training) is carved out first."
)
ITS = Adapter(
    "reside-its",
    find_its,
    UNPAIRED_KEYS,
    "hazy/ (or haze/) and clear/ of RESIDE ITS",
    source=(
        "RESIDE ITS (Indoor Training Set, RESIDE-Standard): 13,990 hazy images rendered from 1,399 clear "
        f"indoor images (NYU Depth V2, Middlebury), 10 per clear image. {_RESIDE}."
    ),
    tree=(
        "hazy/  or haze/ (any case)",
        "hazy/1_1_0.90179.png  <clear id>_<index>_<x> (x is not documented: beta and airlight stay empty)",
        "hazy/1_2_0.97842.png",
        "hazy/2_1_0.80425.png",
        "hazy/...",
        "clear/  or gt/ (any case)",
        "clear/1.png",
        "clear/2.png",
        "clear/...",
    ),
    options=UNPAIRED_OPTIONS,
    examples=(
        Example("its", {"adapter": "reside-its", "root": "data/RESIDE/ITS", "clear_fraction": 0.5, "seed": 0},
                ("train", "val"), "half the scenes on each side; val as val_fraction and val_max say"),
    ),
    notes=_UNPAIRED,
)
OTS = Adapter(
    "reside-ots",
    find_ots,
    UNPAIRED_KEYS,
    "hazy/ (or haze/, sub-folders allowed) and clear/ of RESIDE OTS",
    source=(
        "RESIDE OTS (Outdoor Training Set, RESIDE-β): 313,950 hazy images rendered from 8,970 clear outdoor "
        f"images, 35 per clear image, with its airlight and beta in its name. {_RESIDE}."
    ),
    tree=(
        "hazy/  or haze/ (any case); images may sit in sub-folders",
        "hazy/part1/  e.g. the parts of the download",
        "hazy/part1/0005_0.8_0.04.jpg  <clear id>_<airlight>_<beta>: both recorded in the manifest",
        "hazy/part1/0005_1_0.2.jpg",
        "hazy/part1/0008_0.9_0.08.jpg",
        "hazy/part1/...",
        "clear/  or gt/ (any case)",
        "clear/0005.jpg",
        "clear/0008.jpg",
        "clear/...",
    ),
    options=UNPAIRED_OPTIONS,
    examples=(
        Example("ots", {"adapter": "reside-ots", "root": "data/RESIDE/OTS", "hazy_per_scene": 5, "seed": 0},
                ("train", "val"), "at most 5 of the 35 hazy versions of each hazy-side scene"),
    ),
    notes=_UNPAIRED,
)
SOTS_INDOOR = Adapter(
    "sots-indoor",
    find_sots_indoor,
    frozenset(),
    "hazy/ and gt/ (or clear/) of SOTS indoor",
    source=(
        "RESIDE SOTS indoor (Synthetic Objective Testing Set, RESIDE-Standard): 500 hazy images rendered from "
        f"50 clear indoor images (NYU Depth V2), 10 per clear image. {_RESIDE}."
    ),
    tree=(
        "hazy/  or haze/ (any case)",
        "hazy/1400_1.png  <ground-truth id>_<index>",
        "hazy/1400_2.png",
        "hazy/...",
        "gt/  or clear/ (any case)",
        "gt/1400.png  640x480 with a white border around the 620x460 hazy view: centre-cropped to it",
        "gt/...",
    ),
    examples=(Example("sots-indoor", {"adapter": "sots-indoor", "root": "data/RESIDE/SOTS/indoor"}, ("test",)),),
    notes=(
        "Ground truth larger than its hazy images is centre-cropped to their size once, into PNG copies under "
        "`results/data/<dataset>/gt_cropped/`; the originals are never modified."
    ),
)
SOTS_OUTDOOR = Adapter(
    "sots-outdoor",
    find_sots_outdoor,
    frozenset(),
    "hazy/ and gt/ (or clear/) of SOTS outdoor",
    source=(
        "RESIDE SOTS outdoor (Synthetic Objective Testing Set, RESIDE-Standard): 500 hazy outdoor images, "
        f"each with its clear image. {_RESIDE}."
    ),
    tree=(
        "hazy/  or haze/ (any case)",
        "hazy/0001_0.8_0.2.jpg  <ground-truth id>_<airlight>_<beta>: both recorded in the manifest",
        "hazy/0002_0.8_0.08.jpg",
        "hazy/...",
        "gt/  or clear/ (any case)",
        "gt/0001.png",
        "gt/0002.png",
        "gt/...",
    ),
    examples=(
        Example("sots-outdoor", {"adapter": "sots-outdoor", "root": "data/RESIDE/SOTS/outdoor", "protocol": "rgb"},
                ("test",)),
    ),
)
