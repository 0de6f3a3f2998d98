"""Metric protocols and metric descriptions: what the numbers mean, without computing any.

Kept apart from `cddgan.metrics` (which imports piq, scikit-image and FADE) so that config validation and
the report can name protocols and metric directions without loading the metric libraries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from cddgan.errors import ConfigError

COLORS = ("rgb", "y")
SSIM_KERNEL = 11
SSIM_SIGMA = 1.5
# piq.psnr adds 1e-8 to the MSE, so identical images score -10*log10(1e-8) = 80 dB instead of inf.
PSNR_CAP_DB = 80.0
# pyfade's patch statistics need at least two 8-px patches per side.
FADE_MIN_SIDE = 16
# Values this far outside [0, 1] are float noise from a network; further out is a bug upstream.
RANGE_TOLERANCE = 1e-4


@dataclass(frozen=True)
class MetricInfo:
    """How the report shows a metric: its header, the better direction (for arrows and bold), its digits."""

    display: str
    higher_is_better: bool
    digits: int
    reference: str  # "full" (needs ground truth) or "none"


METRIC_INFO: dict[str, MetricInfo] = {
    "psnr": MetricInfo("PSNR (dB)", True, 2, "full"),
    "ssim": MetricInfo("SSIM", True, 4, "full"),
    "ciede2000": MetricInfo("CIEDE2000", False, 3, "full"),
    "fade": MetricInfo("FADE", False, 3, "none"),
    "lpips": MetricInfo("LPIPS", False, 4, "full"),
    "brisque": MetricInfo("BRISQUE", False, 2, "none"),
}
FULL_REFERENCE = ("psnr", "ssim", "ciede2000")
NO_REFERENCE = ("fade",)


# --------------------------------------------------------------------------------------------- protocol


_NAME_PATTERN = re.compile(r"^(rgb|y)-(ds|nods)-crop(\d+)$")
_CONFIG_KEYS = ("color", "ssim_downsample", "crop")


@dataclass(frozen=True)
class Protocol:
    """The conventions that turn a (prediction, ground truth) pair into numbers.

    `color`: "rgb" (PSNR/SSIM on R, G, B in [0, 1]) or "y" (BT.601 luma as MATLAB's rgb2ycbcr, / 255).
    `ssim_downsample`: piq's MATLAB-style average-pool by round(min(H, W) / 256) before SSIM.
    `crop`: pixels removed from every side before every metric (CIEDE2000 and FADE included).
    """

    color: str = "rgb"
    ssim_downsample: bool = True
    crop: int = 0
    data_range: float = 1.0

    def __post_init__(self) -> None:
        _check_protocol_values(
            {"color": self.color, "ssim_downsample": self.ssim_downsample, "crop": self.crop}, "Protocol"
        )
        if self.data_range != 1.0:
            raise ConfigError(f"Protocol.data_range: got {self.data_range}; images are always in [0, 1]")

    @property
    def name(self) -> str:
        """A stable id such as ``rgb-ds-crop0``, written into every metrics.csv row."""
        return f"{self.color}-{'ds' if self.ssim_downsample else 'nods'}-crop{self.crop}"

    def describe(self) -> str:
        """One line for under every table, so a reader can compare with papers that used other conventions."""
        space = (
            "RGB in [0,1]"
            if self.color == "rgb"
            else "the BT.601 Y channel (MATLAB rgb2ycbcr, Y/255)"
        )
        ds = "MATLAB-style downsampling (piq)" if self.ssim_downsample else "no downsampling"
        return (
            f"PSNR/SSIM on {space} (8-bit PNG outputs); SSIM Gaussian {SSIM_KERNEL}x{SSIM_KERNEL}, "
            f"sigma {SSIM_SIGMA}, {ds}; border crop {self.crop} px; "
            "CIEDE2000 (scikit-image) on sRGB under D65"
        )

    @classmethod
    def from_config(cls, value: Any = None, where: str = "protocol") -> Protocol:
        """Accept a `PROTOCOLS` key, a derived name (``y-nods-crop10``), a field dict or None (default)."""
        if value is None:
            return PROTOCOLS[DEFAULT_PROTOCOL]
        if isinstance(value, Protocol):
            return value
        if isinstance(value, str):
            if value in PROTOCOLS:
                return PROTOCOLS[value]
            match = _NAME_PATTERN.match(value)
            if match:
                return cls(color=match[1], ssim_downsample=match[2] == "ds", crop=int(match[3]))
            raise ConfigError(
                f"{where}: unknown protocol {value!r}; use one of {', '.join(PROTOCOLS)}, a name like "
                "'y-nods-crop4', or a mapping with keys color, ssim_downsample, crop"
            )
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - set(_CONFIG_KEYS))
            if unknown:
                raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {', '.join(_CONFIG_KEYS)}")
            base = PROTOCOLS[DEFAULT_PROTOCOL]
            fields = {key: value.get(key, getattr(base, key)) for key in _CONFIG_KEYS}
            _check_protocol_values(fields, where)
            return cls(**fields)
        raise ConfigError(f"{where}: expected a protocol name or a mapping, got {type(value).__name__}")


def _check_protocol_values(fields: Mapping[str, Any], where: str) -> None:
    """Raise a `ConfigError` naming the first bad key; bools are not accepted as crops and vice versa."""
    if fields["color"] not in COLORS:
        raise ConfigError(f"{where}.color: got {fields['color']!r}; allowed: {', '.join(COLORS)}")
    if not isinstance(fields["ssim_downsample"], bool):
        raise ConfigError(f"{where}.ssim_downsample: got {fields['ssim_downsample']!r}; use true or false")
    crop = fields["crop"]
    if isinstance(crop, bool) or not isinstance(crop, int | np.integer) or crop < 0:
        raise ConfigError(f"{where}.crop: got {crop!r}; use a whole number of pixels >= 0")


PROTOCOLS: dict[str, Protocol] = {
    "rgb": Protocol("rgb", True, 0),  # D4's table and piq's defaults
    "rgb-nods": Protocol("rgb", False, 0),  # Wang et al.'s SSIM at full resolution
    "y": Protocol("y", False, 0),  # BasicSR: Y channel, no downsampling
}
DEFAULT_PROTOCOL = "rgb"
