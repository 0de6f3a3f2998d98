"""The cycle pair (Zhu et al., ICCV 2017), shared by CycleGAN and CDD-GAN: two generators tied by cycle
consistency, one PatchGAN per domain with a 50-image history pool each.

Domain A = hazy, B = clear. G_AB: hazy -> clear (the dehazer), G_BA: clear -> hazy; D_B judges clear
images, D_A hazy ones.

loss_G = GAN(D_B(G_AB(a))) + GAN(D_A(G_BA(b))) + lambda_A |G_BA(G_AB(a)) - a| + lambda_B |G_AB(G_BA(b)) - b|
         + lambda_identity * (lambda_B |G_AB(b) - b| + lambda_A |G_BA(a) - a|)

Why a library piece: CDD-GAN is this pair plus contrastive terms, so both the CycleGAN baseline and
CDD-GAN subclass it instead of CDD-GAN inheriting a baseline file. The six generator passes of the
reference are three batched ones here (instance norm is per image, so batching changes only float
rounding: equal in float64 to 1e-10, see the tests) and each discriminator sees real and pooled fake in
one pass (`benchmarks/faithful.py` keeps the reference's passes for the benchmark). The image pools are
training state, returned by `extra_state()` for the loop's checkpoints and kept out of the weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from cddgan.methods.base import GANMethod, set_requires_grad
from cddgan.nn import GANLoss, ImagePool, PatchDiscriminator, ResnetGenerator

Layers = list[torch.Tensor]


@dataclass
class CyclePasses:
    """The generators' outputs of one iteration (identity outputs None without the identity loss), and
    the encoder features the main passes return at the requested layers (empty without)."""

    fake_b: torch.Tensor
    fake_a: torch.Tensor
    rec_a: torch.Tensor
    rec_b: torch.Tensor
    idt_a: torch.Tensor | None
    idt_b: torch.Tensor | None
    feats_ab: Layers = field(default_factory=list)  # G_AB over cat(a, b) (or a)
    feats_ba: Layers = field(default_factory=list)  # G_BA over cat(fake_b, b, a) (or cat(fake_b, b))


class CyclePair(GANMethod):
    """Two ResNet generators and two PatchGANs, CycleGAN's generator loss and its pooled discriminator
    loss. Subclasses build the networks (`build_pair`, then their own extras) and order the updates."""

    defaults: ClassVar[dict[str, Any]] = dict(
        ngf=64,
        n_blocks=9,
        ndf=64,
        n_layers_D=3,
        init_type="normal",
        init_gain=0.02,
        gan_mode="lsgan",
        pool_size=50,
        lambda_A=10.0,
        lambda_B=10.0,
        lambda_identity=0.5,
    )

    def build_pair(self, antialias: bool, antialias_up: bool) -> list[torch.nn.Module]:
        """Create G_AB, G_BA, D_A, D_B in this order (their default initialisation draws from torch's RNG,
        so the order fixes the weights a seed gives) and return them, to be initialised by the caller."""
        s = self.settings
        self.G_AB = ResnetGenerator(3, 3, s["ngf"], s["n_blocks"], antialias, antialias_up)
        self.G_BA = ResnetGenerator(3, 3, s["ngf"], s["n_blocks"], antialias, antialias_up)
        self.D_A = PatchDiscriminator(3, s["ndf"], s["n_layers_D"], antialias)
        self.D_B = PatchDiscriminator(3, s["ndf"], s["n_layers_D"], antialias)
        return [self.G_AB, self.G_BA, self.D_A, self.D_B]

    def build_pools(self) -> None:
        """The image pools and the GAN loss (no weights, no random draws)."""
        self.pool_A, self.pool_B = ImagePool(self.settings["pool_size"]), ImagePool(self.settings["pool_size"])
        self.gan = GANLoss(self.settings["gan_mode"])

    def translate(self, hazy: torch.Tensor) -> torch.Tensor:
        return self.G_AB(hazy)

    @property
    def use_identity(self) -> bool:
        return self.settings["lambda_identity"] > 0

    def cycle_passes(
        self, a: torch.Tensor, b: torch.Tensor, layers_ab: tuple[int, ...] = (), layers_ba: tuple[int, ...] = ()
    ) -> CyclePasses:
        """Three batched passes: G_AB(cat(a, b)) = fake_b, idt_a; G_BA(cat(fake_b, b, a)) = rec_a, fake_a,
        idt_b; G_AB(fake_a) = rec_b. With `layers_*` the first two also return encoder features."""
        n, use_idt = a.shape[0], self.use_identity
        out_ab, feats_ab = _forward(self.G_AB, torch.cat((a, b)) if use_idt else a, layers_ab)
        fake_b = out_ab[:n]
        x_ba = torch.cat((fake_b, b, a)) if use_idt else torch.cat((fake_b, b))
        out_ba, feats_ba = _forward(self.G_BA, x_ba, layers_ba)
        rec_a, fake_a = out_ba[:n], out_ba[n : 2 * n]
        rec_b = self.G_AB(fake_a)
        idt_a, idt_b = (out_ab[n:], out_ba[2 * n :]) if use_idt else (None, None)
        return CyclePasses(fake_b, fake_a, rec_a, rec_b, idt_a, idt_b, feats_ab, feats_ba)

    def generator_terms(self, a: torch.Tensor, b: torch.Tensor, p: CyclePasses) -> dict[str, torch.Tensor]:
        """CycleGAN's generator loss terms (the caller has frozen D): adversarial, cycle, identity (if on)."""
        s = self.settings
        lam_a, lam_b, lam_idt = s["lambda_A"], s["lambda_B"], s["lambda_identity"]
        terms = {
            "G_A": self.gan.g_loss(self.D_B(p.fake_b)),
            "G_B": self.gan.g_loss(self.D_A(p.fake_a)),
            "cycle_A": F.l1_loss(p.rec_a, a) * lam_a,
            "cycle_B": F.l1_loss(p.rec_b, b) * lam_b,
        }
        if p.idt_a is not None and p.idt_b is not None and lam_idt > 0:
            terms["idt_A"] = F.l1_loss(p.idt_a, b) * lam_b * lam_idt
            terms["idt_B"] = F.l1_loss(p.idt_b, a) * lam_a * lam_idt
        return terms

    def discriminator_update(
        self, a: torch.Tensor, b: torch.Tensor, p: CyclePasses
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Both discriminators' loss (D thawed here) on the real images and pooled fakes, D_B first (the
        pools draw from torch's RNG), and its two parts for the log."""
        set_requires_grad([self.D_A, self.D_B], True)
        loss_d_b = self.discriminator_loss(self.D_B, b, self.pool_B.query(p.fake_b.detach()))
        loss_d_a = self.discriminator_loss(self.D_A, a, self.pool_A.query(p.fake_a.detach()))
        loss_d = loss_d_a + loss_d_b  # disjoint parameters: one backward gives each D its own gradient
        return loss_d, {"D_A": loss_d_a.detach(), "D_B": loss_d_b.detach()}

    def discriminator_loss(self, d: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """0.5 * (real term + fake term), from one pass over cat(real, fake)."""
        pred = d(torch.cat((real, fake)))
        return self.gan.d_loss(pred[: real.shape[0]], pred[real.shape[0] :])

    def extra_state(self) -> dict[str, Any]:
        """The image pools: training state saved in checkpoints by `cddgan.training`, kept out of model.pt."""
        return {"pool_A": self.pool_A.state_dict(), "pool_B": self.pool_B.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.pool_A.load_state_dict(state["pool_A"])
        self.pool_B.load_state_dict(state["pool_B"])


def _forward(g: ResnetGenerator, x: torch.Tensor, layers: tuple[int, ...]) -> tuple[torch.Tensor, Layers]:
    """The generator's output, and its features at `layers` when any are asked for (one pass either way)."""
    return g(x, layers) if layers else (g(x), [])
