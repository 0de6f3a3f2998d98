"""Sets with real haze: HSTS (RESIDE's hybrid test set) and RTTS (real hazy photos, VOC layout, no GT).

Images without ground truth become test hazy rows with an empty pair_id: the evaluate stage scores them
with no-reference metrics only.
"""

from __future__ import annotations

from cddgan.data.adapters.base import Context, Found, row
from cddgan.data.adapters.scan import by_stem, child_dir, layout_error, list_images, require_images
from cddgan.data.adapters.validate import check_orphans

HSTS_KEYS = frozenset({"subset"})
REAL_NAMES = ("real-world", "real_world", "realworld", "real")


def _unpaired_test(paths: list) -> list[dict]:
    return [row("test", "hazy", p.stem, p, scene_id=p.stem) for p in paths]


def find_hsts(ctx: Context) -> Found:
    """HSTS: `synthetic/synthetic/*.jpg` paired by name with `synthetic/original/*.jpg` (subset 'synthetic',
    the default), or `real-world/*` without ground truth (subset 'real').
    """
    subset = ctx.choice("subset", ("synthetic", "real"), "synthetic")
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
