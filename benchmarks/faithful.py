"""The reference implementations' work, for the faithful-vs-optimised benchmark and its tests.

The production methods compute the reference's losses and gradients with less work (CycleGAN: three
batched generator passes and one pass per discriminator; CDD-GAN: the same discriminator passes; CUT: the
keys reused from the main generator pass). These subclasses put the reference's pass structure back, and
nothing else: same settings, same networks (a state dict loads into either), same losses. They are not
registered: the production registry never sees them, and `FAITHFUL` maps a method name to its reference
variant; a method without one (NEGCUT) is its own faithful step, in plain float32.
"""

from __future__ import annotations

import torch

from baselines.cut import CUT, FastCUT, nce_pairs
from baselines.cyclegan import CycleGAN
from cddgan.methods import Method
from cddgan.methods.cddgan import CDDGAN
from cddgan.methods.cycle import CyclePair, CyclePasses


class _SeparateDiscriminatorPasses:
    """The reference's discriminator loss: one pass over the real images and one over the fakes."""

    def discriminator_loss(
        self: CyclePair, d: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> torch.Tensor:
        return self.gan.d_loss(d(real), d(fake))


class FaithfulCycleGAN(_SeparateDiscriminatorPasses, CycleGAN):
    """CycleGAN with the reference's six separate generator passes and two passes per discriminator."""

    def cycle_passes(
        self, a: torch.Tensor, b: torch.Tensor, layers_ab: tuple[int, ...] = (), layers_ba: tuple[int, ...] = ()
    ) -> CyclePasses:
        fake_b, fake_a = self.G_AB(a), self.G_BA(b)
        rec_a, rec_b = self.G_BA(fake_b), self.G_AB(fake_a)
        idt_a, idt_b = (self.G_AB(b), self.G_BA(a)) if self.use_identity else (None, None)
        return CyclePasses(fake_b, fake_a, rec_a, rec_b, idt_a, idt_b)


class FaithfulCDDGAN(_SeparateDiscriminatorPasses, CDDGAN):
    """CDD-GAN with two passes per discriminator (its generator passes have no reference to differ from)."""


class _ReferenceNCEPasses:
    """CUT's reference passes: a main pass without features, then per image pair a query pass and a key
    pass, both with autograd, and the keys projected with autograd although the loss detaches them."""

    def main_pass(self: CUT, x: torch.Tensor, with_features: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return self.G(x), []

    def nce_terms(
        self: CUT, real: torch.Tensor, out: torch.Tensor, main_feats: list[torch.Tensor], b: int, flipped: bool
    ) -> list[torch.Tensor]:
        terms = []
        for h in nce_pairs(out, b):
            feat_q = self.encode(out[h])
            if flipped:
                feat_q = [f.flip(3) for f in feat_q]
            feat_k = self.encode(real[h])
            k_proj, ids = self.F(feat_k, self.settings["num_patches"])  # keys first, with autograd
            q_proj, _ = self.F(feat_q, self.settings["num_patches"], ids)
            terms.append(self.nce_loss(q_proj, k_proj, b))
        return terms


class FaithfulCUT(_ReferenceNCEPasses, CUT):
    """CUT with the reference's four encoder passes."""


class FaithfulFastCUT(_ReferenceNCEPasses, FastCUT):
    """FastCUT with the reference's encoder passes (two: no identity pair)."""


# Methods whose production step does less work than the reference's.
FAITHFUL: dict[str, type[Method]] = {
    "cyclegan": FaithfulCycleGAN,
    "cddgan": FaithfulCDDGAN,
    "cut": FaithfulCUT,
    "fastcut": FaithfulFastCUT,
}
