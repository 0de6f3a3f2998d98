"""What the report needs to know about metrics and protocols, looked up in `cddgan.metrics`.

`cddgan.metrics` owns the facts (display name, which way is better, digits, the protocol description);
this module only adapts them to the report and degrades gracefully for a metric it does not describe
(the metric's own name, no arrow, no best/second marks: guessing a direction would mark the wrong row).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cddgan.errors import HarnessError

# Order of the well-known metrics in tables; any other metric follows alphabetically.
PREFERRED_ORDER = ("psnr", "ssim", "ciede2000", "fade")

# Units of the differences the report states in words ("-0.36 dB").
UNITS = {"psnr": "dB"}
# What a metric measures, said under every table that shows it, where its name alone misleads.
METRIC_NOTES = {
    "fade": (
        "FADE (no reference) measures haze density: lower means less haze, but lower is not always better — "
        "an over-dehazed, over-saturated image scores low too."
    ),
}

# Used only when `cddgan.metrics` cannot be imported (e.g. a report rebuilt in a slim environment without
# torch/piq): the directions of the standard metrics are textbook facts, not harness choices.
_FALLBACK_INFO = {
    "psnr": {"display": "PSNR", "higher_is_better": True, "digits": 2},
    "ssim": {"display": "SSIM", "higher_is_better": True, "digits": 3},
    "ciede2000": {"display": "CIEDE2000", "higher_is_better": False, "digits": 2},
    "fade": {"display": "FADE", "higher_is_better": False, "digits": 3},
}


@dataclass(frozen=True)
class MetricMeta:
    """Display facts of one metric column."""

    key: str
    display: str
    higher_is_better: bool | None
    digits: int

    @property
    def arrow(self) -> str:
        """↑ when higher is better, ↓ when lower is, empty when unknown."""
        if self.higher_is_better is None:
            return ""
        return "↑" if self.higher_is_better else "↓"

    @property
    def header(self) -> str:
        return f"{self.display} {self.arrow}".strip()

    @property
    def unit(self) -> str:
        """The unit of a difference in this metric ("dB" for PSNR), empty when it has none."""
        return UNITS.get(self.key, "")

    def fmt(self, value: float | None) -> str:
        """The value at the metric's precision; an en dash for a missing value."""
        if value is None or value != value:  # NaN check without numpy
            return "–"
        return f"{value:.{self.digits}f}"


def metric_meta(key: str) -> MetricMeta:
    """Facts about metric column `key` from `cddgan.metrics.METRIC_INFO`, or neutral defaults."""
    try:
        from cddgan.protocols import METRIC_INFO
    except ImportError:
        METRIC_INFO = _FALLBACK_INFO
    info = METRIC_INFO.get(key)
    if info is None:
        return MetricMeta(key, key, None, 3)
    if isinstance(info, Mapping):
        return MetricMeta(key, info["display"], info["higher_is_better"], info["digits"])
    return MetricMeta(key, info.display, bool(info.higher_is_better), int(info.digits))


def metric_notes(keys: list[str] | set[str]) -> list[str]:
    """The notes (`METRIC_NOTES`) of the metrics a table shows, in table order."""
    return [METRIC_NOTES[k] for k in order_metrics(keys) if k in METRIC_NOTES]


def order_metrics(keys: list[str] | set[str]) -> list[str]:
    """Well-known metrics first in a fixed order, then the rest alphabetically."""
    known = [k for k in PREFERRED_ORDER if k in keys]
    return known + sorted(k for k in keys if k not in PREFERRED_ORDER)


def describe_protocol(name: str) -> str:
    """One line saying how the metrics were computed (from the protocol name in the metric CSVs)."""
    try:
        from cddgan.protocols import Protocol
    except ImportError:
        return f"protocol {name}"
    try:
        return f"{Protocol.from_config(name).describe()} (protocol {name})"
    except HarnessError:  # a name this version does not parse: show it as recorded
        return f"protocol {name}"


def skipped_metric_notices(metrics_config: Mapping | None) -> list[str]:
    """Lines such as "lpips: skipped, no local weights file configured under metrics.weights.lpips"."""
    try:
        from cddgan.metrics import optional_metrics
    except ImportError:
        return []
    weights = dict((metrics_config or {}).get("weights") or {})
    try:
        result = optional_metrics(weights)
    except HarnessError as exc:  # the notice is informative; the config check reports this properly
        return [f"optional metrics: {exc}"]
    return [f"{name}: skipped, {reason}" for name, reason in result.skipped.items()]
