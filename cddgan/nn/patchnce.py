"""PatchNCE (Park et al., ECCV 2020): projection heads that sample feature patches, and the InfoNCE loss.

Why here, not in a method file: CUT, FastCUT, NEGCUT and CDD-GAN all use these pieces (the heads, the
loss, `project_pairs`, which wires them in the references' order, and `parse_layers`); the last two
replace the in-image negatives by generated ones (`negatives=`).

Conventions shared by both pieces: a projected layer is a (B*P, C) tensor, image-major (rows b*P .. b*P+P-1
belong to image b), P patches per image, the same P positions for every image of the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cddgan.errors import ConfigError


def parse_layers(value: Any, key: str = "nce_layers") -> tuple[int, ...]:
    """Accept ``(0, 4, 8)``, ``[0, 4, 8]`` or the reference's ``"0,4,8"``; refuse anything else by name."""
    try:
        items = value.split(",") if isinstance(value, str) else list(value)
        layers = tuple(int(i) for i in items)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: expected a list of generator layer indices, got {value!r}") from exc
    if not layers:
        raise ConfigError(f"{key}: needs at least one layer index")
    if len(set(layers)) != len(layers):
        raise ConfigError(f"{key}: {list(layers)} lists a layer twice; each layer's loss would count double")
    return layers


def l2_normalize(x: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """x / (||x||_2 + eps) along dim 1, the references' normalisation (eps added to the norm).

    The norm is `torch.linalg.vector_norm`, whose gradient at a zero row is 0 (so that of the result is
    finite, 1/eps): the references' `pow(2).sum().pow(1/2)` gives NaN there, and a zero row is what the
    heads (zero-initialised biases) make of a feature vector that ReLU zeroed entirely, which happens
    with narrow generators (ngf 4: NaN in the second iteration)."""
    return x / (torch.linalg.vector_norm(x, dim=1, keepdim=True) + eps)


def random_positions(n: int, k: int, device: torch.device) -> torch.Tensor:
    """`k` distinct positions out of `n`, uniformly at random.

    CPU: the first k of `randperm(n)`, the references' draw. CUDA: the k largest of n uniform keys, the
    same distribution drawn without the host: CUDA's randperm takes small n through the CPU, which a
    CUDA graph cannot capture."""
    if device.type == "cuda":
        return torch.rand(n, device=device).topk(k, sorted=False).indices
    return torch.randperm(n, device=device)[:k]


class PatchSampleF(nn.Module):
    """Per NCE layer: sample positions, then Linear(C, nc) -> ReLU -> Linear(nc, nc), then L2 norm.

    Built eagerly from the generator's `channels(nce_layers)` (the reference builds the heads lazily on the
    first batch, which breaks optimiser construction and checkpoint loading before a forward pass).
    """

    def __init__(self, channels: Sequence[int], nc: int = 256, use_mlp: bool = True) -> None:
        super().__init__()
        self.use_mlp = use_mlp
        self.nc = nc
        heads = [
            nn.Sequential(nn.Linear(c, nc), nn.ReLU(inplace=True), nn.Linear(nc, nc))
            if use_mlp
            else nn.Identity()
            for c in channels
        ]
        self.mlps = nn.ModuleList(heads)

    def forward(
        self,
        feats: Sequence[torch.Tensor],
        num_patches: int,
        patch_ids: Sequence[torch.Tensor] | None = None,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Project `feats` (one (B, C, H, W) map per layer) to (B*P, nc) rows, P = min(num_patches, H*W).

        Without `patch_ids` it draws the positions per layer on the feature's device (`random_positions`);
        pass the returned ids back in to sample the same positions from the other branch (query vs key).
        `num_patches=0` takes every position, in raster order.
        """
        if len(feats) != len(self.mlps):
            raise ValueError(
                f"PatchSampleF was built for {len(self.mlps)} layers, got {len(feats)} feature maps"
            )
        out: list[torch.Tensor] = []
        ids_out: list[torch.Tensor] = []
        for i, (feat, mlp) in enumerate(zip(feats, self.mlps, strict=True)):
            _, c, h, w = feat.shape
            flat = feat.flatten(2)  # (B, C, H*W)
            if patch_ids is not None:
                ids = patch_ids[i]
            elif num_patches > 0:
                ids = random_positions(h * w, min(num_patches, h * w), feat.device)
            else:
                ids = torch.arange(h * w, device=feat.device)
            sample = flat.index_select(2, ids).transpose(1, 2).reshape(-1, c)  # (B*P, C), image-major
            out.append(l2_normalize(mlp(sample)))
            ids_out.append(ids)
        return out, ids_out


def project_pairs(
    heads: PatchSampleF, feats_q: Sequence[torch.Tensor], feats_k: Sequence[torch.Tensor], num_patches: int
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    """Project query and key features at the same random positions: (queries, keys, positions).

    The keys draw the positions first and the queries reuse them, the references' order of random draws
    (so a seed gives the reference's patches). The keys are projected without autograd: the loss detaches
    them, so a graph there would be work for nothing. Key rows may outnumber query rows (CDD-GAN appends
    its clear exemplar to the keys); the positions are per layer, shared by every image.
    """
    with torch.no_grad():
        k, ids = heads(feats_k, num_patches)
    q, _ = heads(feats_q, num_patches, ids)
    return q, k, ids


def patch_nce_loss(
    q: torch.Tensor,
    k: torch.Tensor,
    batch_size: int | None = None,
    tau: float = 0.07,
    negatives: torch.Tensor | None = None,
) -> torch.Tensor:
    """InfoNCE per query patch; returns the (B*P,) vector of losses (the caller takes the mean).

    q, k: (B*P, C) projected query / key patches, image-major, row i of k is the positive of row i of q.
    The keys are detached here (CUT never back-propagates through the key branch).

    Without `negatives` (CUT): the negatives of a query are the keys at the other P-1 positions of the same
    image; logits = [q.k+, q.k_j for all j of that image with the own-position entry set to -10] / tau, so
    P+1 columns with the positive first. `batch_size` (B) is required to split the rows into images.

    With `negatives` (B, K, C) (NEGCUT / CDD-GAN): they replace the in-image negatives, each image's K
    negatives shared by all its query patches; logits = [q.k+, q.n_1 .. q.n_K] / tau. Negatives are NOT
    detached, so a negative generator trained to maximise this loss gets gradients.
    """
    k = k.detach()
    if q.shape != k.shape or q.dim() != 2:
        raise ValueError(
            f"q and k must both be (B*P, C) with equal shapes, got {tuple(q.shape)}, {tuple(k.shape)}"
        )
    n, dim = q.shape
    l_pos = (q * k).sum(dim=1, keepdim=True)  # (B*P, 1)
    if negatives is not None:
        b = negatives.shape[0]
        if negatives.dim() != 3 or negatives.shape[2] != dim or n % b:
            raise ValueError(
                f"negatives must be (B, K, {dim}) with B dividing the {n} query rows, "
                f"got {tuple(negatives.shape)}"
            )
        l_neg = torch.bmm(q.view(b, n // b, dim), negatives.transpose(1, 2)).reshape(n, -1)
    else:
        if batch_size is None or batch_size < 1 or n % batch_size:
            raise ValueError(f"batch_size must be given and divide the {n} query rows (got {batch_size})")
        p = n // batch_size
        qb = q.view(batch_size, p, dim)
        kb = k.view(batch_size, p, dim)
        l_neg = torch.bmm(qb, kb.transpose(1, 2))  # (B, P, P)
        diag = torch.eye(p, dtype=torch.bool, device=q.device)[None]
        l_neg = l_neg.masked_fill(diag, -10.0).reshape(n, p)
    logits = torch.cat((l_pos, l_neg), dim=1) / tau
    target = torch.zeros(n, dtype=torch.long, device=q.device)
    return F.cross_entropy(logits, target, reduction="none")
