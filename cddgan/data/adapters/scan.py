"""Finding images and folders in a dataset tree, tolerant of the case and naming variants copies carry."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from cddgan.data.adapters.base import Context
from cddgan.errors import DatasetError
from cddgan.io import IMAGE_SUFFIXES, is_image

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple:
    """Sort key that puts "2" before "10"; ties (e.g. "01" vs "1") fall back to the plain string."""
    parts = _DIGITS.split(text)
    key = tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts))
    return (key, text)


def natural_sorted(paths: Iterable[Path]) -> list[Path]:
    """Paths in natural order of their name, then of their full path (deterministic on every OS)."""
    return sorted(paths, key=lambda p: (natural_key(p.stem), natural_key(p.name), str(p)))


def list_images(folder: Path, recursive: bool = False) -> list[Path]:
    """Image files in `folder` (any suffix case), hidden files skipped, in natural order."""
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    return natural_sorted(p for p in candidates if p.is_file() and not p.name.startswith(".") and is_image(p))


def child_dir(parent: Path, *names: str) -> Path | None:
    """The sub-folder of `parent` whose name equals one of `names` ignoring case, or None."""
    wanted = {n.lower() for n in names}
    if not parent.is_dir():
        return None
    hits = sorted(p for p in parent.iterdir() if p.is_dir() and p.name.lower() in wanted)
    if len(hits) > 1:
        raise DatasetError(
            f"{parent}: several folders could be the same one ({', '.join(p.name for p in hits)}); "
            "keep one of them"
        )
    return hits[0] if hits else None


def preview(folder: Path, limit: int = 8) -> str:
    """The first few entries of a folder (folders marked with '/'), for 'found instead' messages."""
    if not folder.is_dir():
        return "(not a folder)"
    entries = sorted(folder.iterdir(), key=lambda p: natural_key(p.name))
    if not entries:
        return "(empty folder)"
    shown = [p.name + ("/" if p.is_dir() else "") for p in entries[:limit]]
    more = f" (+{len(entries) - limit} more)" if len(entries) > limit else ""
    return ", ".join(shown) + more


def layout_error(ctx: Context, adapter: str, expected: list[str]) -> DatasetError:
    """The error for a tree that matches none of an adapter's known variants: what we wanted, what we saw."""
    variants = "; ".join(expected)
    return DatasetError(
        f"{ctx.key('root')}: {ctx.root} matches no known {adapter} layout. Expected one of: {variants}. "
        f"Found: {preview(ctx.root)}"
    )


def by_stem(paths: list[Path], what: str) -> dict[str, Path]:
    """Map file stem -> path; two files with one stem (e.g. 01.jpg and 01.png) are ambiguous: raise."""
    result: dict[str, Path] = {}
    for path in paths:
        if path.stem in result:
            raise DatasetError(
                f"{what}: two files share the name {path.stem!r} ({result[path.stem]} and {path}); "
                "remove one so that pairing is unambiguous"
            )
        result[path.stem] = path
    return result


def names(paths: Iterable[Path], limit: int = 10) -> str:
    """Up to `limit` file names for a message, with a '+N more' tail."""
    paths = list(paths)
    shown = ", ".join(str(p) for p in paths[:limit])
    return shown + (f" (+{len(paths) - limit} more)" if len(paths) > limit else "")


def require_images(paths: list[Path], folder: Path) -> list[Path]:
    """Return `paths`, or raise when a folder that should hold images holds none."""
    if not paths:
        raise DatasetError(
            f"{folder}: no images found (looked for {', '.join(IMAGE_SUFFIXES)} files); "
            f"found: {preview(folder)}"
        )
    return paths
