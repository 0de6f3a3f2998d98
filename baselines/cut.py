"""CUT and FastCUT (Park et al., ECCV 2020): one generator trained with a GAN loss and PatchNCE.

Update order per iteration: D, then G together with the projection heads F (one optimiser group "G").
CUT: loss_G = lambda_gan * GAN + 0.5 * (NCE(hazy, G(hazy)) + NCE(clear, G(clear))) (identity NCE).
FastCUT: lambda_nce = 10, no identity NCE, flip-equivariance (the generator sees a horizontally flipped
input half of the time, and the query features are flipped back before matching the unflipped input).

Optimisation over the reference (numerically the same losses and gradients): the main generator pass
over cat(hazy, clear) also returns the nce-layer features of the real images, and those are the keys
(detached); only the queries get an encoder pass, one over cat(fake, idt). The reference runs four encoder
passes, the two key passes with autograd although the loss detaches the keys; `benchmarks/faithful.py`
reproduces that work for the faithful-vs-optimised benchmark by overriding `main_pass` and `nce_terms`.
With a flipped input the main-pass features are of the flipped image, so the keys then take one encoder
pass without autograd.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch

from cddgan.errors import ConfigError
from cddgan.methods import GANMethod, register, set_requires_grad
from cddgan.nn import (
    GANLoss,
    PatchDiscriminator,
    PatchSampleF,
    ResnetGenerator,
    init_weights,
    parse_layers,
    patch_nce_loss,
    project_pairs,
)

Feats = list[torch.Tensor]


def nce_pairs(out: torch.Tensor, batch: int) -> list[slice]:
    """The image pairs of CUT's NCE: [X] (hazy -> fake), or [X, Y] (clear -> idt) when `out` also holds
    the identity half."""
    return [slice(0, batch), slice(batch, 2 * batch)] if out.shape[0] > batch else [slice(0, batch)]


@register("cut")
class CUT(GANMethod):
    """Contrastive unpaired translation: G (hazy -> clear), PatchGAN D, PatchNCE heads F."""

    defaults: ClassVar[dict[str, Any]] = dict(
        ngf=64,
        n_blocks=9,
        ndf=64,
        n_layers_D=3,
        antialias=True,
        antialias_up=True,
        init_type="xavier",
        init_gain=0.02,
        gan_mode="lsgan",
        lambda_gan=1.0,
        lambda_nce=1.0,
        nce_idt=True,
        nce_layers=(0, 4, 8, 12, 16),
        num_patches=256,
        nce_t=0.07,
        netF_nc=256,
        use_mlp=True,
        flip_equivariance=False,
    )
    bytes_per_unit: ClassVar[float] = 20.0

    def build(self) -> None:
        s = self.settings
        self.nce_layers = parse_layers(s["nce_layers"])
        if s["lambda_gan"] <= 0 and s["lambda_nce"] <= 0:
            raise ConfigError(f"{self.name}: lambda_gan and lambda_nce are both 0, so nothing trains G")
        self.G = ResnetGenerator(3, 3, s["ngf"], s["n_blocks"], s["antialias"], s["antialias_up"])
        self.D = PatchDiscriminator(3, s["ndf"], s["n_layers_D"], s["antialias"])
        self.F = PatchSampleF(self.G.channels(self.nce_layers), s["netF_nc"], s["use_mlp"])
        for net in (self.G, self.D, self.F):
            init_weights(net, s["init_type"], s["init_gain"])
        self.gan = GANLoss(s["gan_mode"])
        self.to(self.device)

    def optim_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return {"D": list(self.D.parameters()), "G": [*self.G.parameters(), *self.F.parameters()]}

    def translate(self, hazy: torch.Tensor) -> torch.Tensor:
        return self.G(hazy)

    def encode(self, x: torch.Tensor) -> Feats:
        """Features of `x` at the nce layers (the generator stops after the deepest one)."""
        return self.G(x, self.nce_layers, encode_only=True)

    def nce(self, feats_q: Feats, feats_k: Feats, batch: int, negatives: Feats | None = None) -> torch.Tensor:
        """lambda_nce * mean over layers of the mean PatchNCE loss, queries and keys projected at the same
        positions in the reference's order (`project_pairs`). `negatives`, one (B, K, nc) tensor per layer,
        replace the in-image negatives (NEGCUT, CDD-GAN)."""
        q_proj, k_proj, _ = project_pairs(self.F, feats_q, feats_k, self.settings["num_patches"])
        return self.nce_loss(q_proj, k_proj, batch, negatives)

    def nce_loss(self, q_proj: Feats, k_proj: Feats, batch: int, negatives: Feats | None = None) -> torch.Tensor:
        """lambda_nce * mean over layers of the mean PatchNCE loss of projected queries and keys."""
        s = self.settings
        negs = negatives if negatives is not None else [None] * len(q_proj)
        losses = [
            patch_nce_loss(q, k, batch, s["nce_t"], negatives=n).mean()
            for q, k, n in zip(q_proj, k_proj, negs, strict=True)
        ]
        return torch.stack(losses).sum() * s["lambda_nce"] / len(losses)

    def host_decisions(self) -> dict[str, bool]:
        """FastCUT's flip coin, from torch's CPU generator: reproducible from the seed, no device sync."""
        return {"flipped": float(torch.rand(())) < 0.5} if self.settings.get("flip_equivariance") else {}

    def step(
        self, hazy: torch.Tensor, clear: torch.Tensor, flipped: bool = False
    ) -> Iterator[tuple[str, torch.Tensor, dict]]:
        s = self.settings
        b = hazy.shape[0]
        use_nce = s["lambda_nce"] > 0
        idt = bool(s["nce_idt"]) and use_nce
        real = torch.cat((hazy, clear)) if idt else hazy
        inp = real.flip(3) if flipped else real
        out, main_feats = self.main_pass(inp, use_nce)
        fake = out[:b]

        yield ("D", *self.d_loss(fake, clear))

        set_requires_grad(self.D, False)  # no weight gradients for D during the G update
        nces = self.nce_terms(real, out, main_feats, b, flipped) if use_nce else []
        yield ("G", *self.g_loss(fake, nces))
        set_requires_grad(self.D, True)

    def main_pass(self, x: torch.Tensor, with_features: bool) -> tuple[torch.Tensor, Feats]:
        """G over the real images; with `with_features` also their nce-layer features, the keys (one pass)."""
        return self.G(x, self.nce_layers) if with_features else (self.G(x), [])

    def d_loss(self, fake: torch.Tensor, clear: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """The discriminator's loss 0.5 (fake term + real term), with both terms for the log."""
        set_requires_grad(self.D, True)
        loss_fake = self.gan.fake_loss(self.D(fake.detach()))
        loss_real = self.gan.real_loss(self.D(clear))
        return 0.5 * (loss_fake + loss_real), {"D_real": loss_real.detach(), "D_fake": loss_fake.detach()}

    def g_loss(self, fake: torch.Tensor, nces: list[torch.Tensor]) -> tuple[torch.Tensor, dict]:
        """The G-side loss (D frozen by the caller): lambda_gan GAN + the mean of the NCE terms, i.e.
        CUT's 0.5 (NCE_X + NCE_Y) with identity NCE (`nces` already carry lambda_nce)."""
        logs: dict[str, torch.Tensor] = {}
        terms: list[torch.Tensor] = []
        if self.settings["lambda_gan"] > 0:
            terms.append(self.gan.g_loss(self.D(fake)) * self.settings["lambda_gan"])
            logs["G_GAN"] = terms[-1].detach()
        if nces:
            logs["NCE"] = nces[0].detach()
            if len(nces) > 1:
                logs["NCE_Y"] = nces[1].detach()
            terms.append(torch.stack(nces).mean())
        return torch.stack(terms).sum(), logs

    def nce_terms(
        self, real: torch.Tensor, out: torch.Tensor, main_feats: Feats, b: int, flipped: bool
    ) -> list[torch.Tensor]:
        """[NCE(hazy, fake)] or [NCE(hazy, fake), NCE(clear, idt)] (`nce_pairs`): one query pass over `out`
        with autograd, the keys from the main pass; patch positions drawn in the reference's order."""
        q_all = self.encode(out)  # one query pass over cat(fake, idt), with autograd
        if flipped:
            q_all = [f.flip(3) for f in q_all]
            with torch.no_grad():
                k_all = self.encode(real)
        else:
            k_all = [f.detach() for f in main_feats]
        return [self.nce([f[h] for f in q_all], [f[h] for f in k_all], b) for h in nce_pairs(out, b)]


@register("fastcut")
class FastCUT(CUT):
    """FastCUT: CUT without identity NCE, lambda_nce = 10 and flip-equivariance.

    Its reference code (CUT's `--CUT_mode FastCUT`) keeps the learning rate for 150 epochs and decays it
    linearly over the last 50, where CUT trains 200 + 200: hence `decay_start` 0.75, not CUT's 0.5.
    """

    defaults: ClassVar[dict[str, Any]] = {
        **CUT.defaults,
        "lambda_nce": 10.0,
        "nce_idt": False,
        "flip_equivariance": True,
    }
    decay_start: ClassVar[float] = 0.75
