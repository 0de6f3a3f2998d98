"""Sets with real haze: HSTS (RESIDE's hybrid test set) and RTTS (real hazy photos, VOC layout, no GT).

Images without ground truth become test hazy rows with an empty pair_id: the evaluate stage scores them
with no-reference metrics only.
"""

from __future__ import annotations

from cddgan.data.adapters.base import Adapter, Context, Example, Found, Option, row
from cddgan.data.adapters.scan import by_stem, child_dir, layout_error, list_images, require_images
from cddgan.data.adapters.validate import check_orphans

SUBSETS = ("synthetic", "real")  # the first is the default
HSTS_OPTIONS = (
    Option(
        "subset",
        "`synthetic` or `real`",
        f"`{SUBSETS[0]}`",
        "synthetic: the synthetic hazy images, each paired with its clear original (full-reference metrics); "
        "real: the real-world hazy photographs, which have no ground truth (no-reference metrics only).",
    ),
)
HSTS_KEYS = frozenset(o.key for o in HSTS_OPTIONS)
REAL_NAMES = ("real-world", "real_world", "realworld", "real")


def _unpaired_test(paths: list) -> list[dict]:
    return [row("test", "hazy", p.stem, p, scene_id=p.stem) for p in paths]


def find_hsts(ctx: Context) -> Found:
    """HSTS: `synthetic/synthetic/*.jpg` paired by name with `synthetic/original/*.jpg` (subset 'synthetic',
    the default), or `real-world/*` without ground truth (subset 'real').
    """
    subset = ctx.choice("subset", SUBSETS, SUBSETS[0])
    expected = [
        "synthetic/synthetic/*.jpg + synthetic/original/*.jpg (root = the HSTS folder)",
        "synthetic/*.jpg + original/*.jpg (root = the outer synthetic folder)",
        "real-world/* (subset: real)",
    ]
    if subset == "real":
        real = child_dir(ctx.root, *REAL_NAMES)
        if real is None:
            raise layout_error(ctx, "hsts (subset real)", expected[2:])
        paths = require_images(list_images(real), real)
        by_stem(paths, str(real))
        return Found(_unpaired_test(paths), f"{real.name}/", extra={"subset": subset})
    base, prefix = ctx.root, ""
    outer = child_dir(ctx.root, "synthetic")
    if outer is not None and child_dir(outer, "original") is not None:
        base, prefix = outer, f"{outer.name}/"
    hazy_dir, clear_dir = child_dir(base, "synthetic"), child_dir(base, "original")
    if hazy_dir is None or clear_dir is None:
        raise layout_error(ctx, "hsts", expected)
    hazy = by_stem(require_images(list_images(hazy_dir), hazy_dir), str(hazy_dir))
    clear = by_stem(require_images(list_images(clear_dir), clear_dir), str(clear_dir))
    check_orphans(
        str(base),
        [p for s, p in hazy.items() if s not in clear],
        [p for s, p in clear.items() if s not in hazy],
    )
    rows = [row("test", "hazy", s, p, s, s) for s, p in hazy.items()]
    rows += [row("test", "clear", s, p, s, s) for s, p in clear.items()]
    layout = f"{prefix}{{{hazy_dir.name},{clear_dir.name}}}/"
    return Found(rows, layout, extra={"subset": subset})


def find_rtts(ctx: Context) -> Found:
    """RTTS: VOC layout, `JPEGImages/*.png` (or .jpg); annotations are not used."""
    folder = child_dir(ctx.root, "JPEGImages")
    if folder is None:
        raise layout_error(ctx, "rtts", ["JPEGImages/*.png (VOC layout; .jpg accepted)"])
    paths = require_images(list_images(folder), folder)
    by_stem(paths, str(folder))
    return Found(_unpaired_test(paths), f"{folder.name}/")


HSTS = Adapter(
    "hsts",
    find_hsts,
    HSTS_KEYS,
    "synthetic/ and real-world/ of HSTS",
    source=(
        "RESIDE's HSTS (Hybrid Subjective Testing Set, part of RESIDE-Standard): 10 synthetic outdoor hazy "
        "images with their clear originals and 10 real-world hazy photographs. Li et al., \"Benchmarking "
        "Single-Image Dehazing and Beyond\", IEEE TIP 28(1), 2019; "
        "<https://sites.google.com/view/reside-dehaze-datasets>."
    ),
    tree=(
        "synthetic/  root may also be this outer synthetic/ folder",
        "synthetic/synthetic/  hazy images",
        "synthetic/synthetic/0586.jpg",
        "synthetic/synthetic/0623.jpg",
        "synthetic/synthetic/...",
        "synthetic/original/  their clear originals, with the same names",
        "synthetic/original/0586.jpg",
        "synthetic/original/0623.jpg",
        "synthetic/original/...",
        "real-world/  subset real; also real_world/, realworld/ or real/ (any case)",
        "real-world/1.jpg",
        "real-world/2.jpg",
        "real-world/...",
    ),
    options=HSTS_OPTIONS,
    examples=(
        Example("hsts", {"adapter": "hsts", "root": "data/RESIDE/HSTS", "subset": "synthetic"}, ("test",),
                "the synthetic pairs: PSNR, SSIM, CIEDE2000 and FADE"),
        Example("hsts-real", {"adapter": "hsts", "root": "data/RESIDE/HSTS", "subset": "real"}, ("test",),
                "the real-world photographs: FADE only (no ground truth)"),
    ),
)
RTTS = Adapter(
    "rtts",
    find_rtts,
    frozenset(),
    "JPEGImages/ of RTTS",
    source=(
        "RESIDE's RTTS (Real-world Task-driven Testing Set, part of RESIDE-β): 4,322 real hazy photographs "
        "with object boxes in Pascal VOC layout; no ground truth, so only the no-reference metrics (FADE) "
        "score it. Li et al., IEEE TIP 2019; <https://sites.google.com/view/reside-dehaze-datasets>."
    ),
    tree=(
        "JPEGImages/  any case",
        "JPEGImages/AM_Bing_211.png  .jpg accepted too",
        "JPEGImages/AM_Bing_212.png",
        "JPEGImages/...",
        "Annotations/  not read",
        "Annotations/AM_Bing_211.xml",
        "Annotations/...",
    ),
    examples=(Example("rtts", {"adapter": "rtts", "root": "data/RESIDE/RTTS"}, ("test",)),),
)
