"""Procedural outdoor scenes with per-pixel depth: the clear images of the embedded synthetic dataset.

A scene is a sky with clouds, mountain ridges, a textured ground plane in perspective, and trees, rocks and
buildings standing on it, painted with a z-test into colour and depth buffers at `SUPERSAMPLE` times the
output size and box-downsampled, so edges are anti-aliased like a camera's. The sky sits exactly at the far
depth; every other surface is nearer. `cddgan.data.synthetic` hazes the scenes and writes the dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cddgan.data.noise import fractal_noise, fractal_noise_1d, noise_at, stretch

# Scenes are rendered at this factor and box-downsampled, so edges are anti-aliased like a camera's.
SUPERSAMPLE = 2


# ------------------------------------------------------------------------------------------------ palettes

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class Palette:
    """Colours and object mix of one kind of landscape."""

    name: str
    sky_top: RGB
    sky_horizon: RGB
    ridges: tuple[RGB, ...]
    ground: tuple[RGB, ...]
    crowns: tuple[RGB, ...]
    walls: tuple[RGB, ...]
    roofs: tuple[RGB, ...]
    rock: RGB
    objects: dict[str, float]  # kind -> relative frequency
    n_objects: tuple[int, int]
    snow: float = 0.0  # fraction of a ridge's height covered by snow caps
    road: float = 0.3  # probability of a road
    skyline: float = 0.0  # probability that the nearest ridge is a city skyline
    trunk: RGB = (0.30, 0.20, 0.12)


PALETTES: tuple[Palette, ...] = (
    Palette(
        "summer",
        sky_top=(0.30, 0.50, 0.85),
        sky_horizon=(0.70, 0.80, 0.92),
        ridges=((0.33, 0.42, 0.40), (0.26, 0.40, 0.22), (0.30, 0.38, 0.16), (0.22, 0.34, 0.12)),
        ground=((0.30, 0.50, 0.14), (0.46, 0.42, 0.20), (0.22, 0.40, 0.10)),
        crowns=((0.14, 0.38, 0.10), (0.20, 0.34, 0.10), (0.10, 0.28, 0.08)),
        walls=((0.82, 0.76, 0.64), (0.70, 0.48, 0.34)),
        roofs=((0.55, 0.20, 0.14), (0.35, 0.30, 0.30)),
        rock=(0.50, 0.48, 0.44),
        objects={"tree": 5, "conifer": 2, "bush": 3, "rock": 1, "building": 1},
        n_objects=(4, 16),
    ),
    Palette(
        "autumn",
        sky_top=(0.38, 0.52, 0.78),
        sky_horizon=(0.78, 0.80, 0.86),
        ridges=((0.42, 0.38, 0.34), (0.50, 0.34, 0.18), (0.45, 0.28, 0.12), (0.36, 0.30, 0.14)),
        ground=((0.48, 0.36, 0.14), (0.36, 0.40, 0.16), (0.58, 0.40, 0.16)),
        crowns=((0.80, 0.40, 0.08), (0.70, 0.18, 0.06), (0.85, 0.62, 0.12), (0.40, 0.36, 0.10)),
        walls=((0.76, 0.70, 0.60), (0.55, 0.36, 0.24)),
        roofs=((0.30, 0.22, 0.20), (0.50, 0.18, 0.12)),
        rock=(0.46, 0.43, 0.40),
        objects={"tree": 6, "conifer": 1, "bush": 3, "rock": 1, "building": 1},
        n_objects=(4, 16),
    ),
    Palette(
        "desert",
        sky_top=(0.40, 0.58, 0.86),
        sky_horizon=(0.86, 0.82, 0.74),
        ridges=((0.70, 0.46, 0.32), (0.76, 0.54, 0.34), (0.62, 0.36, 0.20), (0.54, 0.30, 0.18)),
        ground=((0.84, 0.64, 0.40), (0.74, 0.50, 0.30), (0.66, 0.44, 0.26)),
        crowns=((0.36, 0.42, 0.20), (0.30, 0.36, 0.18)),
        walls=((0.82, 0.62, 0.42), (0.72, 0.52, 0.36)),
        roofs=((0.60, 0.40, 0.26),),
        rock=(0.56, 0.32, 0.20),
        objects={"rock": 5, "bush": 3, "building": 1, "tree": 1},
        n_objects=(3, 12),
        road=0.4,
    ),
    Palette(
        "snowy-rocky",
        sky_top=(0.26, 0.44, 0.78),
        sky_horizon=(0.72, 0.80, 0.90),
        ridges=((0.42, 0.44, 0.48), (0.34, 0.34, 0.36), (0.30, 0.28, 0.26), (0.24, 0.26, 0.20)),
        ground=((0.40, 0.38, 0.32), (0.88, 0.90, 0.94), (0.26, 0.32, 0.18)),
        crowns=((0.07, 0.20, 0.10), (0.10, 0.24, 0.12)),
        walls=((0.50, 0.34, 0.22), (0.62, 0.50, 0.40)),
        roofs=((0.28, 0.24, 0.22), (0.60, 0.16, 0.12)),
        rock=(0.38, 0.37, 0.36),
        objects={"conifer": 6, "rock": 3, "building": 1},
        n_objects=(4, 16),
        snow=0.45,
        road=0.15,
    ),
    Palette(
        "urban",
        sky_top=(0.40, 0.52, 0.72),
        sky_horizon=(0.76, 0.78, 0.82),
        ridges=((0.40, 0.42, 0.46), (0.34, 0.36, 0.40), (0.30, 0.34, 0.26)),
        ground=((0.30, 0.30, 0.31), (0.44, 0.42, 0.38), (0.30, 0.42, 0.18)),
        crowns=((0.16, 0.36, 0.12), (0.22, 0.30, 0.10)),
        walls=(
            (0.50, 0.50, 0.53),
            (0.66, 0.62, 0.58),
            (0.36, 0.36, 0.40),
            (0.72, 0.30, 0.20),
            (0.22, 0.36, 0.62),
            (0.86, 0.70, 0.20),
        ),
        roofs=((0.25, 0.25, 0.28), (0.50, 0.20, 0.15)),
        rock=(0.45, 0.45, 0.45),
        objects={"building": 7, "tree": 2, "bush": 1},
        n_objects=(6, 18),
        road=0.8,
        skyline=0.8,
    ),
    Palette(
        "dusk",
        sky_top=(0.36, 0.36, 0.62),
        sky_horizon=(0.95, 0.68, 0.44),
        ridges=((0.40, 0.30, 0.44), (0.32, 0.24, 0.34), (0.24, 0.22, 0.24), (0.20, 0.22, 0.16)),
        ground=((0.26, 0.30, 0.14), (0.40, 0.30, 0.18), (0.18, 0.24, 0.10)),
        crowns=((0.12, 0.22, 0.08), (0.26, 0.22, 0.10)),
        walls=((0.74, 0.58, 0.46), (0.50, 0.40, 0.36)),
        roofs=((0.30, 0.16, 0.12),),
        rock=(0.40, 0.34, 0.32),
        objects={"tree": 4, "conifer": 3, "bush": 2, "rock": 1, "building": 1},
        n_objects=(4, 14),
    ),
)

WHITE_CLOUD: RGB = (0.96, 0.96, 0.97)
SNOW: RGB = (0.90, 0.92, 0.96)
ASPHALT: RGB = (0.26, 0.26, 0.27)
DIRT: RGB = (0.52, 0.42, 0.30)


def _colour(rng: np.random.Generator, base: Sequence[float], amount: float = 0.08) -> np.ndarray:
    """A base colour with a small per-channel and brightness jitter, so no two scenes share exact hues."""
    c = np.asarray(base, np.float32) * rng.uniform(1 - amount, 1 + amount, 3) * rng.uniform(0.9, 1.1)
    return np.clip(c, 0.0, 1.0).astype(np.float32)


def _pick(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


# --------------------------------------------------------------------------------------------------- scene


class _Canvas:
    """Colour and depth buffers; every layer is painted with a z-test, so nearer surfaces win."""

    def __init__(self, colour: np.ndarray, depth: np.ndarray) -> None:
        self.colour = colour
        self.depth = depth

    def paint(
        self,
        mask: np.ndarray,
        colour: np.ndarray,
        depth: np.ndarray | float,
        region: tuple[slice, slice] = (slice(None), slice(None)),
    ) -> None:
        """Write `colour` and `depth` where `mask` holds and the new surface is nearer than the old."""
        current = self.depth[region]
        depth = np.broadcast_to(np.asarray(depth, np.float32), mask.shape)
        win = mask & (depth < current)
        if not win.any():
            return
        current[win] = depth[win]
        colour = np.broadcast_to(np.asarray(colour, np.float32), (*mask.shape, 3))
        self.colour[region][win] = colour[win]


@dataclass
class _View:
    """Camera geometry of one scene (supersampled pixel units).

    A flat ground seen from a camera at height hc puts the ground at distance Z on the row
    ``horizon + focal / Z`` (pinhole model); an object h camera heights tall at distance Z is
    ``h * focal / Z`` pixels tall.
    """

    height: int
    width: int
    horizon: float
    focal: float
    d_min: float
    d_max: float
    d_near: float
    d_far: float  # farthest non-sky depth, strictly below the sky's d_max

    def ground_row(self, z: float) -> float:
        return self.horizon + self.focal / z


def render_scene(
    rng: np.random.Generator,
    height: int,
    width: int,
    *,
    depth_range: Sequence[float] = (0.05, 1.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Render one outdoor scene: (clear float32 HxWx3 in [0, 1], depth float32 HxW in depth_range).

    The sky is exactly ``depth_range[1]``; every other surface is nearer.
    """
    if height < 8 or width < 8:
        raise ValueError(f"render_scene needs at least 8x8 pixels, got {height}x{width}")
    d_min, d_max = float(depth_range[0]), float(depth_range[1])
    if not 0 < d_min < d_max:
        raise ValueError(f"depth_range must satisfy 0 < near < far, got {depth_range}")
    palette = _pick(rng, PALETTES)
    big_h, big_w = height * SUPERSAMPLE, width * SUPERSAMPLE
    horizon = big_h * rng.uniform(0.40, 0.62)
    d_near = d_min * rng.uniform(1.0, 1.6)
    view = _View(
        height=big_h,
        width=big_w,
        horizon=horizon,
        focal=d_near * (big_h - horizon),
        d_min=d_min,
        d_max=d_max,
        d_near=d_near,
        d_far=d_min + 0.97 * (d_max - d_min),
    )
    texture = fractal_noise(rng, big_h, big_w, cells=(big_h / 24, big_w / 24), octaves=4, persistence=0.6)
    canvas = _Canvas(_sky(rng, palette, view), np.full((big_h, big_w), d_max, np.float32))
    _ridges(rng, palette, view, canvas, texture)
    _ground(rng, palette, view, canvas)
    _objects(rng, palette, view, canvas, texture)
    shape = (height, SUPERSAMPLE, width, SUPERSAMPLE)
    clear = canvas.colour.reshape(*shape, 3).mean(axis=(1, 3))
    depth = canvas.depth.reshape(shape).mean(axis=(1, 3))
    return np.clip(clear, 0.0, 1.0).astype(np.float32), np.clip(depth, d_min, d_max).astype(np.float32)


def _sky(rng: np.random.Generator, palette: Palette, view: _View) -> np.ndarray:
    """Vertical gradient from zenith to horizon colour, with optional soft fractal clouds."""
    top, bottom = _colour(rng, palette.sky_top), _colour(rng, palette.sky_horizon)
    g = np.clip((np.arange(view.height, dtype=np.float32) + 0.5) / view.horizon, 0.0, 1.0) ** 0.8
    sky = top * (1.0 - g)[:, None] + bottom * g[:, None]
    sky = np.broadcast_to(sky[:, None, :], (view.height, view.width, 3)).copy()
    coverage = rng.uniform(-0.35, 0.25)  # threshold on the noise: low means many clouds
    if coverage < 0.2:
        clouds = fractal_noise(rng, view.height, view.width, cells=(4.0, 2.0), octaves=5, persistence=0.55)
        alpha = np.clip((clouds - coverage) / 0.25, 0.0, 1.0) * rng.uniform(0.5, 0.95)
        shade = 0.82 + 0.18 * np.clip(1.0 - (clouds - coverage) * 2.0, 0.0, 1.0)
        cloud = np.asarray(WHITE_CLOUD, np.float32) * shade[..., None]
        sky = sky * (1.0 - alpha[..., None]) + cloud * alpha[..., None]
    return sky.astype(np.float32)


def _ridges(rng: np.random.Generator, palette: Palette, view: _View, canvas: _Canvas, texture: np.ndarray) -> None:
    """Mountain (or city skyline) silhouettes at decreasing distance; farther ones rise higher."""
    count = int(rng.integers(2, 5))
    span = view.d_max - view.d_min
    fractions = np.sort(rng.uniform(0.35, 0.92, count))[::-1]  # far to near
    top_room = view.horizon - 0.12 * view.height  # keep the top rows sky
    heights = np.sort(rng.uniform(0.15, 0.85, count))[::-1] * top_room
    yy = (np.arange(view.height, dtype=np.float32) + 0.5)[:, None]
    xx = np.arange(view.width, dtype=np.float32)
    skyline = rng.uniform() < palette.skyline
    for k, (fraction, peak) in enumerate(zip(fractions, heights, strict=True)):
        depth = view.d_min + fraction * span
        nearest = k == count - 1
        if skyline and nearest:
            profile = _skyline_profile(rng, view.width)
        else:
            rough = rng.uniform(0.45, 0.62)
            profile = fractal_noise_1d(rng, view.width, cells=rng.uniform(1.5, 4.0), persistence=rough)
            profile = (stretch(profile) + 1.0) / 2.0
        silhouette = view.horizon - peak * (0.2 + 0.8 * profile)
        base = view.ground_row(depth)
        top, bottom = max(int(silhouette.min()), 0), min(int(np.ceil(base)) + 1, view.height)
        ys = yy[top:bottom]  # only the rows this ridge can cover
        mask = (ys >= silhouette[None, :]) & (ys <= base)
        below = np.clip((ys - silhouette[None, :]) / max(peak, 1.0), 0.0, 1.0)  # 0 at the crest
        colour = _colour(rng, palette.ridges[min(k, len(palette.ridges) - 1)], 0.1)
        tex = np.roll(texture[top:bottom], int(rng.integers(view.width)), axis=1)
        # Sunlit slopes face the light (from the left): shade by the silhouette's slope.
        smooth = np.convolve(np.pad(silhouette, 3, mode="edge"), np.ones(7) / 7.0, mode="valid")
        slope = np.gradient(smooth) * (200.0 / view.width)
        facing = np.tanh(-1.5 * slope)[None, :] * np.exp(-3.0 * below)
        city = skyline and nearest
        if city:
            colour = colour * 0.8
            windows = ((xx // 3) % 2 == 0)[None, :] & ((ys // 3) % 3 == 0) & (below > 0.05)
            shade = 1.0 + 0.15 * tex - 0.35 * windows
        else:
            shade = 1.0 + 0.35 * tex + 0.25 * facing - 0.25 * below
        img = colour * shade[..., None]
        if palette.snow > 0 and not city and k < max(1, count - 1):
            snowline = palette.snow * (0.6 + 0.8 * (tex + 0.5)) * (1.0 - 0.5 * k / count)
            snow = below < snowline
            snow_img = np.asarray(SNOW, np.float32) * (0.8 + 0.1 * facing + 0.1 * tex)[..., None]
            img = np.where(snow[..., None], snow_img, img)
        canvas.paint(mask, img.astype(np.float32), np.float32(depth), (slice(top, bottom), slice(None)))


def _skyline_profile(rng: np.random.Generator, width: int) -> np.ndarray:
    """A blocky 0..1 profile of building tops for a distant city."""
    heights: list[np.ndarray] = []
    total = 0
    while total < width:
        block = int(rng.integers(max(2, width // 40), max(3, width // 10)))
        heights.append(np.full(block, rng.uniform(0.1, 1.0), np.float32))
        total += block
    return np.concatenate(heights)[:width]


def _ground(rng: np.random.Generator, palette: Palette, view: _View, canvas: _Canvas) -> None:
    """The ground plane below the horizon, textured in ground coordinates so detail shrinks with distance."""
    yy = (np.arange(view.height, dtype=np.float32) + 0.5)[:, None]
    xx = (np.arange(view.width, dtype=np.float32) + 0.5)[None, :]
    rows = yy[:, 0] > view.horizon
    first = int(np.argmax(rows)) if rows.any() else view.height
    y = yy[first:]
    z = np.clip(view.focal / np.maximum(y - view.horizon, 1e-3), view.d_min, view.d_far).astype(np.float32)
    rel = z / view.d_near  # one value per row: 1 at the bottom, growing towards the horizon
    # Ground coordinates in camera heights: across (u) and along (v) the view. The camera height is taken
    # as a third of the nearest visible distance, so textures are foreshortened as in a photograph.
    u = (xx - view.width / 2) / (view.height - view.horizon) * rel
    v = 3.0 * rel
    fade = np.clip(2.0 / rel, 0.15, 1.0)  # minified detail averages out (a poor man's mipmap)
    patches = noise_at(rng, u * 0.6, v * 0.6, octaves=3)
    detail = noise_at(rng, u * 6.0, v * 6.0, octaves=4, persistence=0.55)
    colours = [_colour(rng, c) for c in palette.ground]
    first_mix = np.clip(0.5 + 2.5 * patches, 0.0, 1.0)[..., None]
    img = colours[0] * (1.0 - first_mix) + colours[1] * first_mix
    if len(colours) > 2:
        third = noise_at(rng, u * 0.4, v * 0.4, octaves=2)
        third_mix = np.clip(2.5 * (third - 0.15), 0.0, 1.0)[..., None]
        img = img * (1.0 - third_mix) + colours[2] * third_mix
    img = img * (1.0 + 0.45 * detail * fade)[..., None]
    if rng.uniform() < palette.road:
        centre = rng.uniform(-0.8, 0.8) + rng.uniform(-0.05, 0.05) * (v - 1.0)
        half = rng.uniform(0.12, 0.3)
        offset = np.abs(u - centre)
        road_colour = _colour(rng, ASPHALT if palette.name == "urban" else DIRT, 0.1)
        road = (offset < half)[..., None]
        img = np.where(road, road_colour * (1.0 + 0.15 * detail * fade)[..., None], img)
        if palette.name == "urban":
            dashes = (offset < 0.015 * np.maximum(1.0, rel / 3)) & (v % 1.0 < 0.5)
            img = np.where(dashes[..., None], np.float32(0.85), img)
    mask = np.ones(img.shape[:2], bool)
    canvas.paint(mask, img.astype(np.float32), z, (slice(first, None), slice(None)))


@dataclass
class _Stage:
    """Everything an object painter needs: the random stream, palette, camera, buffers, shared texture."""

    rng: np.random.Generator
    palette: Palette
    view: _View
    canvas: _Canvas
    texture: np.ndarray


@dataclass
class _Spot:
    """Where and how big an object is: centre column, ground row, pixels per camera height, size, depth."""

    cx: float
    base: float
    px: float
    height_hc: float
    width_hc: float  # overall width (crown, roof span, dome) in camera heights
    z: np.float32


# Object size ranges in camera heights: height, and width as a multiple of the height (buildings: absolute).
_SIZES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "tree": ((2.5, 6.0), (0.35, 0.6)),
    "conifer": ((3.0, 8.0), (0.3, 0.55)),
    "building": ((2.0, 9.0), (1.5, 6.0)),
    "bush": ((0.5, 1.4), (1.0, 2.0)),
    "rock": ((0.3, 1.2), (2.4, 4.4)),
}


def _objects(rng: np.random.Generator, palette: Palette, view: _View, canvas: _Canvas, texture: np.ndarray) -> None:
    """Trees, bushes, rocks and buildings standing on the ground, sized by perspective."""
    stage = _Stage(rng, palette, view, canvas, texture)
    kinds = list(palette.objects)
    weights = np.asarray([palette.objects[k] for k in kinds], np.float64)
    count = int(rng.integers(palette.n_objects[0], palette.n_objects[1] + 1))
    far = view.d_min + 0.75 * (view.d_max - view.d_min)
    for _ in range(count):
        kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
        tall, wide = _SIZES[kind]
        height_hc = rng.uniform(*tall)
        width_hc = rng.uniform(*wide) * (1.0 if kind == "building" else height_hc)
        # Not so near that it fills the view: at most 75% of the image height and 50% of its width.
        nearest = max(
            view.d_near * 1.05,
            height_hc * view.focal / (0.75 * view.height),
            width_hc * view.focal / (0.5 * view.width),
        )
        if nearest >= far:
            continue
        z = float(np.exp(rng.uniform(np.log(nearest), np.log(far))))
        centre = rng.uniform(-0.05, 1.05) * view.width
        spot = _Spot(centre, view.ground_row(z), view.focal / z, height_hc, width_hc, np.float32(z))
        draw = {"tree": _tree, "conifer": _conifer, "building": _building, "bush": _bush, "rock": _rock}[kind]
        draw(stage, spot)


def _box(
    view: _View, y0: float, y1: float, x0: float, x1: float
) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray] | None:
    """Clip a bounding box to the image; return its slices and pixel-centre coordinates, or None if empty."""
    top, bottom = max(int(np.floor(y0)), 0), min(int(np.ceil(y1)) + 1, view.height)
    left, right = max(int(np.floor(x0)), 0), min(int(np.ceil(x1)) + 1, view.width)
    if top >= bottom or left >= right:
        return None
    yy = (np.arange(top, bottom, dtype=np.float32) + 0.5)[:, None]
    xx = (np.arange(left, right, dtype=np.float32) + 0.5)[None, :]
    return (slice(top, bottom), slice(left, right)), yy, xx


def _blob(
    stage: _Stage,
    centre: tuple[float, float],
    radii: tuple[float, float],
    colour: np.ndarray,
    z: np.float32,
    floor: float | None = None,
    contrast: float = 0.6,
) -> None:
    """A shaded, ragged ellipse lit from the upper left: tree crowns, bushes, rocks."""
    (cy, cx), (ry, rx) = centre, radii
    box = _box(stage.view, cy - 1.3 * ry, cy + 1.3 * ry, cx - 1.3 * rx, cx + 1.3 * rx)
    if box is None:
        return
    region, yy, xx = box
    nx, ny = (xx - cx) / max(rx, 0.5), (yy - cy) / max(ry, 0.5)
    tex = stage.texture[region]
    mask = nx**2 + ny**2 < 1.0 + 0.5 * tex
    if floor is not None:
        mask &= yy <= floor
    light = 1.0 - 0.3 * ny - 0.2 * nx - 0.25 * np.sqrt(np.clip(nx**2 + ny**2, 0.0, 1.5))
    shade = np.clip(light + contrast * tex, 0.15, 1.6)
    stage.canvas.paint(mask, colour * shade[..., None], z, region)


def _tree(stage: _Stage, spot: _Spot) -> None:
    """A trunk with a round crown."""
    rng, px = stage.rng, spot.px
    crown_w = px * spot.width_hc
    crown_h = px * spot.height_hc * rng.uniform(0.45, 0.7)
    trunk_w = max(px * rng.uniform(0.12, 0.25), 1.0)
    top = spot.base - px * spot.height_hc
    box = _box(stage.view, top + crown_h * 0.5, spot.base, spot.cx - trunk_w / 2, spot.cx + trunk_w / 2)
    if box is not None:
        region, yy, xx = box
        mask = (np.abs(xx - spot.cx) <= trunk_w / 2) & (yy <= spot.base)
        trunk = _colour(rng, stage.palette.trunk) * (0.8 + 0.3 * stage.texture[region])[..., None]
        stage.canvas.paint(mask, trunk, spot.z, region)
    crown = _colour(rng, _pick(rng, stage.palette.crowns), 0.12)
    _blob(stage, (top + crown_h / 2, spot.cx), (crown_h / 2, crown_w / 2), crown, spot.z * np.float32(0.999))


def _conifer(stage: _Stage, spot: _Spot) -> None:
    """A jagged triangle on a short trunk."""
    rng, cx, base = stage.rng, spot.cx, spot.base
    full = spot.px * spot.height_hc
    half_base = spot.px * spot.width_hc / 2
    top, crown_bottom = base - full, base - full * rng.uniform(0.08, 0.2)
    box = _box(stage.view, top, base, cx - half_base * 1.3, cx + half_base * 1.3)
    if box is None:
        return
    region, yy, xx = box
    tex = stage.texture[region]
    along = np.clip((yy - top) / max(crown_bottom - top, 1.0), 0.0, 1.0)
    tiers = 0.75 + 0.25 * ((along * rng.uniform(4, 8)) % 1.0)  # branch tiers make the edge saw-toothed
    crown = (np.abs(xx - cx) < half_base * along * tiers * (1.0 + 0.3 * tex)) & (yy <= crown_bottom)
    trunk = (np.abs(xx - cx) < max(half_base * 0.12, 0.7)) & (yy > crown_bottom - 1) & (yy <= base)
    green = _colour(rng, _pick(rng, stage.palette.crowns), 0.12)
    side = (xx - cx) / max(half_base, 1.0)
    shade = np.clip(1.0 - 0.35 * side + 0.6 * tex, 0.2, 1.6)[..., None]
    img = np.where(trunk[..., None], _colour(rng, stage.palette.trunk), green * shade)
    stage.canvas.paint(crown | trunk, img, spot.z, region)


def _bush(stage: _Stage, spot: _Spot) -> None:
    """A low rounded shrub sitting on the ground."""
    ry = spot.px * spot.height_hc / 2
    rx = spot.px * spot.width_hc / 2
    colour = _colour(stage.rng, _pick(stage.rng, stage.palette.crowns), 0.15)
    _blob(stage, (spot.base - ry, spot.cx), (ry, rx), colour, spot.z, floor=spot.base)


def _rock(stage: _Stage, spot: _Spot) -> None:
    """A half-buried boulder: a wide dome with strong texture."""
    ry = spot.px * spot.height_hc
    rx = spot.px * spot.width_hc / 2
    colour = _colour(stage.rng, stage.palette.rock, 0.12)
    _blob(stage, (spot.base, spot.cx), (ry, rx), colour, spot.z, floor=spot.base, contrast=0.8)


def _building(stage: _Stage, spot: _Spot) -> None:
    """A box with a darker side face, a grid of windows and sometimes a gable roof."""
    rng, px, cx, base = stage.rng, spot.px, spot.cx, spot.base
    height = px * spot.height_hc
    side_fraction = rng.uniform(0.0, 0.4)
    width = px * spot.width_hc / (1.0 + side_fraction)
    side = width * side_fraction * (1 if rng.uniform() < 0.5 else -1)
    roof_h = height * rng.uniform(0.15, 0.35) if rng.uniform() < 0.4 else 0.0
    left, right = cx - width / 2, cx + width / 2
    box = _box(stage.view, base - height - roof_h, base, min(left, left + side), max(right, right + side))
    if box is None:
        return
    region, yy, xx = box
    tex = stage.texture[region]
    wall = _colour(rng, _pick(rng, stage.palette.walls), 0.1)
    storeys = (yy >= base - height) & (yy <= base)
    front = (xx >= left) & (xx <= right) & storeys
    if side > 0:
        side_mask = (xx > right) & (xx <= right + side) & storeys
    else:
        side_mask = (xx < left) & (xx >= left + side) & storeys
    win_w = max(px * rng.uniform(0.35, 0.7), 2.0)
    win_h = max(px * rng.uniform(0.5, 0.9), 2.0)
    fx = ((xx - left) / win_w) % 1.0
    fy = ((yy - (base - height)) / win_h) % 1.0
    windows = (fx > 0.3) & (fx < 0.75) & (fy > 0.25) & (fy < 0.7) & (yy < base - win_h * 0.8)
    glass = _colour(rng, (0.16, 0.2, 0.26) if rng.uniform() < 0.8 else (0.85, 0.75, 0.45), 0.15)
    img = wall * (1.0 + 0.15 * tex)[..., None]
    img = np.where(windows[..., None], glass, img)
    img = np.where(side_mask[..., None], img * 0.65, img)
    mask = front | side_mask
    if roof_h > 0:
        rise = (base - height) - yy  # height above the top of the wall
        roof = (rise >= 0) & (rise <= roof_h * (1.0 - np.abs(xx - cx) / (width / 2 + 1e-6)))
        tiles = _colour(rng, _pick(rng, stage.palette.roofs)) * (0.9 + 0.2 * tex)[..., None]
        img = np.where(roof[..., None], tiles, img)
        mask |= roof
    stage.canvas.paint(mask, img, spot.z, region)
