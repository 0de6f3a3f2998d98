"""NEGCUT driven the way the training loop drives it: update order D, N, G; the negative generators' update
raises the contrastive loss they are trained against and the G/F update lowers it (same patch positions and
noise, reproduced from the seed); the EMA heads move by the decay; a tiny batch is overfitted; and a run
interrupted by a state_dict round trip equals a straight run bit for bit."""

from __future__ import annotations

import copy
from itertools import pairwise

import pytest
import torch

from baselines.cut import CUT
from baselines.negcut import NEGCUT
from cddgan.errors import ConfigError
from cddgan.methods import method_class
from cddgan.nn.negatives import nce_per_image

TINY = dict(ngf=8, n_blocks=2, ndf=8, nce_layers=(0, 4, 8, 12), num_patches=16, netF_nc=16, num_negatives=8)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def batch(seed: int, n: int = 1, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    hazy = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    return hazy, torch.rand(n, 3, size, size, generator=g) * 2 - 1


def make_opts(method, lr: float = 1e-3) -> dict[str, torch.optim.Optimizer]:
    return {k: torch.optim.Adam(v, lr=lr, betas=(0.5, 0.999)) for k, v in method.optim_groups().items()}


def iterate(method, opts, hazy, clear, update=None, seed: int | None = None) -> dict[str, float]:
    """One iteration as the loop runs it; `update` limits which groups step (the others only backward),
    `seed` reseeds first so that patch positions and noise repeat. Returns every yielded log."""
    if seed is not None:
        torch.manual_seed(seed)
    logs_all: dict[str, float] = {}
    for group, loss, logs in method.step(hazy, clear):
        opts[group].zero_grad(set_to_none=True)
        loss.backward()
        if update is None or group in update:
            opts[group].step()
        logs_all.update({k: float(v) for k, v in logs.items()})
    if update is None:
        method.after_step()
    return logs_all


def adversarial_checks(cls, settings: dict, seed: int = 11) -> None:
    """The N update raises the contrastive loss at fixed positions and noise; the G/F update lowers it."""
    hazy, clear = batch(7)
    torch.manual_seed(0)
    m = cls(settings)
    opts = make_opts(m, lr=2e-4)  # the training lr: steps stay small enough for each to move the loss its way
    # within one iteration: N's objective before its update (N yield) and after it (G yield), same inputs
    logs = iterate(m, opts, hazy, clear, update={"N"}, seed=seed)
    assert logs["contrast"] > logs["N_contrast"], logs
    # a few N updates, G/F/D frozen: the same positions and noise each time (same seed), rising loss
    seen = [iterate(m, opts, hazy, clear, update={"N"}, seed=seed)["N_contrast"] for _ in range(4)]
    assert all(b > a for a, b in pairwise(seen)), seen
    # G/F updates with N frozen lower it
    seen = [iterate(m, opts, hazy, clear, update={"G"}, seed=seed)["N_contrast"] for _ in range(4)]
    assert all(b < a for a, b in pairwise(seen)), seen


def checkpoint_round_trip(cls, settings: dict, k: int = 3, more: int = 3) -> None:
    """k iterations, state_dict (+ optimisers, RNG, extra state) into a new instance, `more` iterations:
    bit for bit the straight run of k + more iterations."""
    data = [batch(20 + i) for i in range(k + more)]

    def fresh():
        torch.manual_seed(0)
        m = cls(settings)
        return m, make_opts(m)

    straight, opts = fresh()
    torch.manual_seed(5)
    for h, c in data:
        iterate(straight, opts, h, c)

    first, opts = fresh()
    torch.manual_seed(5)
    for h, c in data[:k]:
        iterate(first, opts, h, c)
    saved = copy.deepcopy(
        {
            "method": first.state_dict(),
            "extra": first.extra_state() if hasattr(first, "extra_state") else None,
            "opts": {name: o.state_dict() for name, o in opts.items()},
            "rng": torch.get_rng_state(),
        }
    )
    del first, opts
    torch.manual_seed(123)  # the new instance is built from other random numbers; the load must undo that
    resumed = cls(settings)
    resumed.load_state_dict(saved["method"])
    if saved["extra"] is not None:
        resumed.load_extra_state(saved["extra"])
    opts = make_opts(resumed)
    for name, o in opts.items():
        o.load_state_dict(saved["opts"][name])
    torch.set_rng_state(saved["rng"])
    for h, c in data[k:]:
        iterate(resumed, opts, h, c)

    want, got = straight.state_dict(), resumed.state_dict()
    assert want.keys() == got.keys()
    for key, value in want.items():
        if torch.is_tensor(value):
            assert torch.equal(got[key], value), key
        else:
            assert got[key] == value, key


# ---------------------------------------------------------------- settings and structure


def test_registered_with_negcut_defaults_on_top_of_cuts():
    assert method_class("negcut") is NEGCUT
    d = NEGCUT.defaults
    assert (d["num_negatives"], d["noise_dim"], d["ema"], d["lambda_div"]) == (256, 64, 0.9, 1.0)
    for key in ("lambda_nce", "nce_idt", "nce_layers", "num_patches", "nce_t", "netF_nc", "ngf", "n_blocks"):
        assert d[key] == CUT.defaults[key]
    assert "flip_equivariance" not in d


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"use_mlp": False}, "use_mlp"),
        ({"num_negatives": 1}, "num_negatives >= 2"),
        ({"flip_equivariance": True}, "unknown setting"),
        ({"ema": 2.0}, "ema"),
    ],
)
def test_bad_settings_are_config_errors(settings, match):
    with pytest.raises(ConfigError, match=match):
        NEGCUT({**TINY, **settings})


def test_update_order_groups_and_gradient_isolation():
    torch.manual_seed(0)
    m = NEGCUT(TINY)
    groups = m.optim_groups()
    ids = [id(p) for params in groups.values() for p in params]
    assert sorted(ids) == sorted(id(p) for p in m.parameters())  # each parameter in exactly one group
    hazy, clear = batch(0)
    seen = []
    for group, loss, logs in m.step(hazy, clear):
        seen.append(group)
        for p in m.parameters():
            p.grad = None
        loss.backward()
        with_grad = {id(p) for p in m.parameters() if p.grad is not None and p.grad.abs().sum() > 0}
        assert with_grad <= {id(p) for p in groups[group]}, group  # no gradient leaks into other groups
        assert with_grad, group
        assert all(isinstance(v, float) or not v.requires_grad for v in logs.values())
        assert not {"D", "N", "G"} & logs.keys()  # the loop logs each group's loss itself
        if group == "G":
            assert not any(p.requires_grad for p in m.D.parameters())
    assert seen == ["D", "N", "G"]
    assert all(p.requires_grad for p in m.parameters())


def test_generated_negatives_replace_the_in_image_ones(monkeypatch):
    import cddgan.nn.negatives as negatives

    torch.manual_seed(0)
    m = NEGCUT({**TINY, "shared_draws": True})  # one draw for both pairs: one NCE call per layer and update
    seen = []
    original = negatives.patch_nce_loss

    def spy(q, k, batch_size=None, tau=0.07, negatives=None):
        seen.append(None if negatives is None else tuple(negatives.shape))
        return original(q, k, batch_size, tau, negatives=negatives)

    monkeypatch.setattr(negatives, "patch_nce_loss", spy)
    iterate(m, make_opts(m), *batch(1), update=set())
    # N update and G update, 4 layers each, always K = 8 generated negatives for each of the 2 images
    assert seen == [(2, 8, 16)] * 8


def test_the_reference_draws_new_positions_and_noise_per_pair_and_update(monkeypatch):
    """The default (`shared_draws: false`) draws as the NEGCUT code does: for each update (N, then G) and
    each pair (hazy -> fake, then clear -> idt), every layer's patch positions, then every layer's noise
    for that pair's image; `shared_draws: true` draws positions and noise once for both pairs and updates."""
    import cddgan.nn.negatives as negatives
    import cddgan.nn.patchnce as patchnce

    layers = len(TINY["nce_layers"])

    def draws(shared: bool) -> list[tuple[str, int]]:
        torch.manual_seed(0)
        m = NEGCUT({**TINY, "shared_draws": shared})
        seen: list[tuple[str, int]] = []
        positions, noise = patchnce.random_positions, negatives.NegativeGenerator.draw_noise

        def spy_positions(n, k, device):
            seen.append(("positions", n))
            return positions(n, k, device)

        def spy_noise(self, batch, device):
            seen.append(("noise", batch))
            return noise(self, batch, device)

        monkeypatch.setattr(patchnce, "random_positions", spy_positions)
        monkeypatch.setattr(negatives.NegativeGenerator, "draw_noise", spy_noise)
        iterate(m, make_opts(m), *batch(1), update=set())
        monkeypatch.undo()
        return seen

    default, shared = draws(False), draws(True)
    sizes = [n for kind, n in default[:layers] if kind == "positions"]  # H*W of each nce layer
    one_pair = [("positions", n) for n in sizes] + [("noise", 1)] * layers
    assert default == one_pair * 4  # (N: X, Y), (G: X, Y)
    assert shared == [("positions", n) for n in sizes] + [("noise", 2)] * layers


def test_the_default_g_update_faces_fresh_negatives_and_the_shared_one_the_same(monkeypatch):
    """NCE calls: per pair and layer, (1, K, nc) negatives, 16 calls in all; the G update's negatives are
    not the ones the N update scored (new noise), while with shared draws they are (N unchanged here)."""
    import cddgan.nn.negatives as negatives

    original = negatives.patch_nce_loss

    def negatives_seen(shared: bool) -> list[torch.Tensor]:
        torch.manual_seed(0)
        m = NEGCUT({**TINY, "shared_draws": shared})
        seen: list[torch.Tensor] = []

        def spy(q, k, batch_size=None, tau=0.07, negatives=None):
            seen.append(negatives.detach().clone())
            return original(q, k, batch_size, tau, negatives=negatives)

        monkeypatch.setattr(negatives, "patch_nce_loss", spy)
        iterate(m, make_opts(m), *batch(1), update=set())  # no step: N is the same in both updates
        monkeypatch.undo()
        return seen

    default = negatives_seen(False)
    assert [tuple(n.shape) for n in default] == [(1, 8, 16)] * 16
    assert not any(torch.equal(a, b) for a, b in zip(default[:8], default[8:], strict=True))
    shared = negatives_seen(True)
    assert all(torch.equal(a, b) for a, b in zip(shared[:4], shared[4:], strict=True))


# ---------------------------------------------------------------- the adversarial game


def test_n_update_raises_and_g_update_lowers_the_contrastive_loss():
    adversarial_checks(NEGCUT, TINY)  # its first check compares N's and G's loss on other draws: it holds here
    adversarial_checks(NEGCUT, {**TINY, "shared_draws": True})


def test_after_step_moves_the_ema_heads_by_the_decay():
    torch.manual_seed(0)
    m = NEGCUT(TINY)
    before = {k: v.clone() for k, v in m.N.ema.weights().items()}
    iterate(m, make_opts(m), *batch(2))
    for name, p in m.F.named_parameters():
        assert not torch.equal(p.detach(), before[name])  # F moved
        torch.testing.assert_close(m.N.ema.weights()[name], 0.9 * before[name] + 0.1 * p.detach())


def in_image_nce(m, hazy, clear) -> float:
    """CUT's PatchNCE (in-image negatives) of the current G and F at fixed positions: a probe of content
    matching that no NEGCUT update optimises directly."""
    torch.manual_seed(99)
    with torch.no_grad():
        out, feats = m.G(torch.cat((hazy, clear)), m.nce_layers)
        k, ids = m.F(feats, m.settings["num_patches"])
        q, _ = m.F(m.encode(out), m.settings["num_patches"], ids)
        return float(nce_per_image(q, k, 2, m.settings["nce_t"]).mean())


def test_overfits_a_tiny_batch():
    # The contrastive loss is a game: G/F first drive it near 0, then N catches up, so the G loss does not
    # fall monotonically. What must happen on a fixed batch: the G update's loss ends below its start, and
    # patches of output and input are matched far better than at init by a fixed (in-image) PatchNCE.
    torch.manual_seed(0)
    m = NEGCUT(TINY)
    opts = make_opts(m)
    hazy, clear = batch(5)
    probe_before = in_image_nce(m, hazy, clear)
    series = []
    for _ in range(40):
        logs = iterate(m, opts, hazy, clear)
        series.append(logs["G_GAN"] + logs["contrast"])  # the G update's loss
    assert sum(series[-10:]) / 10 < 0.7 * series[0], series
    probe_after = in_image_nce(m, hazy, clear)
    assert probe_after < 0.7 * probe_before, (probe_before, probe_after)


def test_checkpoint_round_trip_is_bit_exact():
    checkpoint_round_trip(NEGCUT, TINY)
