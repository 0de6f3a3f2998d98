"""CycleGAN (Zhu et al., ICCV 2017): two generators tied by cycle consistency, one PatchGAN per domain.

Domain A = hazy, B = clear. G_AB: hazy -> clear (the dehazer), G_BA: clear -> hazy; D_B judges clear
images, D_A hazy ones. Update order as the reference: G (both generators, D frozen), then D (both), with
fakes drawn from a 50-image history pool per domain.

loss_G = GAN(D_B(G_AB(a))) + GAN(D_A(G_BA(b))) + lambda_A |G_BA(G_AB(a)) - a| + lambda_B |G_AB(G_BA(b)) - b|
         + lambda_identity * (lambda_B |G_AB(b) - b| + lambda_A |G_BA(a) - a|)

Less work than the reference, same numbers: the six generator passes become three batched ones (instance
norm is per image, so batching changes only float rounding: equal in float64 to 1e-10, see the tests) and
each discriminator sees real and pooled fake in one pass. The image pools are training state, returned by
`extra_state()` for the loop's checkpoints and kept out of the weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from cddgan.methods import GANMethod, register, set_requires_grad
from cddgan.nn import GANLoss, ImagePool, PatchDiscriminator, ResnetGenerator, init_weights


@register("cyclegan")
class CycleGAN(GANMethod):
    """ResNet generators in CycleGAN's layout (stride-2 convs, transposed convs), 70x70 PatchGANs."""

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
        batched=True,  # False: the reference's six separate generator passes (for benchmarks)
    )

    def build(self) -> None:
        s = self.settings

        def generator() -> ResnetGenerator:
            return ResnetGenerator(3, 3, s["ngf"], s["n_blocks"], antialias=False, antialias_up=False)

        def critic() -> PatchDiscriminator:
            return PatchDiscriminator(3, s["ndf"], s["n_layers_D"], antialias=False)

        self.G_AB, self.G_BA, self.D_A, self.D_B = generator(), generator(), critic(), critic()
        for net in (self.G_AB, self.G_BA, self.D_A, self.D_B):
            init_weights(net, s["init_type"], s["init_gain"])
        self.pool_A, self.pool_B = ImagePool(s["pool_size"]), ImagePool(s["pool_size"])
        self.gan = GANLoss(s["gan_mode"])
        self.to(self.device)

    def optim_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return {
            "G": [*self.G_AB.parameters(), *self.G_BA.parameters()],
            "D": [*self.D_A.parameters(), *self.D_B.parameters()],
        }

    def translate(self, hazy: torch.Tensor) -> torch.Tensor:
        return self.G_AB(hazy)

    def step(self, hazy: torch.Tensor, clear: torch.Tensor) -> Iterator[tuple[str, torch.Tensor, dict]]:
        s = self.settings
        a, b, n = hazy, clear, hazy.shape[0]
        use_idt = s["lambda_identity"] > 0
        if s["batched"]:
            # pass 1: G_AB(a) = fake_B and G_AB(b) = idt_A; pass 2: G_BA(fake_B, b, a) = rec_A, fake_A, idt_B
            out_ab = self.G_AB(torch.cat((a, b)) if use_idt else a)
            fake_b, idt_a = out_ab[:n], out_ab[n:]
            out_ba = self.G_BA(torch.cat((fake_b, b, a)) if use_idt else torch.cat((fake_b, b)))
            rec_a, fake_a, idt_b = out_ba[:n], out_ba[n : 2 * n], out_ba[2 * n :]
            rec_b = self.G_AB(fake_a)  # pass 3
        else:
            fake_b, fake_a = self.G_AB(a), self.G_BA(b)
            rec_a, rec_b = self.G_BA(fake_b), self.G_AB(fake_a)
            idt_a, idt_b = (self.G_AB(b), self.G_BA(a)) if use_idt else (None, None)

        set_requires_grad([self.D_A, self.D_B], False)
        logs = self.generator_terms(a, b, fake_a, fake_b, rec_a, rec_b, idt_a, idt_b)
        loss_g = torch.stack(list(logs.values())).sum()
        logs = {k: v.detach() for k, v in logs.items()}
        logs["G"] = loss_g.detach()
        yield "G", loss_g, logs

        set_requires_grad([self.D_A, self.D_B], True)
        loss_d_b = self._d_loss(self.D_B, b, self.pool_B.query(fake_b.detach()))
        loss_d_a = self._d_loss(self.D_A, a, self.pool_A.query(fake_a.detach()))
        loss_d = loss_d_a + loss_d_b  # disjoint parameters: one backward gives each D its own gradient
        yield "D", loss_d, {"D_A": loss_d_a.detach(), "D_B": loss_d_b.detach()}

    def generator_terms(
        self,
        a: torch.Tensor,
        b: torch.Tensor,
        fake_a: torch.Tensor,
        fake_b: torch.Tensor,
        rec_a: torch.Tensor,
        rec_b: torch.Tensor,
        idt_a: torch.Tensor | None = None,
        idt_b: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """CycleGAN's generator loss terms (the caller has frozen D): adversarial, cycle, identity (if given)."""
        s = self.settings
        lam_a, lam_b, lam_idt = s["lambda_A"], s["lambda_B"], s["lambda_identity"]
        terms = {
            "G_A": self.gan.g_loss(self.D_B(fake_b)),
            "G_B": self.gan.g_loss(self.D_A(fake_a)),
            "cycle_A": F.l1_loss(rec_a, a) * lam_a,
            "cycle_B": F.l1_loss(rec_b, b) * lam_b,
        }
        if idt_a is not None and idt_b is not None and lam_idt > 0:
            terms["idt_A"] = F.l1_loss(idt_a, b) * lam_b * lam_idt
            terms["idt_B"] = F.l1_loss(idt_b, a) * lam_a * lam_idt
        return terms

    def extra_state(self) -> dict[str, Any]:
        """The image pools: training state saved in checkpoints by `cddgan.train`, kept out of model.pt."""
        return {"pool_A": self.pool_A.state_dict(), "pool_B": self.pool_B.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.pool_A.load_state_dict(state["pool_A"])
        self.pool_B.load_state_dict(state["pool_B"])

    def _d_loss(self, d: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """0.5 * (real term + fake term), from one batched pass over cat(real, fake) unless unbatched."""
        if not self.settings["batched"]:
            return self.gan.d_loss(d(real), d(fake))
        pred = d(torch.cat((real, fake)))
        return self.gan.d_loss(pred[: real.shape[0]], pred[real.shape[0] :])
