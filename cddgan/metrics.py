"""Image-quality metrics under one named, pinned protocol.

Published dehazing numbers differ as much through metric conventions (RGB or Y channel, SSIM downsampling,
border crops) as through methods, so every score the harness writes carries the name of the `Protocol` that
produced it, and every table prints `Protocol.describe()` underneath. See docs/protocol.md for which protocol
matches which paper.

Full-reference metrics: PSNR and SSIM from piq, CIEDE2000 from scikit-image. No-reference: FADE
(`fade-python`, a MATLAB-aligned port of Choi et al.'s fog density). Metrics whose models must be downloaded
(BRISQUE's SVM, LPIPS, FID's Inception) run only when the config names local weight files: nothing here ever
touches the network.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import piq
import torch
from skimage.color import deltaE_ciede2000, rgb2lab
from tqdm import tqdm

from cddgan.errors import ConfigError, ImageError
from cddgan.io import read_image
from cddgan.protocols import (  # noqa: F401  (re-exported: the metric API names them)
    COLORS,
    DEFAULT_PROTOCOL,
    FADE_MIN_SIDE,
    FULL_REFERENCE,
    METRIC_INFO,
    NO_REFERENCE,
    PROTOCOLS,
    PSNR_CAP_DB,
    RANGE_TOLERANCE,
    SSIM_KERNEL,
    SSIM_SIGMA,
    MetricInfo,
    Protocol,
)

# --------------------------------------------------------------------------------------------- pieces


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """BT.601 luma as MATLAB's rgb2ycbcr on [0, 1] input, divided by 255: HxWx3 -> HxWx1 in [16, 235]/255."""
    rgb = np.asarray(image, dtype=np.float64)
    y = 16.0 + rgb[..., 0] * 65.481 + rgb[..., 1] * 128.553 + rgb[..., 2] * 24.966
    return (y / 255.0)[..., None]


def crop_border(image: np.ndarray, crop: int) -> np.ndarray:
    """Remove `crop` pixels from every side; an image that would vanish is an `ImageError`."""
    if crop == 0:
        return image
    height, width = image.shape[:2]
    if height <= 2 * crop or width <= 2 * crop:
        raise ImageError(f"image of {height}x{width} px is too small for a border crop of {crop} px per side")
    return image[crop:-crop, crop:-crop]


def _checked(image: np.ndarray, label: str) -> np.ndarray:
    """An HxWx3 float64 copy clipped to [0, 1], or an `ImageError` that names `label`."""
    array = np.asarray(image, dtype=np.float64)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ImageError(f"{label}: expected an HxWx3 RGB array, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ImageError(f"{label}: contains NaN or inf values")
    low, high = float(array.min()), float(array.max())
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise ImageError(f"{label}: values must lie in [0, 1], found [{low:.4g}, {high:.4g}]")
    return np.clip(array, 0.0, 1.0)


def _channels(image: np.ndarray, protocol: Protocol) -> np.ndarray:
    return rgb_to_y(image) if protocol.color == "y" else image


def _tensor(image: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).to(dtype)[None]


def _prepared(pred: np.ndarray, gt: np.ndarray, protocol: Protocol) -> tuple[np.ndarray, np.ndarray]:
    """Both images checked, cropped by the protocol and reduced to its colour channels (RGB or Y)."""
    pred = _checked(pred, "prediction")
    gt = _checked(gt, "ground truth")
    if pred.shape != gt.shape:
        raise ImageError(
            f"prediction is {pred.shape[1]}x{pred.shape[0]} px but ground truth is "
            f"{gt.shape[1]}x{gt.shape[0]} px"
        )
    return crop_border(pred, protocol.crop), crop_border(gt, protocol.crop)


def _psnr(x: np.ndarray, y: np.ndarray, protocol: Protocol) -> float:
    return float(piq.psnr(_tensor(x, torch.float64), _tensor(y, torch.float64), data_range=protocol.data_range))


def psnr(pred: np.ndarray, gt: np.ndarray, protocol: Protocol) -> float:
    """PSNR of one HxWx3 prediction against its ground truth under `protocol`: the tables' PSNR, for the
    few places that need it alone (the report's visual comparison)."""
    pred, gt = _prepared(pred, gt, protocol)
    return _psnr(_channels(pred, protocol), _channels(gt, protocol), protocol)


def full_reference(pred: np.ndarray, gt: np.ndarray, protocol: Protocol) -> dict[str, float]:
    """PSNR, SSIM and mean CIEDE2000 of one HxWx3 prediction against its ground truth, both in [0, 1].

    PSNR is computed in float64 (capped at `PSNR_CAP_DB` for identical images, as piq does); SSIM in float32
    because piq's float64 convolutions are 20-40x slower on CPU and change SSIM by < 1e-6.
    """
    pred, gt = _prepared(pred, gt, protocol)
    if min(pred.shape[:2]) < SSIM_KERNEL:
        raise ImageError(
            f"image of {pred.shape[1]}x{pred.shape[0]} px (after a {protocol.crop} px crop) is smaller than "
            f"SSIM's {SSIM_KERNEL}x{SSIM_KERNEL} window; remove it from the test set or lower the protocol's crop"
        )
    x, y = _channels(pred, protocol), _channels(gt, protocol)
    ssim = piq.ssim(
        _tensor(x, torch.float32),
        _tensor(y, torch.float32),
        kernel_size=SSIM_KERNEL,
        kernel_sigma=SSIM_SIGMA,
        data_range=protocol.data_range,
        downsample=protocol.ssim_downsample,
    )
    delta_e = deltaE_ciede2000(rgb2lab(pred), rgb2lab(gt))
    return {"psnr": _psnr(x, y, protocol), "ssim": float(ssim), "ciede2000": float(delta_e.mean())}


def no_reference(pred: np.ndarray, protocol: Protocol) -> dict[str, float]:
    """FADE fog density of one HxWx3 image in [0, 1] (lower = less haze).

    NaN where FADE is undefined: images under 16 px a side after the crop, and flat images (pyfade's own NaN).
    The aggregation must therefore use NaN-aware means and report the count.
    """
    import pyfade

    pred = crop_border(_checked(pred, "prediction"), protocol.crop)
    if min(pred.shape[:2]) < FADE_MIN_SIDE:
        return {"fade": math.nan}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # flat patches divide by zero inside pyfade
        return {"fade": float(pyfade.fade_array(pred))}


# --------------------------------------------------------------------------------------------- optional


_OPTIONAL_NEEDS: dict[str, tuple[str, ...]] = {
    "brisque": ("brisque",),
    "lpips": ("lpips", "vgg16"),
    "fid": ("fid",),
}
_WEIGHT_FILES = {
    "brisque": "piq's brisque_svm_weights.pt (support-vector coefficients and vectors)",
    "lpips": "piq's lpips_weights.pt (per-layer channel weights)",
    "vgg16": "a torchvision VGG16 state dict (full model or its .features)",
    "fid": "an Inception-v3 FID state dict",
}


@dataclass(frozen=True)
class OptionalMetrics:
    """Which weight-needing metrics will run (with their files) and why the others will not."""

    runnable: dict[str, dict[str, Path]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def messages(self) -> list[str]:
        """Human-readable lines for the log and the report."""
        lines = []
        for name, files in self.runnable.items():
            lines.append(f"{name}: runs with {', '.join(str(path) for path in files.values())}")
        return lines + [f"{name}: skipped, {reason}" for name, reason in self.skipped.items()]


def optional_metrics(weights: Mapping[str, str] | None, where: str = "metrics.weights") -> OptionalMetrics:
    """Decide which of BRISQUE, LPIPS and FID can run from locally configured weight files.

    A key we do not know, or a configured file that does not exist, is a `ConfigError` (a typo should not
    silently drop a metric); a metric with no file configured is skipped with the reason.
    """
    weights = dict(weights or {})
    unknown = sorted(set(weights) - set(_WEIGHT_FILES))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {', '.join(_WEIGHT_FILES)}")
    paths: dict[str, Path] = {}
    for key, value in weights.items():
        path = Path(str(value)).expanduser()
        if not path.is_file():
            raise ConfigError(f"{where}.{key}: file {path} not found; it should be {_WEIGHT_FILES[key]}")
        paths[key] = path
    runnable: dict[str, dict[str, Path]] = {}
    skipped: dict[str, str] = {}
    for name, needs in _OPTIONAL_NEEDS.items():
        missing = [key for key in needs if key not in paths]
        if missing:
            keys = " and ".join(f"{where}.{key}" for key in missing)
            skipped[name] = f"no local weights file configured under {keys}"
        elif name == "fid":
            skipped[name] = "FID compares image sets, not pairs; evaluate_pairs does not compute it"
        else:
            runnable[name] = {key: paths[key] for key in needs}
    return OptionalMetrics(runnable, skipped)


class _Brisque:
    """BRISQUE with piq's feature extraction and an SVR read from a local file instead of a download."""

    GAMMA = 0.05  # RBF width and bias of the published LIVE model
    RHO = -153.591

    def __init__(self, path: Path) -> None:
        sv_coef, sv = torch.load(path, map_location="cpu", weights_only=True)
        self.sv_coef = sv_coef.to(torch.float64).reshape(-1)
        self.sv = sv.to(torch.float64).reshape(self.sv_coef.numel(), -1)  # (n_vectors, 36)

    def features(self, image: np.ndarray) -> torch.Tensor:
        from piq.brisque import _natural_scene_statistics, _scale_features
        from piq.functional import imresize, rgb2yiq

        x = _tensor(image, torch.float64) * 255
        luma = torch.round(rgb2yiq(x)[:, :1])  # as piq.brisque: MATLAB's rgb2gray keeps uint8 values
        feats = []
        for _ in range(2):
            feats.append(_natural_scene_statistics(luma, 7, 7 / 6))
            luma = imresize(luma, sizes=(luma.size(2) // 2, luma.size(3) // 2))
        return _scale_features(torch.cat(feats, dim=-1))

    def __call__(self, image: np.ndarray) -> float:
        try:
            feats = self.features(image)
        except AssertionError:  # piq asserts on flat images where the statistics are undefined
            return math.nan
        dist = ((feats[:, :, None] - self.sv.T[None]) ** 2).sum(dim=1)
        return float(torch.exp(-self.GAMMA * dist) @ self.sv_coef - self.RHO)


class _Lpips:
    """LPIPS (VGG16, Zhang et al. 2018) from local VGG16 and LPIPS weight files via piq's ContentLoss."""

    LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")

    def __init__(self, vgg16_path: Path, lpips_path: Path) -> None:
        from piq.perceptual import VGG16_LAYERS, ContentLoss
        from torchvision.models.vgg import cfgs, make_layers

        state = torch.load(vgg16_path, map_location="cpu", weights_only=True)
        # Accept the whole torchvision model's state dict or only its `.features` part.
        state = {key.removeprefix("features."): val for key, val in state.items() if "classifier" not in key}
        features = make_layers(cfgs["D"])  # VGG16's convolutional part, without initialising the classifier
        features.load_state_dict(state)
        layer_weights = torch.load(lpips_path, map_location="cpu", weights_only=True)
        self.loss = ContentLoss(
            feature_extractor=features.eval(),
            layers=[VGG16_LAYERS[name] for name in self.LAYERS],
            weights=list(layer_weights),
            distance="mse",
            reduction="none",
            normalize_features=True,
        )

    @torch.no_grad()
    def __call__(self, pred: np.ndarray, gt: np.ndarray) -> float:
        return float(self.loss(_tensor(pred, torch.float32), _tensor(gt, torch.float32))[0])


def _load_optional(available: OptionalMetrics) -> dict[str, Any]:
    scorers: dict[str, Any] = {}
    if "brisque" in available.runnable:
        scorers["brisque"] = _Brisque(available.runnable["brisque"]["brisque"])
    if "lpips" in available.runnable:
        files = available.runnable["lpips"]
        scorers["lpips"] = _Lpips(files["vgg16"], files["lpips"])
    return scorers


# --------------------------------------------------------------------------------------------- evaluation


def metric_columns(weights: Mapping[str, str] | None = None) -> list[str]:
    """The metric columns `evaluate_pairs` writes, in order, for this weights config."""
    return _metric_columns(optional_metrics(weights))


def _metric_columns(available: OptionalMetrics) -> list[str]:
    return [*FULL_REFERENCE, *NO_REFERENCE, *available.runnable]


def _given(path: Any) -> bool:
    """False for "", None and NaN: how a manifest without ground truth spells a missing path."""
    return path is not None and not (isinstance(path, float) and math.isnan(path)) and str(path) != ""


def evaluate_pairs(
    pairs: Iterable[tuple[str, str, str]],
    protocol: Protocol,
    *,
    progress: bool = True,
    weights: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Score (image_id, pred_path, gt_path) triples: one row per image; gt_path "", None or NaN for none.

    Columns are always ``image_id, protocol, psnr, ssim, ciede2000, fade`` (+ configured optional metrics),
    so every metrics.csv concatenates cleanly; full-reference cells are NaN where no ground truth is given.
    FADE runs on every image (cheap: see docs/benchmarks.md), so real-haze sets without ground truth get a
    score too.
    """
    available = optional_metrics(weights)
    scorers = _load_optional(available)
    columns = ["image_id", "protocol", *_metric_columns(available)]
    rows: list[dict[str, Any]] = []
    pairs = list(pairs)
    for image_id, pred_path, gt_path in tqdm(pairs, desc="evaluate", file=sys.stderr, disable=not progress):
        pred = read_image(pred_path)
        row: dict[str, Any] = {"image_id": image_id, "protocol": protocol.name}
        if _given(gt_path):
            gt = read_image(gt_path)
            if pred.shape != gt.shape:
                raise ImageError(
                    f"{pred_path} is {pred.shape[1]}x{pred.shape[0]} px but its ground truth {gt_path} is "
                    f"{gt.shape[1]}x{gt.shape[0]} px; outputs must keep the input size"
                )
            try:
                row.update(full_reference(pred, gt, protocol))
            except ImageError as exc:
                raise ImageError(f"{pred_path} vs {gt_path}: {exc}") from exc
            if "lpips" in scorers:
                row["lpips"] = scorers["lpips"](crop_border(pred, protocol.crop), crop_border(gt, protocol.crop))
        try:
            row.update(no_reference(pred, protocol))
        except ImageError as exc:
            raise ImageError(f"{pred_path}: {exc}") from exc
        if "brisque" in scorers:
            row["brisque"] = scorers["brisque"](crop_border(pred, protocol.crop))
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)
