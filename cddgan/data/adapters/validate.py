"""Checks that turn a broken dataset copy into one clear message before any training starts."""

from __future__ import annotations

from pathlib import Path

from cddgan.data.adapters.scan import names
from cddgan.errors import DatasetError


def check_orphans(where: str, hazy_orphans: list[Path], clear_orphans: list[Path]) -> None:
    """Raise when hazy images lack ground truth or ground truth lacks hazy images, naming up to 10 each."""
    parts = []
    if hazy_orphans:
        parts.append(f"{len(hazy_orphans)} hazy image(s) have no ground truth: {names(hazy_orphans)}")
    if clear_orphans:
        parts.append(f"{len(clear_orphans)} ground-truth image(s) have no hazy image: {names(clear_orphans)}")
    if parts:
        raise DatasetError(
            f"{where}: pairs do not line up; "
            + "; ".join(parts)
            + ". Restore the missing files or remove the extras."
        )


def check_pair_sizes(pairs: list[tuple[Path, Path]], sizes: dict[Path, tuple[int, int]]) -> None:
    """Raise when a hazy image and its ground truth differ in size, naming both files and both sizes."""
    bad = [(h, c) for h, c in pairs if sizes[h] != sizes[c]]
    if not bad:
        return
    shown = "; ".join(
        f"{h} is {sizes[h][0]}x{sizes[h][1]} but {c} is {sizes[c][0]}x{sizes[c][1]}" for h, c in bad[:10]
    )
    more = f" (+{len(bad) - 10} more)" if len(bad) > 10 else ""
    raise DatasetError(
        f"{len(bad)} hazy/ground-truth pair(s) differ in size: {shown}{more}. "
        "Resize or crop them to match, or fix the pairing."
    )


def check_scorable(
    pairs: list[tuple[Path, Path]],
    sizes: dict[Path, tuple[int, int]],
    crop: int,
    where: str,
    resized_by: str | None = None,
    shrunk: frozenset[Path] = frozenset(),
) -> None:
    """Refuse test pairs too small for SSIM's window after the protocol's border crop, here rather than
    after every method has dehazed them and every evaluate job has failed on them."""
    from cddgan.protocols import SSIM_KERNEL

    small = [h for h, _ in pairs if min(sizes[h]) - 2 * crop < SSIM_KERNEL]
    if not small:
        return
    shown = "; ".join(f"{h} is {sizes[h][0]}x{sizes[h][1]}" for h in small[:10])
    more = f" (+{len(small) - 10} more)" if len(small) > 10 else ""
    raise DatasetError(
        f"{len(small)} test pair(s) are too small to score: {shown}{more}. After the protocol's {crop} px crop "
        f"({where}) each side must keep at least SSIM's {SSIM_KERNEL} px; remove them, or lower the crop"
        + (f", or raise {resized_by}, which shrank them" if resized_by and shrunk & set(small) else "")
    )
