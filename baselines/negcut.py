"""NEGCUT (Wang et al., ICCV 2021): CUT whose PatchNCE negatives come from adversarial generators.

G, D and the projection heads F are CUT's (this class extends `baselines.cut.CUT`); NEGCUT adds `N`, one
negative generator per NCE layer (`cddgan.nn.negatives`). N reads the key image through an EMA copy of F
(decay `ema`) over every position, mean-pooled, plus noise z, and emits `num_negatives` unit vectors per
image and layer; they REPLACE the in-image negatives. Identity NCE is on, as in CUT (NEGCUT mode).

Update order per iteration: D; then N with loss_N = -NCE + lambda_div * diversity (queries and keys
detached, so only N learns from it); then G + F with N frozen, on negatives from the updated N; then
(`after_step`) the EMA of F.

Random draws (`shared_draws`):
- false (default, the reference's): every NCE term draws its own patch positions and then its own noise z,
  pair by pair (hazy -> fake, then the identity pair clear -> idt) and update by update (N, then G): four
  draws of positions and noise per iteration, in the reference's order. The G update then faces fresh
  negatives of the updated N, not the ones N was trained on, and a comparison with the reference's NEGCUT
  differs only by the choices below.
- true (ours before): one draw of positions per layer, shared by both pairs (one projection of the whole
  batch), and one of noise, both reused by the N and the G update: a projection pass less, and the G
  update faces exactly the negatives N was just trained to produce. It changes which random numbers are
  drawn, not any loss's formula; kept as a named setting to measure what the choice does.

Choices where the reference leaves room, each for a reason:
- One main pass G(cat(hazy, clear)) returns the keys' features and one encoder pass over cat(fake, idt)
  the queries' (CUT's feature reuse); the pooled EMA embedding of the keys is computed once per
  iteration (it depends on no draw, and the EMA moves only after the G update).
- N's input is built from detached key features: no gradient reaches G through the negatives (the
  reference lets one leak through F_ into G's encoder, an accident of not detaching).
- The diversity term covers the negatives of both pairs (X and identity Y); the reference's only covers
  the last pair it computed.
- The EMA heads start as a copy of F (the reference starts them from their own random init, so for the
  first iterations its N reads embeddings unrelated to F's).
- No flip-equivariance (FastNEGCUT), and `use_mlp` must stay true: the generators emit netF_nc-dim vectors.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import torch

from baselines.cut import CUT, nce_pairs
from cddgan.errors import ConfigError
from cddgan.methods import register, set_requires_grad
from cddgan.nn import init_weights, project_pairs
from cddgan.nn.negatives import (
    AdversarialNegatives,
    check_diversity,
    diversity_loss,
    nce_per_image,
)


@register("negcut")
class NEGCUT(CUT):
    """CUT + adversarial negative generators (NEGCUT mode: identity NCE on, lambda_nce 1)."""

    defaults: ClassVar[dict[str, Any]] = {
        **{k: v for k, v in CUT.defaults.items() if k != "flip_equivariance"},
        "num_negatives": 256,
        "noise_dim": 64,
        "ema": 0.9,
        "lambda_div": 1.0,
        "shared_draws": False,
    }
    bytes_per_unit: ClassVar[float] = 30.0

    @classmethod
    def ablation_axes(cls, settings: Mapping[str, Any]) -> dict[str, float]:
        """The number of generated negatives per image and layer, the x axis of a negatives ablation."""
        return {"negatives": float(settings["num_negatives"])}

    def build(self) -> None:
        s = self.settings
        if not s["use_mlp"]:
            raise ConfigError(f"{self.name}: use_mlp must stay true (negatives live in the MLP heads' space)")
        check_diversity(s["num_negatives"], s["lambda_div"], self.name)
        super().build()
        self.N = AdversarialNegatives(self.F, s["num_negatives"], s["noise_dim"], s["ema"])
        init_weights(self.N, s["init_type"], s["init_gain"])
        self.to(self.device)

    def optim_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return {**super().optim_groups(), "N": list(self.N.parameters())}

    def after_step(self) -> None:
        self.N.ema.update(self.F)

    def step(self, hazy: torch.Tensor, clear: torch.Tensor) -> Iterator[tuple[str, torch.Tensor, dict]]:
        s = self.settings
        b = hazy.shape[0]
        use_nce = s["lambda_nce"] > 0
        real = torch.cat((hazy, clear)) if s["nce_idt"] and use_nce else hazy
        out, keys = self.G(real, self.nce_layers) if use_nce else (self.G(real), [])
        fake = out[:b]

        yield ("D", *self.d_loss(fake, clear))

        if use_nce:
            keys = [f.detach() for f in keys]
            queries = self.encode(out)  # one query pass over cat(fake, idt), with autograd
            pooled = self.N.embed(self.F, keys)
            shared = bool(s["shared_draws"])
            pairs = [slice(0, real.shape[0])] if shared else nce_pairs(out, b)
            with torch.set_grad_enabled(shared):  # shared: the G update reuses these projections
                draws = [self.draw(queries, keys, pooled, h) for h in pairs]
            negatives = [self.N(p, z) for _, _, p, z in draws]
            terms = [
                term
                for (q, k, _, _), n in zip(draws, negatives, strict=True)
                for term in self.pair_nce([x.detach() for x in q], k, n, b)
            ]
            adv = torch.stack(terms).mean()
            div = diversity_loss([torch.cat(layer) for layer in zip(*negatives, strict=True)])
            yield "N", -adv + s["lambda_div"] * div, {"N_contrast": adv.detach(), "N_div": div.detach()}
            if not shared:  # the reference's G update: new positions and noise, pair by pair
                draws = [self.draw(queries, keys, pooled, h) for h in pairs]

        set_requires_grad(self.D, False)
        nces: list[torch.Tensor] = []
        if use_nce:
            for q, k, p, z in draws:
                with torch.no_grad():  # N frozen for the G update: its negatives are constants
                    negatives_g = self.N(p, z)
                nces += self.pair_nce(q, k, negatives_g, b)
        loss_g, logs = self.g_loss(fake, nces)
        if nces:
            logs["contrast"] = torch.stack(nces).mean().detach()
        yield "G", loss_g, logs
        set_requires_grad(self.D, True)

    def draw(
        self, queries: list[torch.Tensor], keys: list[torch.Tensor], pooled: list[torch.Tensor], images: slice
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """One draw for `images`: patch positions per layer (keys first, then the queries at the same
        positions), then noise z per layer; returns (queries, keys, pooled, noise), projected and sliced."""
        q, k, _ = project_pairs(
            self.F, [f[images] for f in queries], [f[images] for f in keys], self.settings["num_patches"]
        )
        pooled = [p[images] for p in pooled]
        return q, k, pooled, self.N.draw_noise(pooled[0].shape[0], pooled[0].device)

    def pair_nce(
        self, q: list[torch.Tensor], k: list[torch.Tensor], negatives: list[torch.Tensor], b: int
    ) -> list[torch.Tensor]:
        """lambda_nce * [NCE_X] or [NCE_X, NCE_Y] (images 0..b-1 are the X pair, b..2b-1 the identity pair),
        each the mean over layers of PatchNCE against the generated negatives."""
        s = self.settings
        per_image = nce_per_image(q, k, negatives[0].shape[0], s["nce_t"], negatives) * s["lambda_nce"]
        return [half.mean() for half in per_image.split(b)]
