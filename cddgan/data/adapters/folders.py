"""Any dataset as two folders: paired (test by default) or unpaired (training).

`paired-folders` pairs a hazy image with the clear image of the same stem, or, with `pair_regex`, with
the clear image whose pair id is equal: the pair id of a file is group 1 of the regex matched at the start
of its stem (`re.match`), e.g. `([^_]+)` pairs `0001_0.8_0.2.png` with `0001.png`. Several hazy images
may share one clear image; two clear images with one pair id are an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from cddgan.data.adapters.base import Adapter, Context, Example, Found, Option, row
from cddgan.data.adapters.scan import by_stem, list_images, names, require_images
from cddgan.data.adapters.validate import check_orphans
from cddgan.errors import ConfigError, DatasetError

HAZY_DIR, CLEAR_DIR = "hazy", "clear"  # the folders' defaults
SPLITS = ("test", "train")  # of paired-folders; the first is the default
FOLDER_OPTIONS = (
    Option("hazy_dir", "non-empty string", f"`{HAZY_DIR}`",
           "Folder of the hazy images, relative to root unless absolute."),
    Option("clear_dir", "non-empty string", f"`{CLEAR_DIR}`",
           "Folder of the clear images, relative to root unless absolute."),
)
PAIRED_OPTIONS = (
    *FOLDER_OPTIONS,
    Option(
        "pair_regex",
        "regular expression with a group",
        "*none: equal stems pair*",
        "Group 1 of this regex, matched at the start of a file's stem, is its pair id; a hazy image pairs "
        "with the clear image of equal pair id, e.g. `([^_]+)` pairs `0001_0.8_0.2.png` with `0001.png`. "
        "Several hazy images may share a clear image; two clear images with one pair id are an error.",
    ),
    Option(
        "split",
        " or ".join(f"`{s}`" for s in SPLITS),
        f"`{SPLITS[0]}`",
        "test: a paired test set; train: paired training images, from whose pairs the val split is carved "
        "(the training loop draws hazy and clear images independently).",
    ),
)
PAIRED_KEYS = frozenset(o.key for o in PAIRED_OPTIONS)
UNPAIRED_KEYS = frozenset(o.key for o in FOLDER_OPTIONS)


def _folder(ctx: Context, key: str, default: str) -> Path:
    folder = ctx.folder(key, default)
    if not folder.is_dir():
        raise DatasetError(
            f"{ctx.key(key)}: {folder} is not a folder; set it to the folder of {key.split('_')[0]} images "
            "(relative to root, or absolute)"
        )
    return folder


def _images(ctx: Context, key: str, default: str) -> tuple[Path, list[Path]]:
    folder = _folder(ctx, key, default)
    paths = require_images(list_images(folder), folder)
    by_stem(paths, str(folder))
    return folder, paths


def _pair_key(ctx: Context) -> tuple[Callable[[str], str | None], str]:
    """stem -> pair id: identity, or group 1 of `pair_regex` (None where the regex does not match)."""
    pattern = ctx.spec.get("pair_regex")
    if pattern is None:
        return lambda stem: stem, "stem"
    try:
        regex = re.compile(ctx.text("pair_regex"))
    except re.error as exc:
        raise ConfigError(
            f"{ctx.key('pair_regex')}: {pattern!r} is not a valid regular expression ({exc})"
        ) from exc
    if regex.groups < 1:
        raise ConfigError(f"{ctx.key('pair_regex')}: {pattern!r} needs a group: group 1 is the pair id")

    def key(stem: str) -> str | None:
        match = regex.match(stem)
        return match.group(1) if match and match.group(1) else None

    return key, f"regex {pattern}"


def find_paired(ctx: Context) -> Found:
    """Pairs across `hazy_dir` and `clear_dir` (defaults 'hazy', 'clear'); split 'test' unless set 'train'."""
    split = ctx.choice("split", SPLITS, SPLITS[0])
    key, how = _pair_key(ctx)
    hazy_dir, hazy = _images(ctx, "hazy_dir", HAZY_DIR)
    clear_dir, clear = _images(ctx, "clear_dir", CLEAR_DIR)
    ids = {p: key(p.stem) for p in [*hazy, *clear]}
    unmatched = [p for p, i in ids.items() if i is None]
    if unmatched:
        raise DatasetError(
            f"{ctx.key('pair_regex')}: {len(unmatched)} file name(s) do not match "
            f"{ctx.spec['pair_regex']!r}: {names(unmatched)}"
        )
    clear_by_id: dict[str, Path] = {}
    for path in clear:
        if ids[path] in clear_by_id:
            raise DatasetError(
                f"{clear_dir}: {clear_by_id[ids[path]]} and {path} have the same pair id {ids[path]!r}; "
                "each clear image needs its own"
            )
        clear_by_id[ids[path]] = path
    hazy_ids = {ids[p] for p in hazy}
    check_orphans(
        f"{hazy_dir} + {clear_dir}",
        [p for p in hazy if ids[p] not in clear_by_id],
        [p for p in clear if ids[p] not in hazy_ids],
    )
    rows = [row(split, "hazy", p.stem, p, ids[p], ids[p]) for p in hazy]
    rows += [row(split, "clear", p.stem, p, ids[p], ids[p]) for p in clear]
    layout = f"{hazy_dir.name}/+{clear_dir.name}/ paired by {how}"
    return Found(rows, layout, extra={"pairing": how, "split": split})


def find_unpaired(ctx: Context) -> Found:
    """Training split from `hazy_dir` and `clear_dir` (defaults 'hazy', 'clear'); nothing is paired."""
    hazy_dir, hazy = _images(ctx, "hazy_dir", HAZY_DIR)
    clear_dir, clear = _images(ctx, "clear_dir", CLEAR_DIR)
    rows = [row("train", "hazy", p.stem, p) for p in hazy]
    rows += [row("train", "clear", p.stem, p) for p in clear]
    return Found(rows, f"{hazy_dir.name}/+{clear_dir.name}/ unpaired")


PAIRED = Adapter(
    "paired-folders",
    find_paired,
    PAIRED_KEYS,
    "hazy_dir and clear_dir",
    source="Any paired set of your own (or one without an adapter of its own): hazy images and their ground "
    "truth in two folders.",
    tree=(
        "hazy/  hazy_dir",
        "hazy/0001_0.8_0.2.png  paired by pair_regex ([^_]+) with clear/0001.png; by equal stem without it",
        "hazy/0002_0.8_0.2.png",
        "hazy/...",
        "clear/  clear_dir",
        "clear/0001.png",
        "clear/0002.png",
        "clear/...",
    ),
    options=PAIRED_OPTIONS,
    examples=(
        Example("my-test", {"adapter": "paired-folders", "root": "data/my-set", "pair_regex": "([^_]+)"},
                ("test",), "a paired test set"),
        Example("my-train", {"adapter": "paired-folders", "root": "data/my-set", "pair_regex": "([^_]+)",
                             "split": "train"}, ("train", "val"), "the same pairs as training data"),
    ),
)
UNPAIRED = Adapter(
    "unpaired-folders",
    find_unpaired,
    UNPAIRED_KEYS,
    "hazy_dir and clear_dir",
    source="Any unpaired training set of your own: hazy photographs and unrelated clear ones in two folders.",
    tree=(
        "hazy/  hazy_dir",
        "hazy/h0.jpg  names need not match across the folders",
        "hazy/h1.jpg",
        "hazy/...",
        "clear/  clear_dir",
        "clear/c0.png",
        "clear/c1.png",
        "clear/...",
    ),
    options=FOLDER_OPTIONS,
    examples=(
        Example("my-unpaired", {"adapter": "unpaired-folders", "root": "data/my-photos"}, ("train",)),
    ),
    notes="No val split: the training images have no ground truth to score it with.",
)
