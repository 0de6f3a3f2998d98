"""CDD-GAN (cddgan/methods/cddgan.py): with its switches off it is CycleGAN (losses and gradients equal, weights
copied); with PatchNCE alone it is CycleGAN + PatchNCE computed here independently; the clear-exemplar term
matches embeddings computed here; the negative generators' update raises the loss they are trained against
and the G/F update lowers it; the queue grows the negative set FIFO; noise-only negatives never train; a
tiny batch is overfitted; and a state_dict round trip (queue and image pools included) is bit-exact."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from test_negcut import adversarial_checks, batch, checkpoint_round_trip, iterate, make_opts

from baselines.cyclegan import CycleGAN
from cddgan.errors import ConfigError
from cddgan.methods import method_class
from cddgan.methods.cddgan import CDDGAN
from cddgan.nn import patch_nce_loss
from cddgan.nn.negatives import exemplar_loss, image_embedding

NETS = dict(ngf=8, n_blocks=2, ndf=8)
TINY = dict(NETS, nce_layers=(0, 4, 8, 12), num_patches=16, netF_nc=16, num_negatives=8, queue_size=2)
OFF = dict(lambda_nce=0.0, neg_generators=False, lambda_clear=0.0)
CYCLE_NETS = dict(antialias=False, antialias_up=False, init_type="normal")  # CycleGAN's layout and init


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def step_results(method, hazy, clear, seed: int) -> dict[str, tuple]:
    """One `step` with backward but no optimiser step: per group (loss, logs, gradients of the group)."""
    torch.manual_seed(seed)
    groups = method.optim_groups()
    out = {}
    for group, loss, logs in method.step(hazy, clear):
        for p in groups[group]:
            p.grad = None
        loss.backward()
        grads = [None if p.grad is None else p.grad.clone() for p in groups[group]]
        out[group] = (loss.detach().clone(), {k: float(v) for k, v in logs.items()}, grads)
    return out


def paired_with_cyclegan(settings: dict) -> tuple[CycleGAN, CDDGAN]:
    """A CycleGAN and a CDD-GAN in CycleGAN's layout with the same generator and discriminator weights."""
    torch.manual_seed(0)
    cyc = CycleGAN(NETS).double()
    cdd = CDDGAN({**TINY, **CYCLE_NETS, **settings}).double()
    missing, unexpected = cdd.load_state_dict(cyc.state_dict(), strict=False)
    assert not unexpected and all(k.startswith(("F_", "N_")) for k in missing)
    return cyc, cdd


# ---------------------------------------------------------------- settings


def test_registered_with_reference_defaults_and_every_switch():
    assert method_class("cddgan") is CDDGAN
    d = CDDGAN.defaults
    assert (d["ngf"], d["n_blocks"], d["ndf"], d["pool_size"]) == (64, 9, 64, 50)
    assert (d["lambda_A"], d["lambda_B"], d["lambda_identity"]) == (10.0, 10.0, 0.5)
    assert (d["nce_layers"], d["num_patches"]) == ((0, 4, 8, 12, 16), 256) and d["nce_t"] == 0.07
    assert (d["num_negatives"], d["noise_dim"], d["ema"], d["lambda_div"]) == (256, 64, 0.9, 1.0)
    # the reading of docs/cddgan.md: queue of 4, lambda_nce = lambda_clear = 1, the CUT / NEGCUT layout
    assert (d["queue_size"], d["lambda_nce"], d["lambda_clear"], d["netF_nc"]) == (4, 1.0, 1.0, 256)
    assert (d["antialias"], d["antialias_up"], d["init_type"]) == (True, True, "xavier")
    assert d["neg_generators"] is True and d["neg_adversarial"] is True
    switches = ("lambda_nce", "neg_generators", "queue_size", "neg_adversarial", "lambda_div", "lambda_clear")
    assert all(switch in d for switch in switches)


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"lambda_nce": 0.0, "lambda_clear": 0.0}, "no loss uses the negatives"),
        ({"queue_size": -1}, "queue_size"),
        ({"num_negatives": 1}, "num_negatives >= 2"),
        ({"nce_layers": (0, 99)}, "out of range"),
        ({"lambda_nec": 1.0}, "unknown setting"),
    ],
)
def test_bad_settings_are_config_errors(settings, match):
    with pytest.raises(ConfigError, match=match):
        CDDGAN({**TINY, **settings})


def test_switched_off_parts_are_not_built():
    cdd = CDDGAN({**TINY, **OFF})
    assert {k.split(".")[0] for k in cdd.state_dict()} == {"G_AB", "G_BA", "D_A", "D_B"}
    clear_only = CDDGAN({**TINY, "lambda_nce": 0.0})
    assert clear_only.F_BA is None and clear_only.N_BA is None and clear_only.N_AB is not None
    assert "N" not in CDDGAN({**TINY, "neg_adversarial": False}).optim_groups()


# ---------------------------------------------------------------- equal to CycleGAN (+ PatchNCE)


def test_with_every_switch_off_it_is_cyclegan():
    cyc, cdd = paired_with_cyclegan(OFF)
    a, b = (x.double() for x in batch(3))
    want = step_results(cyc, a, b, seed=1)
    got = step_results(cdd, a, b, seed=1)
    assert list(got) == ["D", "G"] and list(want) == ["G", "D"]  # D first (CUT / NEGCUT order)
    for group in ("G", "D"):
        loss_w, logs_w, grads_w = want[group]
        loss_g, logs_g, grads_g = got[group]
        torch.testing.assert_close(loss_g, loss_w, rtol=1e-12, atol=0)
        assert logs_g.keys() == logs_w.keys() - {"G"}
        for key in logs_g:
            assert logs_g[key] == pytest.approx(logs_w[key], rel=1e-12), key
        for g, w in zip(grads_g, grads_w, strict=True):
            torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-14)


def test_the_benchmarks_faithful_variant_computes_the_same_step():
    """benchmarks/faithful.py's CDD-GAN (the reference's work: one discriminator pass over the real and one
    over the fake images) gives the same losses and gradients as the single batched pass."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from faithful import FaithfulCDDGAN

    settings = {**TINY, "neg_generators": False}  # float64 throughout (the generators' noise is float32)
    torch.manual_seed(0)
    fast = CDDGAN(settings).double()
    slow = FaithfulCDDGAN(settings).double()
    slow.load_state_dict(fast.state_dict())
    a, b = (x.double() for x in batch(3))
    got, want = step_results(fast, a, b, seed=1), step_results(slow, a, b, seed=1)
    assert list(got) == list(want) == ["D", "G"]
    for group in got:
        torch.testing.assert_close(got[group][0], want[group][0], rtol=1e-12, atol=0)
        for g, w in zip(got[group][2], want[group][2], strict=True):
            torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-14)


def test_with_patchnce_only_it_is_cyclegan_plus_patchnce_both_ways():
    lam = 2.0
    # pool_size 0: the D update's pool draws no random numbers before the patch positions below
    cyc, cdd = paired_with_cyclegan(
        {"lambda_nce": lam, "neg_generators": False, "lambda_clear": 0.0, "pool_size": 0}
    )
    a, b = (x.double() for x in batch(4))
    want_g = step_results(cyc, a, b, seed=2)["G"][0]
    got = step_results(cdd, a, b, seed=2)["G"]

    # PatchNCE written out: each generator's encoder on its input (keys) and output (queries), CUT's
    # in-image negatives; positions drawn from the keys, direction A->B first (the model's order)
    torch.manual_seed(2)
    layers, p = cdd.nce_layers, TINY["num_patches"]
    with torch.no_grad():
        fake_b, fake_a = cdd.G_AB(a), cdd.G_BA(b)
        nces = []
        for g, heads, src, out in ((cdd.G_AB, cdd.F_AB, a, fake_b), (cdd.G_BA, cdd.F_BA, b, fake_a)):
            k, ids = heads(g(src, layers, encode_only=True), p)
            q, _ = heads(g(out, layers, encode_only=True), p, ids)
            per_layer = [patch_nce_loss(ql, kl, batch_size=1).mean() for ql, kl in zip(q, k, strict=True)]
            nces.append(lam * torch.stack(per_layer).mean())
    torch.testing.assert_close(got[0], want_g + nces[0] + nces[1], rtol=1e-12, atol=0)
    assert got[1]["NCE_A"] == pytest.approx(float(nces[0]), rel=1e-12)
    assert got[1]["NCE_B"] == pytest.approx(float(nces[1]), rel=1e-12)


@pytest.mark.parametrize(
    ("lambda_identity", "nce_layers"),
    [(0.5, (0, 4, 8, 12)), (0.0, (0, 4, 8, 12)), (0.5, (12, 0, 4, 8))],
)  # exemplar features from the main pass / their own pass; the deepest layer listed first
def test_clear_exemplar_term_matches_embeddings_computed_independently(lambda_identity, nce_layers):
    lam = 0.5
    torch.manual_seed(0)
    settings = {"lambda_nce": 0.0, "neg_generators": False, "lambda_clear": lam, "pool_size": 0}
    cdd = CDDGAN({**TINY, **settings, "lambda_identity": lambda_identity, "nce_layers": nce_layers}).double()
    a, b = (x.double() for x in batch(6, n=2))
    logs = step_results(cdd, a, b, seed=3)["G"][1]
    torch.manual_seed(3)
    layers, p = cdd.nce_layers, TINY["num_patches"]
    with torch.no_grad():
        fake_b = cdd.G_AB(a)
        k, ids = cdd.F_AB(cdd.G_AB(torch.cat((a, b)), layers, encode_only=True), p)
        q, _ = cdd.F_AB(cdd.G_AB(fake_b, layers, encode_only=True), p, ids)
        deep = layers.index(12)  # the deepest layer: hazy rows, then clear-exemplar rows
        half = k[deep].shape[0] // 2
        query = image_embedding(q[deep], 2)
        hazy, positive = image_embedding(k[deep][:half], 2), image_embedding(k[deep][half:], 2)
        # by hand: softmax cross-entropy of [q.p, q.h] / tau per image
        logits = torch.stack(((query * positive).sum(1), (query * hazy).sum(1)), 1) / 0.07
        by_hand = (torch.logsumexp(logits, 1) - logits[:, 0]).mean()
        via_function = exemplar_loss(query, positive, hazy[:, None]).mean()
    assert logs["clear"] == pytest.approx(lam * float(by_hand), rel=1e-10)
    assert float(via_function) == pytest.approx(float(by_hand), rel=1e-10)


def test_clear_term_takes_the_generated_negatives_of_the_deepest_layer_and_the_queue(monkeypatch):
    import cddgan.methods.cddgan as model

    torch.manual_seed(0)
    m = CDDGAN({**TINY, "lambda_nce": 0.0, "nce_layers": (8, 0, 4)})  # CLEAR is the only contrastive term
    generated: list[list[torch.Tensor]] = []
    negatives_seen: list[torch.Tensor] = []
    make_negatives = m.N_AB.forward
    monkeypatch.setattr(m.N_AB, "forward", lambda *a: generated.append(make_negatives(*a)) or generated[-1])
    original = model.exemplar_loss
    monkeypatch.setattr(
        model, "exemplar_loss", lambda q, p, n, tau: negatives_seen.append(n.detach()) or original(q, p, n, tau)
    )
    opts = make_opts(m)
    hazy, clear = batch(5)
    iterate(m, opts, hazy, clear)
    k = TINY["num_negatives"]
    # N update, then G update on negatives regenerated by the updated generators: each CLEAR call sees the
    # hazy input plus the K negatives of layer 8 (listed first) just generated
    assert len(negatives_seen) == 2 and len(generated) == 2
    for seen, layers in zip(negatives_seen, generated, strict=True):
        assert seen.shape[1] == 1 + k
        torch.testing.assert_close(seen[:, 1:], layers[0].detach(), rtol=0, atol=0)
    negatives_seen.clear()
    iterate(m, opts, hazy, clear)
    assert [n.shape[1] for n in negatives_seen] == [1 + 2 * k] * 2  # + the queued iteration's K


def test_n_loss_is_minus_the_contrastive_terms_plus_the_weighted_diversity_term():
    lambda_div = 2.5
    torch.manual_seed(0)
    m = CDDGAN({**TINY, "lambda_div": lambda_div, "lambda_nce": 0.7, "lambda_clear": 1.3})
    got = step_results(m, *batch(12), seed=4)  # no optimiser step: G sees the N update's negatives again
    loss_n, logs_n, _ = got["N"]
    logs_g = got["G"][1]
    assert float(loss_n) == pytest.approx(-logs_n["N_contrast"] + lambda_div * logs_n["N_div"], rel=1e-6)
    assert logs_n["N_div"] < 0  # NEGCUT's term is a negative distance: minimising it spreads the negatives
    assert logs_n["N_contrast"] == pytest.approx(logs_g["contrast"], rel=1e-6)
    parts = logs_g["NCE_A"] + logs_g["NCE_B"] + logs_g["clear"]
    assert logs_g["contrast"] == pytest.approx(parts, rel=1e-6) and min(logs_g["clear"], logs_g["NCE_A"]) > 0


def test_after_step_moves_both_directions_ema_heads_by_the_decay():
    torch.manual_seed(0)
    m = CDDGAN({**TINY, "ema": 0.8})
    before = {n: {k: v.clone() for k, v in neg.ema.weights().items()} for n, neg in (("AB", m.N_AB), ("BA", m.N_BA))}
    iterate(m, make_opts(m), *batch(2))
    for name, heads, neg in (("AB", m.F_AB, m.N_AB), ("BA", m.F_BA, m.N_BA)):
        for key, p in heads.named_parameters():
            assert not torch.equal(p.detach(), before[name][key])  # the heads moved
            torch.testing.assert_close(neg.ema.weights()[key], 0.8 * before[name][key] + 0.2 * p.detach())


# ---------------------------------------------------------------- update order and the adversarial game


def test_update_order_groups_and_gradient_isolation():
    torch.manual_seed(0)
    m = CDDGAN(TINY)
    groups = m.optim_groups()
    ids = [id(p) for params in groups.values() for p in params]
    assert sorted(ids) == sorted(id(p) for p in m.parameters())
    seen = []
    for group, loss, logs in m.step(*batch(0)):
        seen.append(group)
        for p in m.parameters():
            p.grad = None
        loss.backward()
        with_grad = {id(p) for p in m.parameters() if p.grad is not None and p.grad.abs().sum() > 0}
        assert with_grad and with_grad <= {id(p) for p in groups[group]}, group
        assert all(not v.requires_grad for v in logs.values()) and not {"D", "N", "G"} & logs.keys()
        if group == "G":
            assert not any(p.requires_grad for d in (m.D_A, m.D_B) for p in d.parameters())
    assert seen == ["D", "N", "G"]
    assert all(p.requires_grad for p in m.parameters())


@pytest.mark.parametrize("lambda_clear", [0.0, 1.0])
def test_n_update_raises_and_g_update_lowers_the_contrastive_loss(lambda_clear):
    # queue off: a queue would add this iteration's negatives to the next one, so the batch were not fixed
    adversarial_checks(CDDGAN, {**TINY, "queue_size": 0, "lambda_clear": lambda_clear})


def test_n_update_raises_the_loss_with_a_filled_queue_too():
    torch.manual_seed(0)
    m = CDDGAN(TINY)
    opts = make_opts(m, lr=2e-4)
    hazy, clear = batch(8)
    for _ in range(3):  # fill the queue (it fills whether or not anything is updated)
        iterate(m, opts, hazy, clear, update=set())
    assert m.N_AB.queue.fill == 2
    logs = iterate(m, opts, hazy, clear, update={"N"})
    assert logs["contrast"] > logs["N_contrast"]


def test_queue_grows_the_negative_set_fifo(monkeypatch):
    import cddgan.nn.negatives as negatives

    torch.manual_seed(0)
    m = CDDGAN({**TINY, "lambda_clear": 0.0})
    opts = make_opts(m)
    sizes: list[int] = []
    original = negatives.patch_nce_loss

    def spy(q, k, batch_size=None, tau=0.07, negatives=None):
        sizes.append(negatives.shape[1])
        return original(q, k, batch_size, tau, negatives=negatives)

    monkeypatch.setattr(negatives, "patch_nce_loss", spy)
    hazy, clear = batch(9)
    per_iteration = []
    pushed = []
    for _ in range(4):
        sizes.clear()
        iterate(m, opts, hazy, clear)
        per_iteration.append(sorted(set(sizes)))
        pushed.append(m.N_AB.queue.stored()[:, -1].clone())  # the newest slot after this iteration
    k = TINY["num_negatives"]
    assert per_iteration == [[k], [2 * k], [3 * k], [3 * k]]  # K current + K per stored iteration, Q = 2
    stored = m.N_AB.queue.stored()
    assert not stored.requires_grad and stored.grad_fn is None
    assert torch.equal(stored[:, 0], pushed[2]) and torch.equal(stored[:, 1], pushed[3])  # oldest first


def test_noise_only_negatives_never_train():
    torch.manual_seed(0)
    m = CDDGAN({**TINY, "neg_adversarial": False})
    start = {k: v.clone() for k, v in m.N_AB.generators.state_dict().items()}
    opts = make_opts(m)
    orders = []
    for i in range(3):
        torch.manual_seed(i)
        order = []
        for group, loss, _ in m.step(*batch(i)):
            opts[group].zero_grad()
            loss.backward()
            opts[group].step()
            order.append(group)
        m.after_step()
        orders.append(order)
    assert orders == [["D", "G"]] * 3
    assert not any(p.requires_grad for p in m.N_AB.parameters())
    for key, value in m.N_AB.generators.state_dict().items():
        assert torch.equal(value, start[key]), key
    assert m.N_AB.queue.fill == 2  # the negatives are still made and queued


# ---------------------------------------------------------------- training


def test_overfits_a_tiny_batch():
    # CycleGAN's layout: at 32 px and 40 iterations the anti-aliased one barely moves the cycle loss (the
    # same holds for CycleGAN itself in that layout), which would test the layout, not CDD-GAN
    torch.manual_seed(0)
    m = CDDGAN({**TINY, **CYCLE_NETS})
    opts = make_opts(m)
    hazy, clear = batch(5)
    series = []
    for _ in range(40):
        logs = iterate(m, opts, hazy, clear)
        series.append(logs["cycle_A"] + logs["cycle_B"] + logs["idt_A"] + logs["idt_B"])
    first, last = sum(series[:5]) / 5, sum(series[-5:]) / 5
    assert last < 0.9 * first, (first, last)


def test_checkpoint_round_trip_is_bit_exact_with_queue_and_pools():
    checkpoint_round_trip(CDDGAN, {**TINY, "pool_size": 2})


def test_translate_and_dehaze_use_the_dehazing_generator():
    torch.manual_seed(0)
    m = CDDGAN(TINY)
    x = torch.rand(1, 3, 32, 40)
    assert torch.equal(m.translate(x * 2 - 1), m.G_AB(x * 2 - 1))
    y = m.dehaze(x)
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
