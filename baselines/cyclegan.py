"""CycleGAN (Zhu et al., ICCV 2017): two generators tied by cycle consistency, one PatchGAN per domain.

The networks, the losses and the pools are the cycle pair of `cddgan.methods.cycle`, which CDD-GAN shares;
this file says what makes it CycleGAN: the reference's network layout and initialisation (stride-2
convolutions, transposed convolutions, no anti-aliasing, normal init) and its update order, G (both
generators, D frozen), then D (both), with fakes drawn from a 50-image history pool per domain.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import torch

from cddgan.methods import register, set_requires_grad
from cddgan.methods.cycle import CyclePair
from cddgan.nn import init_weights


@register("cyclegan")
class CycleGAN(CyclePair):
    """ResNet generators in CycleGAN's layout (stride-2 convs, transposed convs), 70x70 PatchGANs."""

    bytes_per_unit: ClassVar[float] = 25.0

    @classmethod
    def full_resolution_upsampling(cls, settings: Mapping[str, Any]) -> bool:
        """Never: CycleGAN's generator upsamples with transposed convolutions, not at full resolution."""
        return False

    def build(self) -> None:
        s = self.settings
        for net in self.build_pair(antialias=False, antialias_up=False):
            init_weights(net, s["init_type"], s["init_gain"])
        self.build_pools()
        self.to(self.device)

    def optim_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return {
            "G": [*self.G_AB.parameters(), *self.G_BA.parameters()],
            "D": [*self.D_A.parameters(), *self.D_B.parameters()],
        }

    def step(self, hazy: torch.Tensor, clear: torch.Tensor) -> Iterator[tuple[str, torch.Tensor, dict]]:
        a, b = hazy, clear
        passes = self.cycle_passes(a, b)

        set_requires_grad([self.D_A, self.D_B], False)
        logs = self.generator_terms(a, b, passes)
        loss_g = torch.stack(list(logs.values())).sum()
        logs = {k: v.detach() for k, v in logs.items()}
        logs["G"] = loss_g.detach()
        yield "G", loss_g, logs

        yield ("D", *self.discriminator_update(a, b, passes))
