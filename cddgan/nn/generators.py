"""The ResNet generator of CUT and CycleGAN as one flat sequence of modules.

Why flat: PatchNCE taps features by module index (`nce_layers`, default 0,4,8,12,16), so the index of
every module is part of the method's definition. With `antialias=True` (CUT's default) the layout is:

    0-3    ReflectionPad(3), Conv7 (in -> ngf), IN, ReLU
    4-7    Conv3 (ngf -> 2ngf), IN, ReLU, BlurDown
    8-11   Conv3 (2ngf -> 4ngf), IN, ReLU, BlurDown
    12-    n_blocks ResnetBlocks at 4ngf
    then   BlurUp, Conv3 (4ngf -> 2ngf), IN, ReLU; BlurUp, Conv3 (2ngf -> ngf), IN, ReLU
    last   ReflectionPad(3), Conv7 (ngf -> out), Tanh

`antialias=False` gives CycleGAN's layout (each down step = stride-2 Conv3, IN, ReLU: 3 modules) and
`antialias_up=False` its upsampling (ConvTranspose3 s2, IN, ReLU). Instance norm has no affine parameters,
so every convolution keeps its bias. A feature "at index i" is the output of module i.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cddgan.errors import ConfigError
from cddgan.nn.blur import BlurDown, BlurUp


class ResnetBlock(nn.Module):
    """x + [ReflPad1, Conv3, IN, ReLU, ReflPad1, Conv3, IN](x): a residual block at constant width."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=True),
            nn.InstanceNorm2d(channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=True),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """Image-to-image ResNet generator (Johnson et al.), output in [-1, 1] through tanh.

    `forward(x)` returns the image; `forward(x, layers)` returns (image, features at `layers`);
    `forward(x, layers, encode_only=True)` returns the features only and stops after the deepest requested
    layer (the encoder pass PatchNCE needs). Features come back in the order of `layers`.
    """

    def __init__(
        self,
        in_ch: int = 3,
        out_ch: int = 3,
        ngf: int = 64,
        n_blocks: int = 9,
        antialias: bool = True,
        antialias_up: bool = True,
    ) -> None:
        super().__init__()
        if n_blocks < 0 or ngf < 1:
            raise ConfigError(
                f"generator needs ngf >= 1 and n_blocks >= 0 (got ngf={ngf}, n_blocks={n_blocks})"
            )
        mods: list[nn.Module] = []
        widths: list[int] = []  # output channels of every module, by index

        def add(module: nn.Module, width: int) -> None:
            mods.append(module)
            widths.append(width)

        add(nn.ReflectionPad2d(3), in_ch)
        add(nn.Conv2d(in_ch, ngf, 7, bias=True), ngf)
        add(nn.InstanceNorm2d(ngf), ngf)
        add(nn.ReLU(True), ngf)
        for c in (ngf, 2 * ngf):
            if antialias:
                add(nn.Conv2d(c, 2 * c, 3, stride=1, padding=1, bias=True), 2 * c)
            else:
                add(nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=True), 2 * c)
            add(nn.InstanceNorm2d(2 * c), 2 * c)
            add(nn.ReLU(True), 2 * c)
            if antialias:
                add(BlurDown(2 * c), 2 * c)
        for _ in range(n_blocks):
            add(ResnetBlock(4 * ngf), 4 * ngf)
        for c in (4 * ngf, 2 * ngf):
            if antialias_up:
                add(BlurUp(c), c)
                add(nn.Conv2d(c, c // 2, 3, stride=1, padding=1, bias=True), c // 2)
            else:
                add(
                    nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=True), c // 2
                )
            add(nn.InstanceNorm2d(c // 2), c // 2)
            add(nn.ReLU(True), c // 2)
        add(nn.ReflectionPad2d(3), ngf)
        add(nn.Conv2d(ngf, out_ch, 7, bias=True), out_ch)
        add(nn.Tanh(), out_ch)
        self.model = nn.Sequential(*mods)
        self._widths = widths

    def __len__(self) -> int:
        return len(self.model)

    def _check(self, layers: Sequence[int]) -> list[int]:
        layers = [int(i) for i in layers]
        bad = [i for i in layers if not 0 <= i < len(self.model)]
        if bad:
            raise ConfigError(
                f"nce_layers {bad} out of range: this generator has modules 0..{len(self.model) - 1}"
            )
        return layers

    def channels(self, layers: Sequence[int]) -> list[int]:
        """Channel count of the feature at each index in `layers` (to build projection heads eagerly)."""
        return [self._widths[i] for i in self._check(layers)]

    def forward(
        self, x: torch.Tensor, layers: Sequence[int] = (), encode_only: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]] | list[torch.Tensor]:
        if not layers:
            if encode_only:
                raise ValueError("encode_only=True needs at least one layer index")
            return self.model(x)
        layers = self._check(layers)
        wanted = set(layers)
        stop = max(layers) if encode_only else len(self.model) - 1
        found: dict[int, torch.Tensor] = {}
        for idx, module in enumerate(self.model):
            x = module(x)
            if idx in wanted:
                found[idx] = x
            if idx == stop:
                break
        feats = [found[i] for i in layers]
        return feats if encode_only else (x, feats)
