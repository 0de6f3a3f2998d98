"""Dark Channel Prior dehazing (He, Sun, Tang, CVPR 2009 / TPAMI 2011) with guided-filter refinement.

The haze model is I = J t + A (1 - t). In haze-free outdoor patches some colour channel is close to 0 (the
dark channel prior), so the dark channel of I / A estimates 1 - t. Everything is batched torch on (B, 3, H, W):
the min filter is a separable max-pool on the negated image and the guided filter's box means come from
cumulative sums, so the cost per pixel does not grow with the patch size or the radius.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from cddgan.errors import ConfigError
from cddgan.methods import Method, register

# BT.601 luma weights for the grey guide image.
GREY_WEIGHTS = (0.299, 0.587, 0.114)
# Lower bound on the airlight, so an all-black image does not divide by zero.
MIN_AIRLIGHT = 1e-3


@register("dcp")
class DarkChannelPrior(Method):
    """Training-free DCP baseline; the defaults are He et al.'s published values.

    Settings: `patch` (odd min-filter size), `omega` (haze kept for depth perception), `top_fraction` (share of
    brightest dark-channel pixels that are airlight candidates), `airlight` ("brightest": the candidate with the
    highest input intensity, as in the paper; "mean": the candidates' mean colour, steadier on noisy skies),
    `t0` (lower bound on the transmission), `refine` (guided filter on/off), `radius` (guided-filter radius,
    clipped to a quarter of the shorter image side so small images keep local structure), `eps`
    (guided-filter regulariser).
    """

    defaults: ClassVar[dict[str, Any]] = {
        "patch": 15,
        "omega": 0.95,
        "top_fraction": 0.001,
        "airlight": "brightest",
        "t0": 0.1,
        "refine": True,
        "radius": 40,
        "eps": 1e-3,
    }

    def __init__(self, settings: Mapping[str, Any] | None = None, device: torch.device | str = "cpu") -> None:
        super().__init__(settings, device)
        _validate(self.settings, f"runs.<{self.name}>.settings")

    @torch.no_grad()
    def dehaze(self, hazy: torch.Tensor) -> torch.Tensor:
        s = self.settings
        hazy = hazy.to(self.device)
        airlight = estimate_airlight(hazy, s["patch"], s["top_fraction"], s["airlight"])
        transmission = estimate_transmission(hazy, airlight, s["patch"], s["omega"])
        if s["refine"]:
            radius = effective_radius(s["radius"], hazy.shape[-2], hazy.shape[-1])
            transmission = guided_filter(grey(hazy), transmission, radius, s["eps"])
        return recover(hazy, airlight, transmission, s["t0"])


def _validate(settings: dict[str, Any], where: str) -> None:
    """Reject settings that would crash or silently do nothing, naming the key."""
    patch = settings["patch"]
    if isinstance(patch, bool) or not isinstance(patch, int) or patch < 1 or patch % 2 == 0:
        raise ConfigError(f"{where}.patch: got {patch!r}; use an odd whole number >= 1 (He et al.: 15)")
    for key, low, high in (("omega", 0.0, 1.0), ("top_fraction", 0.0, 1.0), ("t0", 0.0, 1.0)):
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not low < value <= high:
            raise ConfigError(f"{where}.{key}: got {value!r}; use a number in ({low}, {high}]")
    if settings["airlight"] not in ("brightest", "mean"):
        raise ConfigError(f"{where}.airlight: got {settings['airlight']!r}; use 'brightest' or 'mean'")
    if not isinstance(settings["refine"], bool):
        raise ConfigError(f"{where}.refine: got {settings['refine']!r}; use true or false")
    radius = settings["radius"]
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 1:
        raise ConfigError(f"{where}.radius: got {radius!r}; use a whole number of pixels >= 1")
    eps = settings["eps"]
    if isinstance(eps, bool) or not isinstance(eps, int | float) or eps <= 0:
        raise ConfigError(f"{where}.eps: got {eps!r}; use a positive number (He et al.: 1e-3)")


def min_filter(x: torch.Tensor, size: int) -> torch.Tensor:
    """Per-channel minimum over a size x size window; the window is clipped at the borders (like imerode)."""
    pad = size // 2
    x = -F.max_pool2d(-x, (1, size), stride=1, padding=(0, pad))
    return -F.max_pool2d(-x, (size, 1), stride=1, padding=(pad, 0))


def dark_channel(x: torch.Tensor, patch: int) -> torch.Tensor:
    """min over colour channels, then over a patch x patch window: (B, 3, H, W) -> (B, 1, H, W)."""
    return min_filter(x.amin(dim=1, keepdim=True), patch)


def estimate_airlight(hazy: torch.Tensor, patch: int, top_fraction: float, mode: str) -> torch.Tensor:
    """Airlight A per image, (B, 3, 1, 1), from the brightest `top_fraction` of dark-channel pixels."""
    batch = hazy.shape[0]
    dark = dark_channel(hazy, patch).flatten(1)  # (B, N)
    count = max(1, int(dark.shape[1] * top_fraction))
    index = dark.topk(count, dim=1).indices  # (B, count)
    pixels = hazy.flatten(2).gather(2, index[:, None, :].expand(batch, 3, count))  # (B, 3, count)
    if mode == "mean":
        airlight = pixels.mean(dim=2)
    else:
        brightest = pixels.sum(dim=1).argmax(dim=1)  # (B,)
        airlight = pixels[torch.arange(batch, device=hazy.device), :, brightest]
    return airlight.clamp(min=MIN_AIRLIGHT).view(batch, 3, 1, 1)


def estimate_transmission(hazy: torch.Tensor, airlight: torch.Tensor, patch: int, omega: float) -> torch.Tensor:
    """Raw transmission t~ = 1 - omega * dark_channel(I / A), (B, 1, H, W)."""
    return 1.0 - omega * dark_channel(hazy / airlight, patch)


def grey(x: torch.Tensor) -> torch.Tensor:
    """BT.601 grey image (B, 1, H, W): the guide of the guided filter."""
    weights = torch.tensor(GREY_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


def effective_radius(radius: int, height: int, width: int) -> int:
    """`radius` clipped to a quarter of the shorter side (>= 1): unchanged for images of 4 * radius px or more.

    A window as large as the image turns the guided filter into one global linear fit and loses the
    depth edges it is there to keep; He et al.'s r = 40-60 on ~600 px images is about 1/10 of the side.
    """
    return max(1, min(radius, min(height, width) // 4))


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over a (2r+1)^2 window clipped at the borders, from cumulative sums: O(1) per pixel in r."""
    return _box_mean_1d(_box_mean_1d(x, radius, dim=-1), radius, dim=-2)


def _box_mean_1d(x: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    size = x.shape[dim]
    # float64 sums: a float32 running sum over ~1000 values loses the small differences the filter needs.
    csum = torch.cumsum(x.to(torch.float64), dim=dim)
    csum = torch.cat([torch.zeros_like(csum.narrow(dim, 0, 1)), csum], dim=dim)
    pos = torch.arange(size, device=x.device)
    upper = (pos + radius + 1).clamp(max=size)
    lower = (pos - radius).clamp(min=0)
    total = csum.index_select(dim, upper) - csum.index_select(dim, lower)
    shape = [1] * x.dim()
    shape[dim] = size
    return (total / (upper - lower).to(torch.float64).view(shape)).to(x.dtype)


def guided_filter(guide: torch.Tensor, source: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """He et al.'s guided filter with a one-channel guide: an edge-aware smoothing of `source`."""
    mean_i = box_mean(guide, radius)
    mean_p = box_mean(source, radius)
    cov_ip = box_mean(guide * source, radius) - mean_i * mean_p
    var_i = box_mean(guide * guide, radius) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box_mean(a, radius) * guide + box_mean(b, radius)


def recover(hazy: torch.Tensor, airlight: torch.Tensor, transmission: torch.Tensor, t0: float) -> torch.Tensor:
    """Invert the haze model: J = (I - A) / max(t, t0) + A, clipped to [0, 1]."""
    return ((hazy - airlight) / transmission.clamp(min=t0) + airlight).clamp(0.0, 1.0)
