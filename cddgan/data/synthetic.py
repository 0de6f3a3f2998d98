"""The embedded default dataset: procedural outdoor scenes with per-pixel depth, hazed by the scattering model.

Why procedural: the harness must run end to end with no download, and a generator that knows every pixel's
depth gives exact ground truth (clear image, depth, beta, airlight) against which methods and metrics can be
checked. Scenes are built to look roughly like outdoor photographs (sky with clouds, mountain ridges, a
textured ground plane in perspective, trees, rocks and buildings) so that unpaired GANs and the dark channel
prior have something realistic to learn from: textured, colourful, with dark pixels outside the sky. The
scenes are drawn by `cddgan.data.scenes` (on the noise of `cddgan.data.noise`); this module validates the
config block, hazes the scenes and writes the dataset with its manifest.

Haze follows ``I = J * t + A * (1 - t)`` with ``t = exp(-beta * d)``. The airlight ``A`` is one grey scalar
(the same for R, G and B), drawn per image. With ``nonhomogeneous > 0`` beta varies per pixel as
``beta * (1 + amp * n(x))`` where ``n`` is low-frequency noise stretched to span exactly [-1, 1]; the
manifest's ``beta`` column then holds the base beta.

Knobs for shifted test sets (`datasets.<name>.shift_of`, resolved by `cddgan.config.datasets.expand_shifts`),
each off by default and then byte-identical to a dataset without it:

- ``airlight_tint``: per image and channel the airlight is ``A * (1 + u_c)``, ``u_c`` uniform in
  [-tint, tint] (coloured airlight); the ``airlight`` column keeps the grey ``A``, the sidecar the RGB values;
- ``depth_model``: ``scene`` (the rendered scene's depth) or ``ramp`` (depth from the image row only: the far
  limit at the top row, falling linearly to the near limit at the bottom row, whatever the scene shows, so
  the haze ignores the scene's geometry); ``test/depth`` holds the depth the haze used;
- ``noise``: the standard deviation (in [0, 1] intensity units) of Gaussian noise added to the hazy image;
- ``jpeg_quality``: the hazy image JPEG-compressed at this quality (4:2:0) in memory, then stored lossless.

Every image has its own random stream seeded from (seed, set, index), split into a scene stream and a haze
stream: the same seed gives byte-identical files, changing one set's size does not change the others, and
changing the haze ranges does not change the scenes. The tint and noise draw from sub-streams spawned from
the haze stream (`knob_rng`), so turning them on leaves every beta and airlight draw as it was; a shifted set
shows exactly its base's clear test images, and scores pair image by image. The validation scenes (`n_val`)
have a stream code of their own, so adding them changes no training or test image.
"""

from __future__ import annotations

import io
import math
import numbers
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from cddgan.data.manifest import ManifestInfo, write_manifest
from cddgan.data.noise import fractal_noise, stretch
from cddgan.data.scenes import render_scene
from cddgan.errors import ConfigError
from cddgan.io import write_image, write_uint16

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "size": 128,
    "n_train_clear": 200,
    "n_train_hazy": 200,
    "n_test": 30,
    "n_val": 16,
    "beta": [0.6, 2.0],
    "airlight": [0.7, 1.0],
    "nonhomogeneous": 0.0,
    "depth_range": [0.05, 1.0],
    "format": "png",
    "airlight_tint": 0.0,
    "depth_model": "scene",
    "noise": 0.0,
    "jpeg_quality": None,
}
# Keys other stages read from the same config block; accepted and ignored here (`shift_of` is resolved by
# cddgan.config.datasets.expand_shifts and kept in the spec; the sidecar records it).
IGNORED_KEYS = ("adapter", "protocol", "limit", "shift_of")
FORMATS = ("png", "bmp", "tif")  # lossless only: the clear images are ground truth
MIN_SIZE = 16
# Stream codes in the per-image seed: (seed, code, index).
SET_CODES = {"train_clear": 0, "train_hazy": 1, "test": 2, "val": 3}
SET_PREFIX = {"train_clear": "clear", "train_hazy": "hazy", "test": "test", "val": "val"}
# Sub-streams of an image's haze stream, one per knob, so that one knob's draws never move another's.
KNOB_STREAMS = {"airlight_tint": 0, "noise": 1}
DEPTH_MODELS = ("scene", "ramp")
_OWN_FILE = re.compile(r"^(clear|hazy|test|val)_\d{5,}\.(png|bmp|tif)$")
_OWN_FOLDERS = ("train/clear", "train/hazy", "test/clear", "test/hazy", "test/depth", "val/clear", "val/hazy",
                "val/depth")


# --------------------------------------------------------------------------------------------- parameters


def validate_params(name: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check a `datasets.<name>` block and return every parameter resolved (defaults filled, JSON-friendly).

    Raises `ConfigError` naming ``datasets.<name>.<key>`` and what is allowed.
    """
    params = dict(params or {})
    allowed = sorted([*DEFAULTS, *IGNORED_KEYS])
    for key in params:
        if key not in DEFAULTS and key not in IGNORED_KEYS:
            raise ConfigError(
                f"datasets.{name}.{key}: unknown parameter for a synthetic dataset; allowed keys: {', '.join(allowed)}"
            )
    merged = {key: params.get(key, default) for key, default in DEFAULTS.items()}

    def where(key: str) -> str:
        return f"datasets.{name}.{key}"

    out: dict[str, Any] = {}
    out["seed"] = _int(merged["seed"], where("seed"), minimum=0)
    out["size"] = _size(merged["size"], where("size"))
    # 0 training images: a test-only set (a shifted test set); the sampler refuses it as training data
    out["n_train_clear"] = _int(merged["n_train_clear"], where("n_train_clear"), minimum=0)
    out["n_train_hazy"] = _int(merged["n_train_hazy"], where("n_train_hazy"), minimum=0)
    out["n_test"] = _int(merged["n_test"], where("n_test"), minimum=0)
    out["n_val"] = _int(merged["n_val"], where("n_val"), minimum=0)
    out["beta"] = _range(merged["beta"], where("beta"), low=0.0, high=math.inf, scalar_ok=True)
    out["airlight"] = _range(merged["airlight"], where("airlight"), low=1e-6, high=1.0, scalar_ok=True)
    nonhom = _number(merged["nonhomogeneous"], where("nonhomogeneous"))
    if not 0.0 <= nonhom < 1.0:
        raise ConfigError(f"{where('nonhomogeneous')}: must be in [0, 1), got {nonhom}")
    out["nonhomogeneous"] = nonhom
    depth = _range(merged["depth_range"], where("depth_range"), low=1e-6, high=math.inf, scalar_ok=False)
    if depth[0] >= depth[1]:
        raise ConfigError(f"{where('depth_range')}: needs near < far (the sky is the far limit), got {depth}")
    out["depth_range"] = depth
    fmt = merged["format"]
    if not isinstance(fmt, str) or fmt.lower().lstrip(".") not in FORMATS:
        raise ConfigError(f"{where('format')}: must be one of {list(FORMATS)} (lossless), got {fmt!r}")
    out["format"] = fmt.lower().lstrip(".")
    tint = _number(merged["airlight_tint"], where("airlight_tint"))
    if not 0.0 <= tint < 1.0:
        raise ConfigError(
            f"{where('airlight_tint')}: must be in [0, 1) (each channel's airlight is scaled by 1 + u, "
            f"u uniform in [-tint, tint]), got {tint}"
        )
    out["airlight_tint"] = tint
    model = merged["depth_model"]
    if model not in DEPTH_MODELS:
        raise ConfigError(
            f"{where('depth_model')}: must be one of {list(DEPTH_MODELS)} (scene: the scene's own depth; "
            f"ramp: far at the top row to near at the bottom, ignoring the scene), got {model!r}"
        )
    out["depth_model"] = model
    noise = _number(merged["noise"], where("noise"))
    if not 0.0 <= noise <= 1.0:
        raise ConfigError(
            f"{where('noise')}: must be in [0, 1] (the standard deviation of Gaussian noise on the hazy image, "
            f"in [0, 1] intensity units), got {noise}"
        )
    out["noise"] = noise
    quality = merged["jpeg_quality"]
    if quality is not None and (
        isinstance(quality, bool) or not isinstance(quality, numbers.Integral) or not 1 <= int(quality) <= 100
    ):
        raise ConfigError(f"{where('jpeg_quality')}: must be an integer from 1 to 100, or null, got {quality!r}")
    out["jpeg_quality"] = None if quality is None else int(quality)
    return out


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ConfigError(f"{where}: must be a finite number, got {value!r}")
    return float(value)


def _int(value: Any, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{where}: must be an integer >= {minimum}, got {value!r}")
    if int(value) < minimum:
        raise ConfigError(f"{where}: must be an integer >= {minimum}, got {value}")
    return int(value)


def _size(value: Any, where: str) -> list[int]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise ConfigError(f"{where}: must be an integer or [height, width], got {value!r}")
        return [_int(v, where, MIN_SIZE) for v in value]
    side = _int(value, where, MIN_SIZE)
    return [side, side]


def _range(value: Any, where: str, low: float, high: float, scalar_ok: bool) -> list[float]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise ConfigError(f"{where}: must be a [low, high] pair, got {value!r}")
        lo, hi = (_number(v, where) for v in value)
    elif scalar_ok:
        lo = hi = _number(value, where)
    else:
        raise ConfigError(f"{where}: must be a [low, high] pair, got {value!r}")
    if lo > hi:
        raise ConfigError(f"{where}: low {lo} is greater than high {hi}; write it as [low, high]")
    if lo < low or hi > high:
        raise ConfigError(f"{where}: values must lie in [{low:g}, {high:g}], got [{lo}, {hi}]")
    return [lo, hi]


# ----------------------------------------------------------------------------------------------------- haze


def add_haze(
    clear: np.ndarray,
    depth: np.ndarray,
    beta: float,
    airlight: float | Sequence[float] | np.ndarray,
    nonhomogeneous: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``I = J t + A (1 - t)``, ``t = exp(-beta(x) d)``; return (hazy HxWx3, t HxW), both float32.

    ``A`` is a grey scalar or one value per channel (R, G, B). ``beta(x) = beta * (1 + nonhomogeneous *
    n(x))`` with n low-frequency noise spanning [-1, 1]; with ``nonhomogeneous == 0`` beta is constant and
    `rng` is not used.
    """
    clear = np.asarray(clear, np.float32)
    depth = np.asarray(depth, np.float32)
    if clear.ndim != 3 or clear.shape[2] != 3 or depth.shape != clear.shape[:2]:
        raise ValueError(f"add_haze needs clear HxWx3 and depth HxW, got {clear.shape} and {depth.shape}")
    if not 0.0 <= nonhomogeneous < 1.0:
        raise ValueError(f"nonhomogeneous must be in [0, 1), got {nonhomogeneous}")
    beta_map: np.ndarray | float = float(beta)
    if nonhomogeneous > 0:
        h, w = depth.shape
        noise = stretch(fractal_noise(rng, h, w, cells=(2.0, 2.0), octaves=3, persistence=0.5))
        beta_map = float(beta) * (1.0 + float(nonhomogeneous) * noise)
    t = np.exp(-beta_map * depth).astype(np.float32)
    if np.ndim(airlight) == 0:
        light: np.float32 | np.ndarray = np.float32(airlight)
    else:
        light = np.asarray(airlight, np.float32)
        if light.shape != (3,):
            raise ValueError(f"add_haze needs a scalar airlight or one per channel, got shape {light.shape}")
    hazy = clear * t[..., None] + light * (1.0 - t[..., None])
    return np.clip(hazy, 0.0, 1.0).astype(np.float32), t


# -------------------------------------------------------------------------------------------------- dataset


def image_rngs(seed: int, set_name: str, index: int) -> tuple[np.random.Generator, np.random.Generator]:
    """(scene stream, haze stream) of one image, from (seed, set, index) only."""
    scene, haze = np.random.SeedSequence([seed, SET_CODES[set_name], index]).spawn(2)
    return np.random.default_rng(scene), np.random.default_rng(haze)


def knob_rng(seed: int, set_name: str, index: int, knob: str) -> np.random.Generator:
    """The stream of one shift knob of one image: child `KNOB_STREAMS[knob]` spawned from the image's haze
    stream (``SeedSequence(...).spawn(2)[1].spawn(n)[k]``), so its draws move no beta or airlight draw and no
    other knob's."""
    sequence = np.random.SeedSequence([seed, SET_CODES[set_name], index], spawn_key=(1, KNOB_STREAMS[knob]))
    return np.random.default_rng(sequence)


def ramp_depth(height: int, width: int, near: float, far: float) -> np.ndarray:
    """`depth_model: ramp`: depth from the row only, `far` at the top row to `near` at the bottom (float32)."""
    rows = np.linspace(far, near, height, dtype=np.float64) if height > 1 else np.array([far])
    return np.broadcast_to(rows[:, None], (height, width)).astype(np.float32)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """The 8-bit image JPEG-compressed at `quality` (4:2:0) in memory and decoded again, as float32 in [0, 1]."""
    u8 = np.clip(np.rint(np.clip(image, 0.0, 1.0) * 255.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(u8).save(buffer, format="JPEG", quality=int(quality), subsampling="4:2:0")
    buffer.seek(0)
    with Image.open(buffer) as img:
        return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def haze_image(
    cfg: Mapping[str, Any],
    clear: np.ndarray,
    depth: np.ndarray,
    haze_rng: np.random.Generator,
    stream: tuple[int, str, int],
) -> tuple[np.ndarray, np.ndarray, float, float, list[float] | None]:
    """Haze one scene with a validated config: (hazy, the depth the haze used, beta, grey airlight, RGB airlight
    or None without a tint). `stream` is the image's (seed, set, index), for the knobs' sub-streams. The draws
    of beta, airlight and the nonhomogeneous noise come from `haze_rng` in the same order whatever the knobs."""
    if cfg["depth_model"] == "ramp":
        depth = ramp_depth(*depth.shape, *cfg["depth_range"])
    beta = float(haze_rng.uniform(*cfg["beta"]))
    airlight = float(haze_rng.uniform(*cfg["airlight"]))
    light: float | np.ndarray = airlight
    rgb = None
    if cfg["airlight_tint"] > 0:
        tint = cfg["airlight_tint"]
        u = knob_rng(*stream, "airlight_tint").uniform(-tint, tint, size=3)
        light = (airlight * (1.0 + u)).astype(np.float32)
        rgb = [round(float(v), 6) for v in light]
    hazy, _ = add_haze(clear, depth, beta, light, cfg["nonhomogeneous"], haze_rng)
    if cfg["noise"] > 0:
        noise = knob_rng(*stream, "noise").normal(0.0, cfg["noise"], size=hazy.shape).astype(np.float32)
        hazy = np.clip(hazy + noise, 0.0, 1.0).astype(np.float32)
    if cfg["jpeg_quality"] is not None:
        hazy = jpeg_roundtrip(hazy, cfg["jpeg_quality"])
    return hazy, depth, beta, airlight, rgb


def make_synthetic(name: str, params: Mapping[str, Any], out_dir: Path) -> Path:
    """Generate the dataset into out_dir and return out_dir / 'manifest.csv'.

    Layout: train/clear, train/hazy, test/clear, test/hazy, test/depth (16-bit PNG of depth * depth_scale),
    and val/clear, val/hazy, val/depth likewise (the validation split: `n_val` pairs).
    The four scene sets (train clear, train hazy, test, val) are disjoint because their seeds differ.
    Files of an earlier, larger generation that the new manifest does not list are removed.
    """
    cfg = validate_params(name, params)
    out_dir = Path(out_dir)
    height, width = cfg["size"]
    d_min, d_max = cfg["depth_range"]
    depth_scale = 65535.0 / d_max
    ext = cfg["format"]
    jobs = [("train_clear", i) for i in range(cfg["n_train_clear"])]
    jobs += [("train_hazy", i) for i in range(cfg["n_train_hazy"])]
    jobs += [("test", i) for i in range(cfg["n_test"])]
    jobs += [("val", i) for i in range(cfg["n_val"])]
    rows: list[dict[str, Any]] = []
    written: set[Path] = set()
    airlight_rgb: dict[str, list[float]] = {}

    def row(split: str, domain: str, scene: str, path: Path, **extra: Any) -> None:
        written.add(path)
        rows.append(
            {
                "dataset": name,
                "split": split,
                "domain": domain,
                "image_id": scene,
                "scene_id": scene,
                "path": str(path),
                **extra,
            }
        )

    for set_name, index in tqdm(
        jobs, desc=f"synthetic {name}", file=sys.stderr, mininterval=1.0, disable=len(jobs) < 50
    ):
        scene_rng, haze_rng = image_rngs(cfg["seed"], set_name, index)
        scene = f"{SET_PREFIX[set_name]}_{index:05d}"
        clear, depth = render_scene(scene_rng, height, width, depth_range=(d_min, d_max))
        if set_name == "train_clear":
            path = out_dir / "train" / "clear" / f"{scene}.{ext}"
            write_image(path, clear)
            row("train", "clear", scene, path)
            continue
        hazy, depth, beta, airlight, rgb = haze_image(cfg, clear, depth, haze_rng, (cfg["seed"], set_name, index))
        haze = {"beta": f"{beta:.6f}", "airlight": f"{airlight:.6f}"}
        split = "train" if set_name == "train_hazy" else set_name
        if rgb is not None:
            airlight_rgb[f"{split}/{scene}"] = rgb
        if set_name == "train_hazy":
            path = out_dir / "train" / "hazy" / f"{scene}.{ext}"
            write_image(path, hazy)
            row("train", "hazy", scene, path, **haze)
            continue
        clear_path = out_dir / split / "clear" / f"{scene}.{ext}"
        hazy_path = out_dir / split / "hazy" / f"{scene}.{ext}"
        depth_path = out_dir / split / "depth" / f"{scene}.png"
        write_image(clear_path, clear)
        write_image(hazy_path, hazy)
        write_uint16(depth_path, depth, depth_scale)
        written.add(depth_path)
        row(split, "hazy", scene, hazy_path, pair_id=scene, depth=str(depth_path), **haze)
        row(split, "clear", scene, clear_path, pair_id=scene, depth=str(depth_path))

    _remove_stale(out_dir, written)
    frame = pd.DataFrame(rows).fillna("")
    shift = {"shift_of": params["shift_of"]} if params.get("shift_of") is not None else {}
    tint = cfg["airlight_tint"]
    info = ManifestInfo(
        dataset=name,
        adapter="synthetic",
        layout="generated",
        extra={
            "params": cfg,
            **shift,
            "depth_scale": depth_scale,
            "depth_note": "test/depth/*.png and val/depth/*.png hold round(depth * depth_scale) as 16-bit; "
            "depth is in depth_range units, the sky at the far limit"
            + ("" if cfg["depth_model"] == "scene" else "; depth_model ramp: the depth the haze used (far at "
               "the top row, near at the bottom), not the scene's"),
            "airlight_model": "scalar grey airlight (same value for R, G, B)" if not tint else
            f"grey airlight A scaled per channel by (1 + u_c), u_c uniform in [-{tint:g}, {tint:g}]; the airlight "
            "column holds A, airlight_rgb the values used",
            **({"airlight_rgb": airlight_rgb} if tint else {}),
            "beta_note": "beta column is the base beta; nonhomogeneous > 0 modulates it per pixel",
            "degradations": {
                "depth_model": cfg["depth_model"],
                "noise_std": cfg["noise"],
                "jpeg_quality": cfg["jpeg_quality"],
                "order": "haze, then Gaussian noise (clipped to [0, 1]), then JPEG; hazy images only",
            },
            "val": {
                "pairs": cfg["n_val"],
                "how": "generated: n_val scenes of their own random stream (seed, 3, index), disjoint from "
                "the training and test scenes",
            },
            # what sizes the dehaze and evaluate jobs (cddgan.resources.sized_by_test_images)
            "test_megapixels": {
                "largest": round(height * width / 1e6, 4) if cfg["n_test"] else 0.0,
                "total": round(cfg["n_test"] * height * width / 1e6, 4),
            },
        },
    )
    manifest = out_dir / "manifest.csv"
    write_manifest(frame, manifest, info)
    return manifest


def _remove_stale(out_dir: Path, written: set[Path]) -> None:
    """Delete generator-named files in the generator's folders that this run did not write."""
    for sub in _OWN_FOLDERS:
        folder = out_dir / sub
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if _OWN_FILE.match(path.name) and path not in written:
                path.unlink()
