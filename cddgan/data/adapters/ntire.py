"""NTIRE paired sets: I-HAZE, O-HAZE (2018), Dense-Haze (2019), NH-HAZE (2020).

Names carry the pair number and the side: `01_indoor_hazy.jpg` / `01_indoor_GT.jpg` (I-HAZE),
`01_outdoor_hazy.JPG` (O-HAZE), `01_hazy.png` / `01_GT.png` (NH-HAZE, Dense-Haze). Images sit in
`hazy/` + `GT/` (any case) or side by side in one folder, either in the root or in the single folder the
archive unpacks to (e.g. `# I-HAZY NTIRE 2018`, whose `#` and spaces are kept as they are).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cddgan.data.adapters.base import Adapter, Context, Example, Found, row
from cddgan.data.adapters.scan import (
    by_stem,
    child_dir,
    layout_error,
    list_images,
    names,
    natural_key,
    preview,
)
from cddgan.data.adapters.validate import check_orphans
from cddgan.errors import DatasetError


@dataclass(frozen=True)
class NtireNames:
    """How one NTIRE set names its files."""

    adapter: str
    pattern: re.Pattern[str]  # group 1: pair number, group 2: 'hazy' or 'gt'
    example: str  # e.g. "01_indoor_hazy.jpg + 01_indoor_GT.jpg"
    archive_folder: str = ""  # the folder the download unpacks to, e.g. "# I-HAZY NTIRE 2018"


def _pattern(tag: str) -> re.Pattern[str]:
    middle = f"_{tag}" if tag else ""
    return re.compile(rf"(\d+){middle}_(hazy|gt)", re.IGNORECASE)


I_HAZE = NtireNames("i-haze", _pattern("indoor"), "01_indoor_hazy.jpg + 01_indoor_GT.jpg", "# I-HAZY NTIRE 2018")
O_HAZE = NtireNames(
    "o-haze", _pattern("outdoor"), "01_outdoor_hazy.jpg + 01_outdoor_GT.jpg", "# O-HAZY NTIRE 2018"
)
NH_HAZE = NtireNames("nh-haze", _pattern(""), "01_hazy.png + 01_GT.png")
DENSE_HAZE = NtireNames("dense-haze", _pattern(""), "01_hazy.png + 01_GT.png")


def _kind(path: Path, spec: NtireNames) -> tuple[str, str] | None:
    """(pair number, 'hazy' | 'gt') from a file name, or None when it does not follow the set's naming."""
    match = spec.pattern.fullmatch(path.stem)
    return (match.group(1), match.group(2).lower()) if match else None


def _sides(folder: Path, spec: NtireNames) -> tuple[list[Path], list[Path], list[Path], str] | None:
    """(hazy, GT, stray, variant) of `folder` in the split (`hazy/`+`GT/`) or flat variant, else None.

    Stray files are images whose name does not follow the set's naming or sits on the wrong side.
    """
    hazy_dir, gt_dir = child_dir(folder, "hazy"), child_dir(folder, "gt")
    if hazy_dir is not None and gt_dir is not None:
        hazy, gt = list_images(hazy_dir), list_images(gt_dir)
        stray = [p for p in hazy if _kind(p, spec) is None or _kind(p, spec)[1] != "hazy"]
        stray += [p for p in gt if _kind(p, spec) is None or _kind(p, spec)[1] != "gt"]
        return hazy, gt, stray, f"{hazy_dir.name}/+{gt_dir.name}/"
    images = list_images(folder)
    kinds = {p: _kind(p, spec) for p in images}
    hazy = [p for p in images if kinds[p] and kinds[p][1] == "hazy"]
    gt = [p for p in images if kinds[p] and kinds[p][1] == "gt"]
    if hazy and gt:
        return hazy, gt, [p for p in images if kinds[p] is None], "flat"
    return None


def _locate(ctx: Context, spec: NtireNames) -> tuple[list[Path], list[Path], list[Path], str]:
    """Search the root, then its sub-folders (one level), for the one folder holding the set."""
    found = _sides(ctx.root, spec)
    if found is not None:
        return found
    hits = []
    for sub in sorted((p for p in ctx.root.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name)):
        inner = _sides(sub, spec)
        if inner is not None:
            hits.append((sub, inner))
    if len(hits) > 1:
        raise DatasetError(
            f"{ctx.key('root')}: several folders under {ctx.root} look like {spec.adapter} "
            f"({', '.join(s.name for s, _ in hits)}); point root at one of them"
        )
    if not hits:
        folder = f" (e.g. '{spec.archive_folder}')" if spec.archive_folder else ""
        error = layout_error(
            ctx,
            spec.adapter,
            [
                f"hazy/ + GT/ holding {spec.example}",
                f"{spec.example} side by side in one folder",
                f"either of these inside one sub-folder of root{folder}",
            ],
        )
        subs = [p for p in sorted(ctx.root.iterdir(), key=lambda p: natural_key(p.name)) if p.is_dir()]
        inside = "; ".join(f"in {s.name}/: {preview(s)}" for s in subs[:3])
        raise DatasetError(f"{error} {inside}".rstrip()) if inside else error
    sub, (hazy, gt, stray, layout) = hits[0]
    return hazy, gt, stray, f"{sub.name}/{layout}"


def find_ntire(ctx: Context, spec: NtireNames) -> Found:
    """Test pairs of an NTIRE set; pair_id is the pair number as written in the name (e.g. '01')."""
    hazy, gt, stray, layout = _locate(ctx, spec)
    if stray:
        raise DatasetError(
            f"{ctx.key('root')}: {len(stray)} file(s) do not follow the {spec.adapter} naming "
            f"({spec.example}): {names(stray)}; rename or remove them"
        )
    by_stem(hazy, f"{ctx.root} (hazy)")
    by_stem(gt, f"{ctx.root} (GT)")
    number = {p: _kind(p, spec)[0] for p in [*hazy, *gt]}
    gt_by_id = {number[p]: p for p in gt}
    if len(gt_by_id) != len(gt):
        raise DatasetError(f"{ctx.root}: two ground-truth files share one pair number: {names(gt)}")
    hazy_ids = {number[p] for p in hazy}
    check_orphans(
        str(ctx.root),
        [p for p in hazy if number[p] not in gt_by_id],
        [p for p in gt if number[p] not in hazy_ids],
    )
    rows = [row("test", "hazy", p.stem, p, number[p], number[p]) for p in hazy]
    rows += [row("test", "clear", p.stem, p, number[p], number[p]) for p in gt]
    return Found(rows, layout)


def find_i_haze(ctx: Context) -> Found:
    """I-HAZE: `# I-HAZY NTIRE 2018/hazy/01_indoor_hazy.jpg` + `GT/01_indoor_GT.jpg`."""
    return find_ntire(ctx, I_HAZE)


def find_o_haze(ctx: Context) -> Found:
    """O-HAZE: `# O-HAZY NTIRE 2018/hazy/01_outdoor_hazy.jpg` + `GT/01_outdoor_GT.jpg` (some `.JPG`)."""
    return find_ntire(ctx, O_HAZE)


def find_nh_haze(ctx: Context) -> Found:
    """NH-HAZE: `01_hazy.png` + `01_GT.png`, flat or in `hazy/` + `GT/`."""
    return find_ntire(ctx, NH_HAZE)


def find_dense_haze(ctx: Context) -> Found:
    """Dense-Haze: `hazy/01_hazy.png` + `GT/01_GT.png` (33 or 55 pairs), flat accepted too."""
    return find_ntire(ctx, DENSE_HAZE)


_FLAT = "or both sides in one folder; or either inside one sub-folder of root"
I_HAZE_ADAPTER = Adapter(
    "i-haze",
    find_i_haze,
    frozenset(),
    "'# I-HAZY NTIRE 2018' (or the folder itself)",
    source=(
        "I-HAZE (NTIRE 2018 dehazing challenge, indoor track): 35 pairs of real indoor photographs with haze "
        "from a haze machine and without, several megapixels each. Ancuti et al., \"I-HAZE: a dehazing "
        "benchmark with real hazy and haze-free indoor images\", ACIVS 2018; "
        "<https://data.vision.ee.ethz.ch/cvl/ntire18//i-haze/>."
    ),
    tree=(
        f"{I_HAZE.archive_folder}/  the folder the archive unpacks to ('#' and spaces as they are); root may "
        "also be this folder",
        f"{I_HAZE.archive_folder}/hazy/  any case",
        f"{I_HAZE.archive_folder}/hazy/01_indoor_hazy.jpg",
        f"{I_HAZE.archive_folder}/hazy/02_indoor_hazy.jpg",
        f"{I_HAZE.archive_folder}/hazy/...",
        f"{I_HAZE.archive_folder}/GT/  any case; {_FLAT}",
        f"{I_HAZE.archive_folder}/GT/01_indoor_GT.jpg",
        f"{I_HAZE.archive_folder}/GT/02_indoor_GT.jpg",
        f"{I_HAZE.archive_folder}/GT/...",
    ),
    examples=(
        Example("i-haze", {"adapter": "i-haze", "root": "data/I-HAZE", "test_max_side": 1024}, ("test",),
                "scored at most 1024 px a side (docs/protocol.md, \"Test image size\"); omit for full size"),
    ),
)
O_HAZE_ADAPTER = Adapter(
    "o-haze",
    find_o_haze,
    frozenset(),
    "'# O-HAZY NTIRE 2018' (or the folder itself)",
    source=(
        "O-HAZE (NTIRE 2018 dehazing challenge, outdoor track): 45 pairs of real outdoor photographs with "
        "haze from a haze machine and without, several megapixels each. Ancuti et al., \"O-HAZE: a dehazing "
        "benchmark with real hazy and haze-free outdoor images\", CVPR Workshops (NTIRE) 2018; "
        "<https://data.vision.ee.ethz.ch/cvl/ntire18//o-haze/>."
    ),
    tree=(
        f"{O_HAZE.archive_folder}/  the folder the archive unpacks to; root may also be this folder",
        f"{O_HAZE.archive_folder}/hazy/  any case",
        f"{O_HAZE.archive_folder}/hazy/01_outdoor_hazy.jpg",
        f"{O_HAZE.archive_folder}/hazy/02_outdoor_hazy.JPG  endings in either case",
        f"{O_HAZE.archive_folder}/hazy/...",
        f"{O_HAZE.archive_folder}/GT/  any case; {_FLAT}",
        f"{O_HAZE.archive_folder}/GT/01_outdoor_GT.jpg",
        f"{O_HAZE.archive_folder}/GT/02_outdoor_GT.JPG",
        f"{O_HAZE.archive_folder}/GT/...",
    ),
    examples=(
        Example("o-haze", {"adapter": "o-haze", "root": "data/O-HAZE", "test_max_side": 1024}, ("test",),
                "scored at most 1024 px a side; omit for full size"),
    ),
)
NH_HAZE_ADAPTER = Adapter(
    "nh-haze",
    find_nh_haze,
    frozenset(),
    "NH-HAZE's *_hazy.png and *_GT.png (flat or hazy/ + GT/)",
    source=(
        "NH-HAZE (NTIRE 2020 non-homogeneous dehazing challenge): 55 pairs of real outdoor photographs with "
        "non-homogeneous haze from a haze machine and without. Ancuti, Ancuti and Timofte, \"NH-HAZE: an "
        "image dehazing benchmark with non-homogeneous hazy and haze-free images\", CVPR Workshops (NTIRE) "
        "2020; <https://data.vision.ee.ethz.ch/cvl/ntire20/nh-haze/> (`NH-HAZE.zip`)."
    ),
    tree=(
        "01_hazy.png",
        "01_GT.png",
        "02_hazy.png",
        "02_GT.png",
        "...  or in hazy/ + GT/ (any case); or inside one sub-folder of root (e.g. NH-HAZE/)",
    ),
    examples=(Example("nh-haze", {"adapter": "nh-haze", "root": "data/NH-HAZE"}, ("test",)),),
)
DENSE_HAZE_ADAPTER = Adapter(
    "dense-haze",
    find_dense_haze,
    frozenset(),
    "hazy/ and GT/ of Dense-Haze",
    source=(
        "Dense-Haze (NTIRE 2019 dehazing challenge): pairs of real outdoor photographs with dense haze from a "
        "haze machine and without: 33 in the paper, 55 in the challenge's release (`Dense_Haze_NTIRE19.zip`). "
        "Ancuti et al., \"Dense-Haze: a benchmark for image dehazing with dense-haze and haze-free images\", "
        "ICIP 2019; <https://data.vision.ee.ethz.ch/cvl/ntire19//dense-haze/>."
    ),
    tree=(
        "hazy/  any case",
        "hazy/01_hazy.png",
        "hazy/02_hazy.png",
        "hazy/...",
        f"GT/  any case; {_FLAT}",
        "GT/01_GT.png",
        "GT/02_GT.png",
        "GT/...",
    ),
    examples=(Example("dense-haze", {"adapter": "dense-haze", "root": "data/Dense-Haze"}, ("test",)),),
)
