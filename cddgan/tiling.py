"""Dehaze an image of any size: whole when it fits the memory limit, else in overlapping tiles.

Whole: `cddgan.dehaze.dehaze_image` (reflect-padded to the generators' size multiple, cropped back).

Tiled: the image is cut into square tiles (a multiple of the size multiple) that overlap by `overlap`
pixels; each tile's result is weighted by a ramp that is ~0 for the quarter of the overlap nearest the
tile's edge (where the tile's own padding differs from the real neighbourhood), rises linearly over the
middle half and is 1 inside; the weighted results are summed and divided by the summed weights, so the
seams blend and the output has the input's size.

Instance normalisation (every generator here) normalises each feature map by its own mean and variance:
over a tile these differ from the whole image's, and each tile would come out with its own tone. So the
image is first dehazed once at a size that fits (a thumbnail) while every `InstanceNorm2d` records the
statistics it saw, and the tiles are then normalised with those recorded statistics. Every layer is then
local and the tiles agree with each other and, closely, with the whole image.

Only `torch.nn.Module` methods (the trained generators) are tiled. A training-free method such as DCP
estimates global quantities (the airlight) from the whole image, so tiles would disagree; it runs whole.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cddgan.dehaze import SIZE_MULTIPLE, dehaze_image
from cddgan.methods.base import Method

# Memory per pixel of a paper-scale generator's inference (docs/benchmarks.md: 1.7 GB per megapixel for
# CUT's anti-aliased layout), rounded up; the default limit on a GPU is its free memory over this.
BYTES_PER_PIXEL = 1800
CPU_MAX_PIXELS = 2_000_000  # about 3.5 GB of host memory for the paper-scale generators
DEFAULT_OVERLAP = 64
MIN_TILE = 32
# Smallest side a generator takes: its reflection pads at a quarter of the size need 2 pixels there. Smaller
# images are mirrored out to this size and cropped back.
MIN_SIDE = 16


def default_max_pixels(device: torch.device) -> int:
    """The default memory limit: 2 megapixels on the CPU; on a GPU, 80 % of its free memory's worth."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return max(MIN_TILE**2, int(0.8 * free / BYTES_PER_PIXEL))
    return CPU_MAX_PIXELS


def tileable(method: Method) -> bool:
    """Whether tiles of an image can be dehazed apart: a network (local but for its instance norms, whose
    statistics `fixed_norm_stats` shares), not an estimate over the whole image."""
    return isinstance(method, nn.Module)


def tile_side(max_pixels: int, tile: int | None = None) -> int:
    """The tile's side: `tile`, else the largest square within `max_pixels`; a multiple of SIZE_MULTIPLE."""
    side = tile if tile else math.isqrt(max(int(max_pixels), 1))
    return max(MIN_TILE, side - side % SIZE_MULTIPLE)


def needs_tiles(height: int, width: int, max_pixels: int, tile: int | None = None) -> bool:
    """Tile when the padded image exceeds the limit, or is larger than an explicit `tile` side."""
    padded = (height + (-height) % SIZE_MULTIPLE) * (width + (-width) % SIZE_MULTIPLE)
    if tile:
        return max(height, width) > tile_side(max_pixels, tile)
    return padded > max_pixels


def dehaze_any(
    method: Method,
    image: np.ndarray,
    device: torch.device,
    max_pixels: int,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
) -> np.ndarray:
    """Dehaze one HxWx3 image in [0, 1] of any size (module docstring); returns HxWx3."""
    height, width = image.shape[:2]
    if min(height, width) < MIN_SIDE:
        grown = np.pad(image, ((0, max(0, MIN_SIDE - height)), (0, max(0, MIN_SIDE - width)), (0, 0)), "symmetric")
        return dehaze_any(method, grown, device, max_pixels, tile, overlap)[:height, :width]
    if not tileable(method) or not needs_tiles(height, width, max_pixels, tile):
        return dehaze_image(method, image, device)
    side = tile_side(max_pixels, tile)
    # Pad as the whole image would be (dehaze_image), so that the borders come out as they would whole.
    pad = ((0, (-height) % SIZE_MULTIPLE), (0, (-width) % SIZE_MULTIPLE), (0, 0))
    padded = np.pad(image, pad, "reflect" if min(height, width) > SIZE_MULTIPLE else "edge")
    with fixed_norm_stats(method) as norms:
        dehaze_image(method, thumbnail(padded, max_pixels), device)
        norms.replay()
        return dehaze_tiles(method, padded, device, side, overlap)[:height, :width]


def thumbnail(image: np.ndarray, max_pixels: int) -> np.ndarray:
    """The image shrunk (area average) to at most `max_pixels`, for the instance-norm statistics."""
    height, width = image.shape[:2]
    scale = math.sqrt(max_pixels / (height * width))
    if scale >= 1:
        return image
    size = (max(SIZE_MULTIPLE, int(height * scale)), max(SIZE_MULTIPLE, int(width * scale)))
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
    return F.interpolate(x, size=size, mode="area")[0].permute(1, 2, 0).numpy()


def starts(length: int, side: int, overlap: int) -> list[int]:
    """Tile starts along one axis: every `side - overlap` pixels, the last tile flush with the end."""
    if length <= side:
        return [0]
    stride = max(side - overlap, 1)
    out = list(range(0, length - side, stride))
    return [*out, length - side]


def ramp(length: int, overlap: int, before: bool, after: bool) -> np.ndarray:
    """A tile's blending weights along one axis: ramps at the ends that have a neighbouring tile."""
    weights = np.ones(length, dtype=np.float32)
    if overlap <= 0:
        return weights
    position = np.arange(length, dtype=np.float32) + 0.5
    rise = np.clip((position - overlap / 4) / (overlap / 2), 1e-3, 1.0)
    if before:
        weights = np.minimum(weights, rise)
    if after:
        weights = np.minimum(weights, rise[::-1])
    return weights


Box = tuple[int, int, int, int]  # y0, y1, x0, x1


def tiles(height: int, width: int, side: int, overlap: int) -> list[tuple[Box, np.ndarray]]:
    """Every tile's box in the image and its blending weights (`ramp` along each axis)."""
    per_axis = []
    for length in (height, width):
        first = starts(length, side, overlap)
        extent = min(side, length)
        last = len(first) - 1
        per_axis.append([(s, s + extent, ramp(extent, overlap, i > 0, i < last)) for i, s in enumerate(first)])
    return [((y0, y1, x0, x1), wy[:, None] * wx[None, :]) for y0, y1, wy in per_axis[0] for x0, x1, wx in per_axis[1]]


def dehaze_tiles(method: Method, image: np.ndarray, device: torch.device, side: int, overlap: int) -> np.ndarray:
    """Dehaze in `side`-pixel tiles overlapping by `overlap`, blended with `ramp` weights."""
    height, width = image.shape[:2]
    total = np.zeros((height, width, 3), dtype=np.float32)
    weight = np.zeros((height, width, 1), dtype=np.float32)
    for (y0, y1, x0, x1), w in tiles(height, width, side, min(int(overlap), side // 2)):
        out = dehaze_image(method, image[y0:y1, x0:x1], device)
        total[y0:y1, x0:x1] += out * w[..., None]
        weight[y0:y1, x0:x1] += w[..., None]
    return total / weight


class NormStats:
    """Instance-norm statistics: recorded on one pass, then imposed on every later pass (`replay`)."""

    def __init__(self, modules: list[nn.InstanceNorm2d]) -> None:
        self.modules = modules
        self.stats: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {id(m): [] for m in modules}
        self.calls: dict[int, int] = {}
        self.replaying = False

    def replay(self) -> None:
        """From now on, normalise with the recorded statistics (in call order, per forward pass)."""
        self.replaying = True

    def forward(self, module: nn.InstanceNorm2d, x: torch.Tensor) -> torch.Tensor:
        recorded = self.stats[id(module)]
        if not self.replaying:
            mean = x.mean(dim=(2, 3), keepdim=True)
            var = x.var(dim=(2, 3), keepdim=True, unbiased=False)
            recorded.append((mean, var))
        else:  # a module called k times per pass cycles through its k records
            call = self.calls.get(id(module), 0) % len(recorded)
            mean, var = recorded[call]
            self.calls[id(module)] = call + 1
        y = (x - mean) * torch.rsqrt(var + module.eps)
        if module.affine:
            y = y * module.weight[None, :, None, None] + module.bias[None, :, None, None]
        return y


@contextlib.contextmanager
def fixed_norm_stats(method: Method) -> Iterator[NormStats]:
    """Route every `InstanceNorm2d` of `method` through a `NormStats` for the duration of the block."""
    modules = [m for m in method.modules() if isinstance(m, nn.InstanceNorm2d)] if isinstance(method, nn.Module) else []
    norms = NormStats(modules)
    for module in modules:
        module.forward = lambda x, module=module: norms.forward(module, x)  # type: ignore[method-assign]
    try:
        yield norms
    finally:
        for module in modules:
            del module.forward
