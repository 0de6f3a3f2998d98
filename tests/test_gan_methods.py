"""CUT, FastCUT and CycleGAN driven the way the training loop drives them: update order, frozen
discriminators, the feature-reuse path against the reference's four encoder passes (benchmarks/faithful.py),
CycleGAN's batched passes against the six separate ones written out here and in benchmarks/faithful.py, and
a tiny overfitting run per method."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from baselines.cut import CUT, FastCUT
from baselines.cyclegan import CycleGAN
from cddgan.errors import ConfigError
from cddgan.methods import method_class

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from faithful import FaithfulCUT, FaithfulCycleGAN, FaithfulFastCUT  # benchmarks/, put on the path above

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def assert_grads_equal(got: list, want: list, rel: float) -> None:
    """Same parameters without / with gradient, and the gradient vectors equal up to `rel` of their norm
    (biases in front of instance norm have a zero true gradient, so per-element relative checks only
    compare rounding noise there)."""
    assert [g is None for g in got] == [w is None for w in want]
    a = torch.cat([g.flatten() for g in got if g is not None])
    b = torch.cat([w.flatten() for w in want if w is not None])
    assert b.norm() > 0
    assert float((a - b).norm() / b.norm()) < rel


TINY_CUT = dict(ngf=8, n_blocks=2, ndf=8, nce_layers=(0, 4, 8, 12), num_patches=16, netF_nc=16)
TINY_CYCLE = dict(ngf=8, n_blocks=2, ndf=8)


def batch(seed: int, n: int = 1, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    hazy = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    clear = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    return hazy, clear


def one_step_grads(method, hazy, clear, seed):
    """Run one `step` with backward but no optimiser step; return per yield (group, loss, logs, grads)."""
    torch.manual_seed(seed)
    groups = method.optim_groups()
    out = []
    for group, loss, logs in method.step(hazy, clear, **method.host_decisions()):
        for p in groups[group]:
            p.grad = None
        loss.backward()
        grads = [None if p.grad is None else p.grad.clone() for p in groups[group]]
        out.append((group, loss.detach().clone(), {k: float(v) for k, v in logs.items()}, grads))
    return out


def train(method, hazy, clear, iters: int, lr: float = 1e-3) -> list[dict[str, float]]:
    """The loop's contract in miniature: one Adam per group, zero, backward, step, resume."""
    opts = {name: torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999)) for name, params in method.optim_groups().items()}
    history = []
    for _ in range(iters):
        logs_all: dict[str, float] = {}
        for group, loss, logs in method.step(hazy, clear, **method.host_decisions()):
            opts[group].zero_grad(set_to_none=True)
            loss.backward()
            opts[group].step()
            logs_all.update({k: float(v) for k, v in logs.items()})
        history.append(logs_all)
    return history


# ---------------------------------------------------------------- registry and settings


def test_methods_are_registered_with_reference_defaults():
    assert method_class("cut") is CUT and method_class("fastcut") is FastCUT
    assert method_class("cyclegan") is CycleGAN
    assert CUT.defaults["lambda_nce"] == 1.0 and CUT.defaults["nce_idt"] and not CUT.defaults["flip_equivariance"]
    assert FastCUT.defaults["lambda_nce"] == 10.0 and not FastCUT.defaults["nce_idt"]
    assert FastCUT.defaults["flip_equivariance"]
    assert CycleGAN.defaults["pool_size"] == 50 and CycleGAN.defaults["init_type"] == "normal"


@pytest.mark.parametrize(
    ("cls", "settings", "match"),
    [
        (CUT, {"lambda_nec": 1.0}, "unknown setting"),
        (CUT, {**TINY_CUT, "nce_layers": (0, 99)}, "out of range"),
        (CUT, {**TINY_CUT, "nce_layers": "a,b"}, "nce_layers"),
        (CUT, {**TINY_CUT, "lambda_gan": 0, "lambda_nce": 0}, "both 0"),
        (CUT, {**TINY_CUT, "gan_mode": "wgan"}, "gan_mode"),
        (CycleGAN, {**TINY_CYCLE, "init_type": "uniform"}, "init_type"),
    ],
)
def test_bad_settings_are_config_errors(cls, settings, match):
    with pytest.raises(ConfigError, match=match):
        cls(settings)


def test_nce_layers_accept_the_reference_string_form():
    m = CUT({**TINY_CUT, "nce_layers": "0,4,8"})
    assert m.nce_layers == (0, 4, 8)


# ---------------------------------------------------------------- update order and groups


@pytest.mark.parametrize(
    ("cls", "settings", "order", "frozen"),
    [
        (CUT, TINY_CUT, ["D", "G"], ("D",)),
        (FastCUT, TINY_CUT, ["D", "G"], ("D",)),
        (CycleGAN, TINY_CYCLE, ["G", "D"], ("D_A", "D_B")),
    ],
)
def test_update_order_groups_and_frozen_discriminators(cls, settings, order, frozen):
    torch.manual_seed(0)
    m = cls(settings)
    groups = m.optim_groups()
    all_ids = [id(p) for params in groups.values() for p in params]
    assert sorted(all_ids) == sorted(id(p) for p in m.parameters())  # each parameter in exactly one group
    hazy, clear = batch(0)
    seen = []
    for group, loss, logs in m.step(hazy, clear):
        seen.append(group)
        assert loss.dim() == 0 and loss.requires_grad
        assert all(isinstance(v, float) or (v.dim() == 0 and not v.requires_grad) for v in logs.values())
        if group == "G":
            assert not any(p.requires_grad for name in frozen for p in getattr(m, name).parameters())
        loss.backward()
    assert seen == order
    assert all(p.requires_grad for p in m.parameters())  # discriminators thawed again after the step


@pytest.mark.parametrize("cls", [CUT, CycleGAN])
def test_translate_keeps_shape_and_dehaze_maps_to_unit_range(cls):
    m = cls(TINY_CUT if cls is CUT else TINY_CYCLE)
    x = torch.rand(2, 3, 32, 40)
    assert m.translate(x * 2 - 1).shape == x.shape
    y = m.dehaze(x)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1


# ---------------------------------------------------------------- feature reuse vs the reference's passes


def _flip_seeds() -> dict[bool, int]:
    """A seed whose first torch.rand draw flips the FastCUT input, and one that does not."""
    found: dict[bool, int] = {}
    for seed in range(50):
        torch.manual_seed(seed)
        found.setdefault(float(torch.rand(())) < 0.5, seed)
    return found


@pytest.mark.parametrize(
    ("cls", "flip"),
    [(CUT, False), (FastCUT, False), (FastCUT, True)],
)
def test_reused_features_give_the_reference_losses_and_gradients(cls, flip):
    seed = _flip_seeds()[flip] if cls is FastCUT else 5
    torch.manual_seed(0)
    fast = cls(TINY_CUT)
    slow = {CUT: FaithfulCUT, FastCUT: FaithfulFastCUT}[cls](TINY_CUT)
    slow.load_state_dict(fast.state_dict())
    hazy, clear = batch(1, n=2)
    got = one_step_grads(fast, hazy, clear, seed)
    want = one_step_grads(slow, hazy, clear, seed)
    assert [g[0] for g in got] == [w[0] for w in want] == ["D", "G"]
    for (_, loss_g, logs_g, grads_g), (_, loss_w, logs_w, grads_w) in zip(got, want, strict=True):
        torch.testing.assert_close(loss_g, loss_w, rtol=1e-5, atol=1e-6)
        assert logs_g.keys() == logs_w.keys()
        for key in logs_g:
            assert logs_g[key] == pytest.approx(logs_w[key], rel=1e-5, abs=1e-6), key
        assert_grads_equal(grads_g, grads_w, rel=1e-6)
    if cls is CUT:
        assert "NCE_Y" in got[1][2]
    else:
        assert "NCE_Y" not in got[1][2]


def test_reuse_path_runs_one_query_pass_and_projects_keys_without_autograd():
    torch.manual_seed(0)
    counts = {}
    for reuse in (True, False):
        m = (CUT if reuse else FaithfulCUT)(TINY_CUT)
        g_calls: list[int] = []
        f_calls: list[bool] = []
        m.G.register_forward_hook(lambda mod, args, out, calls=g_calls: calls.append(args[0].shape[0]))
        m.F.register_forward_hook(lambda mod, args, out, calls=f_calls: calls.append(out[0][0].requires_grad))
        hazy, clear = batch(2)
        for _, loss, _ in m.step(hazy, clear):
            loss.backward()
        counts[reuse] = (g_calls, f_calls)
    g_fast, f_fast = counts[True]
    g_slow, f_slow = counts[False]
    assert g_fast == [2, 2]  # main pass over cat(hazy, clear), one query pass over cat(fake, idt)
    assert g_slow == [2, 1, 1, 1, 1]  # main pass, then query and key pass per pair
    assert f_fast == [False, True, False, True]  # keys (no autograd), queries, per pair
    assert f_slow == [True, True, True, True]  # the reference projects keys with autograd


def test_cut_nce_with_explicit_negatives_matches_hand_computation_and_trains_them():
    from test_patchnce import nce_neg_by_hand

    torch.manual_seed(0)
    m = CUT({**TINY_CUT, "lambda_nce": 2.0}).double()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    feats_k, feats_q = m.encode(x), m.encode(x.flip(3))
    negs = [torch.randn(2, 5, 16, dtype=torch.float64, requires_grad=True) for _ in m.nce_layers]
    torch.manual_seed(1)
    got = m.nce(feats_q, feats_k, 2, negatives=negs)
    torch.manual_seed(1)  # same patch positions
    k_proj, ids = m.F(feats_k, 16)
    q_proj, _ = m.F(feats_q, 16, ids)
    per_layer = [
        nce_neg_by_hand(q.detach().numpy(), k.detach().numpy(), n.detach().numpy(), 0.07).mean()
        for q, k, n in zip(q_proj, k_proj, negs, strict=True)
    ]
    assert float(got.detach()) == pytest.approx(2.0 * sum(per_layer) / len(per_layer), rel=1e-10)
    got.backward()
    assert all(n.grad is not None and n.grad.abs().sum() > 0 for n in negs)


# ---------------------------------------------------------------- CycleGAN vs the six separate passes


def test_cyclegan_batched_passes_equal_the_six_separate_passes():
    # float64: batching changes only float32 rounding (relative ~1e-6), which would hide a real mismatch
    torch.manual_seed(0)
    m = CycleGAN(TINY_CYCLE).double()
    ref = copy.deepcopy(m)
    a, b = (x.double() for x in batch(3))
    got = one_step_grads(m, a, b, seed=0)

    # the reference, written out: six generator passes, separate D passes, LSGAN targets 1 / 0
    def ls(pred, target):
        return ((pred - target) ** 2).mean()

    fake_b, fake_a = ref.G_AB(a), ref.G_BA(b)
    rec_a, rec_b = ref.G_BA(fake_b), ref.G_AB(fake_a)
    idt_a, idt_b = ref.G_AB(b), ref.G_BA(a)
    loss_g = (
        ls(ref.D_B(fake_b), 1)
        + ls(ref.D_A(fake_a), 1)
        + 10 * F.l1_loss(rec_a, a)
        + 10 * F.l1_loss(rec_b, b)
        + 5 * F.l1_loss(idt_a, b)
        + 5 * F.l1_loss(idt_b, a)
    )
    g_params = [*ref.G_AB.parameters(), *ref.G_BA.parameters()]
    g_grads = torch.autograd.grad(loss_g, g_params)
    loss_d = 0.5 * (ls(ref.D_B(b), 1) + ls(ref.D_B(fake_b.detach()), 0)) + 0.5 * (
        ls(ref.D_A(a), 1) + ls(ref.D_A(fake_a.detach()), 0)
    )  # the pools are still filling: they return the current fakes

    (group_g, lg, logs_g, grads_g), (group_d, ld, _, _) = got
    assert (group_g, group_d) == ("G", "D")
    torch.testing.assert_close(lg, loss_g.detach(), rtol=1e-12, atol=0)
    torch.testing.assert_close(ld, loss_d.detach(), rtol=1e-12, atol=0)
    assert logs_g["idt_A"] == pytest.approx(float(5 * F.l1_loss(idt_a, b).detach()), rel=1e-12)
    assert_grads_equal(grads_g, list(g_grads), rel=1e-10)


def test_cyclegan_unbatched_flag_gives_the_same_step():
    """The reference's separate passes (`FaithfulCycleGAN`, the benchmark's faithful path) compute the same
    losses and gradients."""
    torch.manual_seed(0)
    fast = CycleGAN(TINY_CYCLE).double()
    slow = FaithfulCycleGAN(TINY_CYCLE).double()
    slow.load_state_dict(fast.state_dict())
    a, b = (x.double() for x in batch(4))
    for (g1, l1, logs1, grads1), (g2, l2, logs2, grads2) in zip(
        one_step_grads(fast, a, b, seed=1), one_step_grads(slow, a, b, seed=1), strict=True
    ):
        assert g1 == g2 and logs1.keys() == logs2.keys()
        torch.testing.assert_close(l1, l2, rtol=1e-12, atol=0)
        assert_grads_equal(grads1, grads2, rel=1e-10)


def test_cyclegan_pools_travel_in_the_extra_state_not_in_the_weights():
    torch.manual_seed(0)
    m = CycleGAN({**TINY_CYCLE, "pool_size": 3})
    train(m, *batch(4), iters=2)
    state = m.extra_state()
    assert state["pool_B"]["images"].shape == (2, 3, 32, 32)
    assert not any("pool" in key for key in m.state_dict())
    other = CycleGAN({**TINY_CYCLE, "pool_size": 3})
    other.load_extra_state(copy.deepcopy(state))
    assert torch.equal(other.pool_A.state_dict()["images"], m.pool_A.state_dict()["images"])
    torch.manual_seed(9)
    want = m.pool_B.query(torch.zeros(4, 3, 32, 32))
    torch.manual_seed(9)
    torch.testing.assert_close(other.pool_B.query(torch.zeros(4, 3, 32, 32)), want)


# ---------------------------------------------------------------- tiny overfitting runs


def _falls(history: list[dict[str, float]], keys: tuple[str, ...]) -> tuple[float, float]:
    series = [sum(h[k] for k in keys) for h in history]
    return sum(series[:5]) / 5, sum(series[-5:]) / 5


@pytest.mark.parametrize(
    ("cls", "settings", "keys"),
    [
        (CUT, TINY_CUT, ("NCE", "NCE_Y")),
        (FastCUT, TINY_CUT, ("NCE",)),
        (CycleGAN, TINY_CYCLE, ("cycle_A", "cycle_B")),
    ],
)
def test_each_method_overfits_a_tiny_unpaired_batch(cls, settings, keys):
    torch.manual_seed(0)
    m = cls(settings)
    history = train(m, *batch(5), iters=40)
    first, last = _falls(history, keys)
    assert last < 0.9 * first, (first, last)


# ---------------------------------------------------------------- the reference's learning-rate schedule


def test_decay_start_is_each_methods_reference_schedule():
    """`training.decay_start: null` resolves to the class's `decay_start`: 0.5 by default, 0.75 for FastCUT
    (the CUT code's FastCUT: 150 epochs at the full rate, 50 of decay)."""
    from cddgan import config
    from cddgan.methods.base import GANMethod

    assert GANMethod.decay_start == CUT.decay_start == CycleGAN.decay_start == 0.5
    assert FastCUT.decay_start == 0.75
    runs = config.load(config.DEFAULT_CONFIG)["runs"]
    assert runs["fastcut"]["training"]["decay_start"] == 0.75
    assert runs["cut"]["training"]["decay_start"] == 0.5


def test_a_step_without_a_resolved_decay_start_takes_the_methods():
    from cddgan.config import TRAINING_DEFAULTS
    from cddgan.training.step import TrainStep

    assert TRAINING_DEFAULTS["decay_start"] is None
    cfg = {**TRAINING_DEFAULTS, "iterations": 100}
    for cls, constant in ((FastCUT, 75), (CUT, 50)):
        factor = TrainStep(cls(TINY_CUT), cfg, torch.device("cpu")).schedulers["G"].lr_lambdas[0]
        assert factor(constant) == 1.0 and factor(constant + 1) < 1.0, cls.name
