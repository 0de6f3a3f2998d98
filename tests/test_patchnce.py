"""PatchNCE against a softmax cross-entropy written out by hand in numpy, and the patch sampler's
indexing against direct gathering; gradients reach queries, heads and generator but never the keys."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cddgan.nn import PatchSampleF, ResnetGenerator, patch_nce_loss
from cddgan.nn.patchnce import l2_normalize


def unit_rows(rng: np.random.Generator, *shape: int) -> np.ndarray:
    x = rng.normal(size=shape)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def nce_by_hand(q: np.ndarray, k: np.ndarray, batch: int, tau: float) -> np.ndarray:
    """Per-patch loss: -log softmax over [q_i.k_i, q_i.k_j for every j of the same image with j == i
    replaced by -10] / tau, positive first."""
    n = q.shape[0]
    p = n // batch
    out = np.empty(n)
    for r in range(n):
        img, i = divmod(r, p)
        logits = [q[r] @ k[r]]
        for j in range(p):
            logits.append(-10.0 if j == i else q[r] @ k[img * p + j])
        z = np.array(logits) / tau
        out[r] = -z[0] + np.log(np.exp(z - z.max()).sum()) + z.max()
    return out


def nce_neg_by_hand(q: np.ndarray, k: np.ndarray, neg: np.ndarray, tau: float) -> np.ndarray:
    """Per-patch loss with explicit per-image negatives neg[b] (K, C)."""
    n = q.shape[0]
    p = n // neg.shape[0]
    out = np.empty(n)
    for r in range(n):
        z = np.array([q[r] @ k[r]] + [q[r] @ v for v in neg[r // p]]) / tau
        out[r] = -z[0] + np.log(np.exp(z - z.max()).sum()) + z.max()
    return out


@pytest.mark.parametrize(("batch", "patches"), [(1, 3), (2, 3)])
def test_patch_nce_matches_hand_computation(batch, patches):
    rng = np.random.default_rng(batch)
    q, k = unit_rows(rng, batch * patches, 4), unit_rows(rng, batch * patches, 4)
    got = patch_nce_loss(torch.tensor(q), torch.tensor(k), batch_size=batch, tau=0.07)
    assert got.shape == (batch * patches,)
    np.testing.assert_allclose(got.numpy(), nce_by_hand(q, k, batch, 0.07), rtol=1e-10)


def test_patch_nce_tiny_example_with_a_worked_number():
    # one image, 2 patches, 2 dims, tau 1: row 0 logits [q0.k0, -10, q0.k1] = [1, -10, 0]
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    k = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    got = patch_nce_loss(q, k, batch_size=1, tau=1.0)
    want = -1 + np.log(np.e + np.exp(-10) + 1)
    np.testing.assert_allclose(got.numpy(), [want, want], rtol=1e-12)


def test_patch_nce_with_explicit_negatives_matches_hand_computation():
    rng = np.random.default_rng(7)
    q, k = unit_rows(rng, 6, 4), unit_rows(rng, 6, 4)
    neg = unit_rows(rng, 2, 5, 4)  # 2 images, 5 negatives each, shared by that image's 3 patches
    got = patch_nce_loss(torch.tensor(q), torch.tensor(k), tau=0.07, negatives=torch.tensor(neg))
    np.testing.assert_allclose(got.numpy(), nce_neg_by_hand(q, k, neg, 0.07), rtol=1e-10)


def test_patch_nce_rejects_bad_shapes():
    q = torch.randn(6, 4)
    with pytest.raises(ValueError, match="batch_size"):
        patch_nce_loss(q, q.clone())
    with pytest.raises(ValueError, match="batch_size"):
        patch_nce_loss(q, q.clone(), batch_size=4)
    with pytest.raises(ValueError, match="equal shapes"):
        patch_nce_loss(q, torch.randn(6, 5), batch_size=2)
    with pytest.raises(ValueError, match="negatives"):
        patch_nce_loss(q, q.clone(), negatives=torch.randn(4, 3, 4))


def test_gradients_reach_queries_and_negatives_but_not_keys():
    q = torch.randn(6, 4, requires_grad=True)
    k = torch.randn(6, 4, requires_grad=True)
    neg = torch.randn(2, 3, 4, requires_grad=True)
    patch_nce_loss(q, k, batch_size=2).mean().backward()
    assert q.grad is not None and q.grad.abs().sum() > 0
    assert k.grad is None
    q.grad = None
    patch_nce_loss(q, k, negatives=neg).mean().backward()
    assert q.grad.abs().sum() > 0 and neg.grad.abs().sum() > 0
    assert k.grad is None


# ---------------------------------------------------------------- PatchSampleF


def test_sampler_gathers_the_same_positions_for_every_image_and_for_the_key_branch():
    torch.manual_seed(0)
    f = PatchSampleF([3, 5], use_mlp=False)
    feats = [torch.randn(2, 3, 4, 6), torch.randn(2, 5, 3, 3)]
    out, ids = f(feats, num_patches=7)
    for layer, (feat, proj, idx) in enumerate(zip(feats, out, ids, strict=True)):
        p = idx.numel()
        assert p == min(7, feat.shape[2] * feat.shape[3]), layer
        assert len(set(idx.tolist())) == p
        for b in range(2):
            for j, pos in enumerate(idx.tolist()):
                y, x = divmod(pos, feat.shape[3])
                v = feat[b, :, y, x]
                torch.testing.assert_close(proj[b * p + j], v / v.norm())
    again, ids2 = f([x * 2 for x in feats], num_patches=7, patch_ids=ids)
    assert all(torch.equal(a, b) for a, b in zip(ids, ids2, strict=True))
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(out, again, strict=True))  # scale-free


def test_sampler_num_patches_zero_takes_every_position_and_mlp_outputs_unit_rows():
    f = PatchSampleF([3], nc=16)
    out, ids = f([torch.randn(2, 3, 5, 4)], num_patches=0)
    assert out[0].shape == (2 * 20, 16)
    assert ids[0].tolist() == list(range(20))
    torch.testing.assert_close(out[0].norm(dim=1), torch.ones(40))


def test_sampler_draws_ids_on_the_feature_device_and_rejects_wrong_layer_counts():
    f = PatchSampleF([3, 3])
    _, ids = f([torch.randn(1, 3, 4, 4)] * 2, num_patches=5)
    assert all(i.device == torch.device("cpu") for i in ids)
    with pytest.raises(ValueError, match="2 layers"):
        f([torch.randn(1, 3, 4, 4)], num_patches=5)


def test_gradients_reach_generator_and_heads_through_the_queries_only():
    torch.manual_seed(0)
    g = ResnetGenerator(ngf=4, n_blocks=2)
    layers = [0, 4, 8, 12]
    f = PatchSampleF(g.channels(layers), nc=8)
    x = torch.randn(1, 3, 16, 16)
    fake, feats_k = g(x, layers)
    keys = [t.detach().requires_grad_(True) for t in feats_k]  # leaves, to see whether grad reaches them
    k_proj, ids = f(keys, num_patches=6)
    q_proj, _ = f(g(fake, layers, encode_only=True), num_patches=6, patch_ids=ids)
    loss = sum(patch_nce_loss(q, k, batch_size=1).mean() for q, k in zip(q_proj, k_proj, strict=True))
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in f.parameters())
    assert g.model[1].weight.grad.abs().sum() > 0  # first conv: reached through the query pass
    assert g.model[-2].weight.grad.abs().sum() > 0  # last conv: reached only through `fake`
    assert all(k.grad is None for k in keys)  # the loss detaches the key projections


def test_l2_normalize_has_a_finite_gradient_at_a_zero_row_not_nan():
    """A feature vector that ReLU zeroed maps to a zero row (zero-initialised head biases): the references'
    normalisation gave NaN gradients there and killed narrow runs within two iterations."""
    x = torch.tensor([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]], requires_grad=True)
    y = l2_normalize(x)
    torch.testing.assert_close(y[1].detach(), torch.tensor([0.6, 0.8, 0.0]), rtol=1e-6, atol=1e-7)
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
    torch.testing.assert_close(x.grad[0], torch.full((3,), 1e7))  # y = x / eps near 0: slope 1 / eps
