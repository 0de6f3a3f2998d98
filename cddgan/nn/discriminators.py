"""PatchGAN discriminator (Isola et al.): a fully convolutional critic whose every output cell judges
one receptive-field patch (70x70 with 3 layers).

With `antialias=True` (CUT's default) every stride-2 convolution becomes a stride-1 convolution followed by
`BlurDown`; with `antialias=False` it is CycleGAN's 70x70 PatchGAN. Kernel 4, padding 1, LeakyReLU 0.2,
instance norm (no affine) on all but the first and last convolutions, which therefore all keep their bias.
"""

from __future__ import annotations

import torch
from torch import nn

from cddgan.errors import ConfigError
from cddgan.nn.blur import BlurDown


class PatchDiscriminator(nn.Module):
    """Returns raw scores (B, 1, h, w); the GAN loss decides how to read them."""

    def __init__(self, in_ch: int = 3, ndf: int = 64, n_layers: int = 3, antialias: bool = True) -> None:
        super().__init__()
        if n_layers < 1 or ndf < 1:
            raise ConfigError(f"discriminator needs ndf >= 1 and n_layers_D >= 1 (got {ndf}, {n_layers})")

        def down(c_in: int, c_out: int, norm: bool) -> list[nn.Module]:
            stride = 1 if antialias else 2
            mods: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, stride=stride, padding=1, bias=True)]
            if norm:
                mods.append(nn.InstanceNorm2d(c_out))
            mods.append(nn.LeakyReLU(0.2, True))
            if antialias:
                mods.append(BlurDown(c_out))
            return mods

        mods = down(in_ch, ndf, norm=False)
        width = ndf
        for n in range(1, n_layers):
            nxt = ndf * min(2**n, 8)
            mods += down(width, nxt, norm=True)
            width = nxt
        last = ndf * min(2**n_layers, 8)
        mods += [
            nn.Conv2d(width, last, 4, stride=1, padding=1, bias=True),
            nn.InstanceNorm2d(last),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(last, 1, 4, stride=1, padding=1, bias=True),
        ]
        self.model = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
