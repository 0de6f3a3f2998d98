"""Anti-aliased resampling (blur-pool), as CUT uses it by default.

Why: a stride-2 convolution aliases high frequencies; CUT blurs with a fixed binomial filter before
subsampling (`BlurDown`) and after zero-insertion upsampling (`BlurUp`). The filters are fixed, so they are
registered buffers: they follow `.to(device)` and appear in the state dict, as in the reference layout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _binomial_2d(taps: list[float]) -> torch.Tensor:
    """The separable 2-D filter outer(taps, taps), normalised to sum 1."""
    a = torch.tensor(taps, dtype=torch.float32)
    filt = a[:, None] * a[None, :]
    return filt / filt.sum()


class BlurDown(nn.Module):
    """Halve H and W: reflect-pad 1, depthwise 3x3 [1,2,1]x[1,2,1]/16 blur, stride 2 (output ceil(H/2))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.register_buffer("filt", _binomial_2d([1.0, 2.0, 1.0])[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.filt, stride=2, groups=self.channels)

    def extra_repr(self) -> str:
        return f"{self.channels}"


class BlurUp(nn.Module):
    """Double H and W exactly: replicate-pad 1, depthwise transposed conv with the 4x4 [1,3,3,1] filter
    (x4 so a constant image stays constant), stride 2, padding 2, then drop one border row/column per side."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.register_buffer(
            "filt", (_binomial_2d([1.0, 3.0, 3.0, 1.0]) * 4)[None, None].repeat(channels, 1, 1, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = F.conv_transpose2d(
            F.pad(x, (1, 1, 1, 1), mode="replicate"), self.filt, stride=2, padding=2, groups=self.channels
        )
        return up[:, :, 1:-1, 1:-1]

    def extra_repr(self) -> str:
        return f"{self.channels}"
