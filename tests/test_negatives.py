"""The blocks NEGCUT and CDD-GAN share (cddgan/nn/negatives.py), each against a computation written out
here: the negative generator against its plain concatenated MLP, the EMA heads against a copy of the heads
loaded with hand-averaged weights, the FIFO queue slot by slot, and the losses against numpy."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from test_patchnce import nce_by_hand, nce_neg_by_hand, unit_rows

from cddgan.errors import ConfigError
from cddgan.nn import PatchSampleF
from cddgan.nn.negatives import (
    AdversarialNegatives,
    EMAHeads,
    NegativeGenerator,
    NegativeQueue,
    check_diversity,
    diversity_loss,
    exemplar_loss,
    image_embedding,
    nce_per_image,
)


def logsumexp_ce(logits: np.ndarray) -> float:
    """-log softmax(logits)[0]."""
    m = logits.max()
    return float(-logits[0] + m + np.log(np.exp(logits - m).sum()))


# ---------------------------------------------------------------- negative generator


def test_generator_equals_the_mlp_on_the_concatenated_input_and_gives_unit_rows():
    torch.manual_seed(0)
    gen = NegativeGenerator(nc=6, num_negatives=4, noise_dim=3).double()
    pooled = torch.randn(2, 6, dtype=torch.float64, requires_grad=True)
    noise = torch.randn(2, 4, 3, dtype=torch.float64)
    got = gen(pooled, noise)
    # the reference form: pooled repeated K times, concatenated with z, one MLP, L2 norm per row (with the
    # shared normalisation's eps: PatchSampleF's rows, which these are compared with, use the same)
    inp = torch.cat((pooled[:, None].expand(2, 4, 6), noise), dim=2).reshape(8, 9)
    want = gen.mlp(inp)
    want = (want / (want.norm(dim=1, keepdim=True) + 1e-7)).view(2, 4, 6)
    assert got.shape == (2, 4, 6)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(got.norm(dim=2), torch.ones(2, 4, dtype=torch.float64))
    # and the same gradients for the weights and the pooled input
    weight = torch.randn(2, 4, 6, dtype=torch.float64)
    params = [*gen.parameters(), pooled]
    g_got = torch.autograd.grad((got * weight).sum(), params)
    g_want = torch.autograd.grad((want * weight).sum(), params)
    for a, b in zip(g_got, g_want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_noise_differs_per_negative_and_comes_from_the_global_seed():
    gen = NegativeGenerator(nc=4, num_negatives=5, noise_dim=2)
    torch.manual_seed(3)
    z1 = gen.draw_noise(2, torch.device("cpu"))
    torch.manual_seed(3)
    z2 = gen.draw_noise(2, torch.device("cpu"))
    assert z1.shape == (2, 5, 2) and torch.equal(z1, z2)
    negs = gen(torch.randn(2, 4), z1)
    assert not torch.allclose(negs[:, 0], negs[:, 1])  # different noise, different negatives


# ---------------------------------------------------------------- EMA heads


def test_ema_heads_are_buffers_that_move_by_the_decay():
    torch.manual_seed(0)
    heads = PatchSampleF([3, 5], nc=4)
    ema = EMAHeads(heads, decay=0.9)
    assert list(ema.parameters()) == []
    before = {k: v.clone() for k, v in ema.weights().items()}
    assert len(ema.state_dict()) == len(list(heads.parameters())) == 8
    with torch.no_grad():
        for p in heads.parameters():
            p.add_(torch.randn_like(p))
    ema.update(heads)
    for name, p in heads.named_parameters():
        torch.testing.assert_close(ema.weights()[name], 0.9 * before[name] + 0.1 * p.detach())


def test_ema_pooled_embedding_is_the_mean_of_the_averaged_heads_over_positions():
    torch.manual_seed(1)
    heads = PatchSampleF([3, 5], nc=4)
    ema = EMAHeads(heads, decay=0.5)
    with torch.no_grad():
        for p in heads.parameters():
            p.mul_(-2.0)
    ema.update(heads)
    frozen = copy.deepcopy(heads)
    frozen.load_state_dict(ema.weights())  # the averaged weights, in an ordinary copy of the heads
    feats = [torch.randn(2, 3, 4, 4), torch.randn(2, 5, 2, 3)]
    got = ema.pooled(heads, feats)
    for layer, feat in enumerate(feats):
        rows = feat.flatten(2).transpose(1, 2)  # (B, HW, C)
        proj = frozen.mlps[layer](rows)
        want = (proj / (proj.norm(dim=2, keepdim=True) + 1e-7)).mean(1)
        torch.testing.assert_close(got[layer], want, rtol=1e-5, atol=1e-6)
    ids = [torch.tensor([0, 5, 7]), torch.tensor([1, 4])]
    sub = ema.pooled(heads, feats, ids)
    rows = feats[0].flatten(2)[:, :, ids[0]].transpose(1, 2)
    proj = frozen.mlps[0](rows)
    torch.testing.assert_close(sub[0], (proj / (proj.norm(dim=2, keepdim=True) + 1e-7)).mean(1))
    assert not got[0].requires_grad and all(p.grad is None for p in heads.parameters())


def test_ema_decay_out_of_range_is_a_config_error():
    with pytest.raises(ConfigError, match="ema"):
        EMAHeads(PatchSampleF([3], nc=4), decay=1.5)


# ---------------------------------------------------------------- queue


def pushes(n: int, layers: int = 2, k: int = 4, nc: int = 3) -> list[list[torch.Tensor]]:
    """n iterations of negatives that need gradients, each value telling its push and layer apart."""
    out = []
    for i in range(n):
        leaf = torch.full((1, k, nc), float(i + 1), requires_grad=True)
        step = torch.arange(k, dtype=torch.float32)[None, :, None]
        out.append([leaf * (layer + 1) + step for layer in range(layers)])
    return out


def test_queue_is_fifo_detached_and_overwrites_the_oldest():
    queue = NegativeQueue(size=3, n_layers=2, num_negatives=4, nc=3)
    assert queue.items.shape == (2, 3, 4, 3)
    batches = pushes(5)
    for i, negs in enumerate(batches):
        queue.push(negs)
        assert queue.fill == min(i + 1, 3)
        stored = queue.stored()
        assert stored.grad_fn is None and not stored.requires_grad
        oldest_first = batches[max(0, i - 2) : i + 1]
        for layer in range(2):
            want = torch.stack([b[layer][0].detach() for b in oldest_first])
            assert torch.equal(stored[layer], want)
    assert queue.items.shape == (2, 3, 4, 3)  # never grows


def test_queue_appends_stored_negatives_to_every_image():
    queue = NegativeQueue(size=2, n_layers=1, num_negatives=2, nc=3)
    current = [torch.randn(3, 2, 3)]
    assert queue.with_stored(current)[0] is current[0]  # empty: nothing appended
    first = [torch.randn(1, 2, 3)]
    queue.push(first)
    out = queue.with_stored(current)[0]
    assert out.shape == (3, 4, 3)
    assert torch.equal(out[:, :2], current[0])
    for b in range(3):
        assert torch.equal(out[b, 2:], first[0][0])


def test_queue_slot_takes_negative_j_from_image_j_mod_batch():
    queue = NegativeQueue(size=2, n_layers=1, num_negatives=5, nc=2)
    negs = torch.randn(2, 5, 2)
    queue.push([negs])
    want = torch.stack([negs[0, 0], negs[1, 1], negs[0, 2], negs[1, 3], negs[0, 4]])
    assert torch.equal(queue.stored()[0, 0], want)


def test_queue_size_zero_disables_it():
    queue = NegativeQueue(size=0, n_layers=2, num_negatives=4, nc=3)
    negs = pushes(1)[0]
    queue.push(negs)
    assert queue.fill == 0 and queue.items.shape == (2, 0, 4, 3)
    assert all(a is b for a, b in zip(queue.with_stored(negs), negs, strict=True))


def test_queue_round_trips_through_state_dict():
    queue = NegativeQueue(size=3, n_layers=2, num_negatives=4, nc=3)
    batches = pushes(5)
    for negs in batches[:4]:
        queue.push(negs)
    state = copy.deepcopy(queue.state_dict())
    other = NegativeQueue(size=3, n_layers=2, num_negatives=4, nc=3)
    other.load_state_dict(state)
    assert (other.ptr, other.fill) == (queue.ptr, queue.fill) == (1, 3)
    assert torch.equal(other.stored(), queue.stored())
    queue.push(batches[4])
    other.push(batches[4])  # the restored pointer overwrites the same (oldest) slot
    assert torch.equal(other.items, queue.items)


def test_negative_queue_size_is_a_config_error():
    with pytest.raises(ConfigError, match="queue_size"):
        NegativeQueue(size=-1, n_layers=1, num_negatives=2, nc=2)


def test_adversarial_negatives_trains_only_its_generators():
    torch.manual_seed(0)
    heads = PatchSampleF([3, 5], nc=4)
    neg = AdversarialNegatives(heads, num_negatives=6, noise_dim=2, ema=0.9, queue_size=2)
    trained = [n for n, _ in neg.generators.named_parameters(prefix="generators")]
    assert [n for n, _ in neg.named_parameters()] == trained
    keys = [torch.randn(2, 3, 4, 4), torch.randn(2, 5, 2, 2)]
    pooled = neg.embed(heads, keys)
    out = neg(pooled, neg.draw_noise(2, torch.device("cpu")))
    assert [tuple(o.shape) for o in out] == [(2, 6, 4), (2, 6, 4)]
    saved = neg.state_dict()
    assert any(k.startswith("queue.") for k in saved) and any(k.startswith("ema.") for k in saved)


# ---------------------------------------------------------------- losses


def test_exemplar_loss_equals_a_hand_computed_softmax_cross_entropy():
    rng = np.random.default_rng(0)
    q, p = unit_rows(rng, 2, 3), unit_rows(rng, 2, 3)
    n = unit_rows(rng, 2, 4, 3)
    tau = 0.1
    got = exemplar_loss(torch.tensor(q), torch.tensor(p), torch.tensor(n), tau)
    want = [logsumexp_ce(np.concatenate(([q[b] @ p[b]], n[b] @ q[b])) / tau) for b in range(2)]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)


def test_exemplar_loss_worked_number_and_gradients():
    # one image, tau 1: logits [q.p, q.n] = [1, 0]: loss = log(1 + e^-1)
    q = torch.tensor([[1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    p = torch.tensor([[1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    n = torch.tensor([[[0.0, 1.0]]], dtype=torch.float64, requires_grad=True)
    loss = exemplar_loss(q, p, n, tau=1.0)
    assert float(loss.detach()) == pytest.approx(np.log1p(np.exp(-1.0)), rel=1e-12)
    loss.sum().backward()
    assert p.grad is None  # the exemplar is a target
    assert q.grad is not None and n.grad is not None and float(n.grad.abs().sum()) > 0


def test_exemplar_loss_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(B, C\)"):
        exemplar_loss(torch.zeros(2, 3), torch.zeros(3, 3), torch.zeros(2, 1, 3))


def test_image_embedding_is_the_normalised_mean_of_each_images_rows():
    rows = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0], [3.0, 4.0]])
    got = image_embedding(rows, batch=2)
    s = 2**-0.5
    torch.testing.assert_close(got, torch.tensor([[s, s], [0.6, 0.8]]))


def test_diversity_loss_pairs_the_halves_and_averages_over_tensors():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 5, 3)), rng.normal(size=(1, 4, 3))
    got = diversity_loss([torch.tensor(a), torch.tensor(b)])
    want = 0.5 * (-np.abs(a[:, :2] - a[:, 2:4]).mean() - np.abs(b[:, :2] - b[:, 2:]).mean())
    assert float(got) == pytest.approx(want, rel=1e-12)
    with pytest.raises(ConfigError, match="num_negatives >= 2"):
        diversity_loss([torch.zeros(1, 1, 3)])
    with pytest.raises(ConfigError, match="lambda_div"):
        check_diversity(1, 1.0, "negcut")
    check_diversity(1, 0.0, "negcut")  # no diversity term: one negative is fine


def test_nce_per_image_averages_each_images_patches_then_the_layers():
    rng = np.random.default_rng(4)
    batch, tau = 2, 0.2
    # layer 0 samples 3 patches per image, layer 1 only 2 (a small feature map)
    q0, k0 = unit_rows(rng, 6, 4), unit_rows(rng, 6, 4)
    q1, k1 = unit_rows(rng, 4, 4), unit_rows(rng, 4, 4)
    qs, ks = [torch.tensor(q0), torch.tensor(q1)], [torch.tensor(k0), torch.tensor(k1)]
    got = nce_per_image(qs, ks, batch, tau)
    l0 = nce_by_hand(q0, k0, batch, tau).reshape(2, 3).mean(1)
    l1 = nce_by_hand(q1, k1, batch, tau).reshape(2, 2).mean(1)
    np.testing.assert_allclose(got.numpy(), (l0 + l1) / 2, rtol=1e-10)
    negs = [unit_rows(rng, 2, 5, 4), unit_rows(rng, 2, 5, 4)]
    got = nce_per_image(qs, ks, batch, tau, [torch.tensor(n) for n in negs])
    l0 = nce_neg_by_hand(q0, k0, negs[0], tau).reshape(2, 3).mean(1)
    l1 = nce_neg_by_hand(q1, k1, negs[1], tau).reshape(2, 2).mean(1)
    np.testing.assert_allclose(got.numpy(), (l0 + l1) / 2, rtol=1e-10)

