"""Generated negatives for PatchNCE: the blocks NEGCUT and CDD-GAN share.

NEGCUT (Wang et al., ICCV 2021) replaces CUT's in-image negatives by negatives that small generators produce
and that are trained to *maximise* the contrastive loss the encoder minimises. CDD-GAN builds on NEGCUT
and adds a FIFO queue of past negatives and an image-level "clear exemplar" term. The pieces:

- `NegativeGenerator`: one NCE layer. Mean-pooled image embedding (B, nc), repeated K times, concatenated
  with Gaussian noise z (B, K, noise_dim), MLP Linear(nc + noise_dim, nc) -> ReLU -> Linear(nc, nc), L2
  norm: K unit vectors per image that live in the projection heads' embedding space.
- `EMAHeads`: the exponential moving average of the projection heads (NEGCUT's F_), which embeds the key
  features (every position, or the PatchNCE positions) to make the pooled input of the generators. Its
  weights are buffers, not parameters: no optimiser sees them, yet `state_dict()` saves them, so a resumed
  run is exact.
- `NegativeQueue`: the generated negatives of the last Q iterations (detached), appended to the current
  ones. Buffers (negatives, write pointer, fill count) with a host-side copy of the two counters, so
  reading the queue never needs a device-to-host sync, and pushes that write the device pointer (CUDA
  graphs).
- `AdversarialNegatives`: the three for one set of projection heads; the optimiser group of its
  generators is `generators.parameters()`.
- Losses: `nce_per_image` (PatchNCE averaged per image and over layers), `diversity_loss` (NEGCUT's
  mode-seeking term), `image_embedding` and `exemplar_loss` (CDD-GAN's image-level contrastive term).

Conventions as in `cddgan.nn.patchnce`: projected rows are image-major, negatives are (B, K, nc).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from cddgan.errors import ConfigError
from cddgan.nn.patchnce import PatchSampleF, l2_normalize, patch_nce_loss

Layers = list[torch.Tensor]
PatchIds = Sequence[torch.Tensor] | None


class NegativeGenerator(nn.Module):
    """K negatives per image from a pooled embedding and noise (NEGCUT's momentum negative generator)."""

    def __init__(self, nc: int = 256, num_negatives: int = 256, noise_dim: int = 64) -> None:
        super().__init__()
        if nc < 1 or num_negatives < 1 or noise_dim < 0:
            raise ConfigError(
                f"negative generator needs netF_nc >= 1, num_negatives >= 1 and noise_dim >= 0 "
                f"(got {nc}, {num_negatives}, {noise_dim})"
            )
        self.nc, self.num_negatives, self.noise_dim = nc, num_negatives, noise_dim
        self.mlp = nn.Sequential(nn.Linear(nc + noise_dim, nc), nn.ReLU(inplace=True), nn.Linear(nc, nc))

    def draw_noise(self, batch: int, device: torch.device) -> torch.Tensor:
        """z ~ N(0, 1) of shape (B, K, noise_dim), drawn on `device` from torch's global generator."""
        return torch.randn(batch, self.num_negatives, self.noise_dim, device=device)

    def forward(self, pooled: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """pooled (B, nc), noise (B, K, noise_dim) -> unit negatives (B, K, nc).

        The first layer's product with cat(pooled repeated K times, z) is split into its pooled part,
        computed once per image, plus its noise part: the same numbers as the concatenation for a fifth of
        the multiply-adds of that layer (nc of its nc + noise_dim inputs are the same for all K rows)."""
        b, k = noise.shape[:2]
        first, act, last = self.mlp
        w = first.weight
        hidden = F.linear(noise, w[:, self.nc :]) + F.linear(pooled, w[:, : self.nc], first.bias)[:, None]
        return l2_normalize(last(act(hidden)).view(b * k, self.nc)).view(b, k, self.nc)


class EMAHeads(nn.Module):
    """Exponential moving average of a `PatchSampleF`'s weights, held as buffers.

    Why buffers and `functional_call` rather than a frozen copy of the heads: a copy would put
    parameters without an optimiser into the method's `parameters()`; buffers are saved and restored by
    `state_dict()` all the same. The weights start equal to the heads' (NEGCUT starts F_ from a fresh
    random init; with decay 0.9 the difference is gone after a few dozen iterations).
    """

    def __init__(self, heads: PatchSampleF, decay: float = 0.9) -> None:
        super().__init__()
        if not 0.0 <= decay <= 1.0:
            raise ConfigError(f"ema: the EMA decay must lie in [0, 1], got {decay}")
        self.decay = float(decay)
        self._names = [name for name, _ in heads.named_parameters()]
        for name, p in heads.named_parameters():
            self.register_buffer(self._key(name), p.detach().clone())

    @staticmethod
    def _key(name: str) -> str:
        return name.replace(".", "__")

    def weights(self) -> dict[str, torch.Tensor]:
        """The averaged weights under the heads' own parameter names."""
        return {name: getattr(self, self._key(name)) for name in self._names}

    @torch.no_grad()
    def update(self, heads: PatchSampleF) -> None:
        """ema <- decay * ema + (1 - decay) * current."""
        for name, p in heads.named_parameters():
            getattr(self, self._key(name)).lerp_(p.detach(), 1.0 - self.decay)

    @torch.no_grad()
    def pooled(
        self, heads: PatchSampleF, feats: Sequence[torch.Tensor], patch_ids: PatchIds = None
    ) -> Layers:
        """Per layer, the averaged heads applied to every position of `feats` (or to the positions in
        `patch_ids`), mean over positions: (B, nc) each, not re-normalised (as NEGCUT feeds its
        generators)."""
        args = (list(feats), 0) if patch_ids is None else (list(feats), 0, list(patch_ids))
        rows, _ = functional_call(heads, self.weights(), args)
        return [r.view(f.shape[0], -1, r.shape[1]).mean(1) for r, f in zip(rows, feats, strict=True)]


class NegativeQueue(nn.Module):
    """FIFO of the negatives generated in the last `size` iterations, one slot of K per iteration and layer.

    `items` is (L, Q, K, nc). A push writes slot `ptr` and advances it; once all Q slots are filled the
    oldest is overwritten. For a batch of B images a slot keeps K of the B*K new negatives, the j-th taken
    from image j mod B (all of them when B = 1), so every image contributes and the size stays fixed.
    The write pointer and fill count are buffers too (so `state_dict()` holds nothing but tensors), with a
    host-side copy that slicing uses: reading the queue never waits for the device. Loading a state dict
    refreshes that copy.
    """

    def __init__(self, size: int, n_layers: int, num_negatives: int, nc: int) -> None:
        super().__init__()
        if size < 0:
            raise ConfigError(f"queue_size must be >= 0 (0 disables the queue), got {size}")
        self.size = int(size)
        self.register_buffer("items", torch.zeros(n_layers, self.size, num_negatives, nc))
        self.register_buffer("write_ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))
        self.ptr = self.fill = 0
        self.register_load_state_dict_post_hook(lambda module, _: module._sync_from_buffers())

    def _sync_from_buffers(self) -> None:
        self.ptr, self.fill = int(self.write_ptr), int(self.count)

    def stored(self) -> torch.Tensor:
        """The filled slots, oldest first: (L, fill, K, nc). Reads the device counters (a sync)."""
        self._sync_from_buffers()
        order = [(self.ptr - self.fill + i) % self.size for i in range(self.fill)]
        return self.items[:, order]

    def with_stored(self, negatives: Sequence[torch.Tensor]) -> Layers:
        """Each layer's current negatives (B, K, nc) followed by every stored one: (B, K * (1 + fill), nc).
        Stored negatives are constants (no gradient) shared by all images of the batch."""
        if not self.fill:
            return list(negatives)
        out = []
        for layer, neg in enumerate(negatives):
            old = self.items[layer, : self.fill].reshape(1, -1, neg.shape[2]).expand(neg.shape[0], -1, -1)
            out.append(torch.cat((neg, old), dim=1))
        return out

    @torch.no_grad()
    def push(self, negatives: Sequence[torch.Tensor]) -> None:
        """Store this iteration's negatives (one (B, K, nc) per layer), detached, over the oldest slot.

        The slot is the device-side `write_ptr`, so a push captured in a CUDA graph writes the right slot
        on every replay; the host copies advance too (in a replayed graph they stop, which is harmless
        once the queue is full: `fill` no longer changes, and `stored()` re-reads the buffers)."""
        if not self.size:
            return
        for layer, neg in enumerate(negatives):
            b, k = neg.shape[:2]
            cols = torch.arange(k, device=neg.device)
            rows = neg.detach()[cols % b, cols].to(self.items.dtype)
            self.items[layer].index_copy_(0, self.write_ptr.view(1), rows[None])
        self.write_ptr.add_(1).remainder_(self.size)
        self.count.add_(1).clamp_(max=self.size)
        self.ptr = (self.ptr + 1) % self.size
        self.fill = min(self.fill + 1, self.size)

    def extra_repr(self) -> str:
        return f"size={self.size}, fill={self.fill}"


class AdversarialNegatives(nn.Module):
    """Negatives for one set of projection heads: EMA heads -> pooled embedding -> one generator per layer,
    plus the queue (`queue_size` 0: none). `forward(pooled, noise)` gives the current negatives only."""

    def __init__(
        self,
        heads: PatchSampleF,
        num_negatives: int = 256,
        noise_dim: int = 64,
        ema: float = 0.9,
        queue_size: int = 0,
    ) -> None:
        super().__init__()
        n_layers, nc = len(heads.mlps), heads.nc
        self.ema = EMAHeads(heads, ema)
        self.generators = nn.ModuleList(
            NegativeGenerator(nc, num_negatives, noise_dim) for _ in range(n_layers)
        )
        self.queue = NegativeQueue(queue_size, n_layers, num_negatives, nc)

    def embed(
        self, heads: PatchSampleF, keys: Sequence[torch.Tensor], patch_ids: PatchIds = None
    ) -> Layers:
        """Pooled EMA embedding of the key features (no gradient): the generators' image input. Over every
        position (NEGCUT), or over `patch_ids` only (an unbiased estimate of that mean, far cheaper at the
        high-resolution layers)."""
        return self.ema.pooled(heads, keys, patch_ids)

    def draw_noise(self, batch: int, device: torch.device) -> Layers:
        return [g.draw_noise(batch, device) for g in self.generators]

    def forward(self, pooled: Sequence[torch.Tensor], noise: Sequence[torch.Tensor]) -> Layers:
        return [g(p, z) for g, p, z in zip(self.generators, pooled, noise, strict=True)]


# ---------------------------------------------------------------------------------------------- losses


def nce_per_image(
    q: Sequence[torch.Tensor],
    k: Sequence[torch.Tensor],
    batch: int,
    tau: float,
    negatives: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """PatchNCE per image, averaged over its patches and then over layers: (B,).

    Without `negatives` the in-image patches are the negatives (CUT); with them (one (B, M, nc) per layer)
    they replace those. Per image rather than per row because a layer with fewer positions than
    `num_patches` samples fewer patches, so rows do not line up across layers. The mean of the result is
    CUT's loss (mean over layers of the mean over rows)."""
    per_layer = []
    for layer, (ql, kl) in enumerate(zip(q, k, strict=True)):
        neg = None if negatives is None else negatives[layer]
        loss = patch_nce_loss(ql, kl, batch, tau, negatives=neg)
        per_layer.append(loss.view(batch, -1).mean(1))
    return torch.stack(per_layer).mean(0)


def check_diversity(num_negatives: int, lambda_div: float, method: str) -> None:
    """Refuse at build time what `diversity_loss` could not compute: it pairs the K negatives in halves."""
    if lambda_div > 0 and num_negatives < 2:
        raise ConfigError(f"{method}: lambda_div > 0 needs num_negatives >= 2, got {num_negatives}")


def diversity_loss(negatives: Sequence[torch.Tensor]) -> torch.Tensor:
    """NEGCUT's mode-seeking term: -mean |n[:, :K/2] - n[:, K/2:]| per tensor, averaged over tensors.

    Minimised by the negative generators (with weight lambda_div) so that different noise gives
    different negatives. Needs K >= 2; with odd K the last negative is left out."""
    terms = []
    for neg in negatives:
        half = neg.shape[1] // 2
        if half < 1:
            raise ConfigError(f"the diversity term needs num_negatives >= 2, got {neg.shape[1]}")
        terms.append(-(neg[:, :half] - neg[:, half : 2 * half]).abs().mean())
    return torch.stack(terms).mean()


def image_embedding(rows: torch.Tensor, batch: int) -> torch.Tensor:
    """Image-level embedding from projected patch rows (B*P, nc): mean over the image's patches, L2
    normalised, (B, nc). Used for the clear-exemplar term, whose logits are cosines like PatchNCE's."""
    return l2_normalize(rows.view(batch, -1, rows.shape[1]).mean(1))


def exemplar_loss(
    query: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor, tau: float = 0.07
) -> torch.Tensor:
    """Image-level InfoNCE per image, (B,): -log softmax([q.p, q.n_1, ..., q.n_M] / tau)[0].

    query, positive: (B, C) unit vectors; negatives: (B, M, C). The positive is detached (as PatchNCE's
    keys): the exemplar is a target, not something the encoder may move. The negatives are not, so a
    negative generator can be trained to maximise this. It is PatchNCE with one patch per image."""
    if query.dim() != 2 or query.shape != positive.shape:
        raise ValueError(
            f"query and positive must both be (B, C), got {tuple(query.shape)} and {tuple(positive.shape)}"
        )
    return patch_nce_loss(query, positive, tau=tau, negatives=negatives)
