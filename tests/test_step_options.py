"""The speed options of the training step keep the numerics: bf16 autocast tracks float32 within bf16's
tolerance (checked on the CPU, where these machines run the tests), and compilation falls back cleanly."""

from __future__ import annotations

import pytest
import torch

from cddgan.config import TRAINING_DEFAULTS
from cddgan.errors import ConfigError
from cddgan.methods import method_class
from cddgan.training.step import StepGroup, TrainStep, compile_networks

TINY = {"ngf": 4, "n_blocks": 1, "ndf": 4, "num_patches": 16, "nce_layers": [0, 4, 8, 12]}


def losses_after(method_name: str, settings: dict, amp: bool, iterations: int = 3) -> list[dict[str, float]]:
    torch.manual_seed(0)
    method = method_class(method_name)(settings)
    step = TrainStep(method, {**TRAINING_DEFAULTS, "iterations": 100, "amp": amp}, torch.device("cpu"))
    gen = torch.Generator().manual_seed(1)
    hazy, clear = (torch.rand(1, 3, 24, 24, generator=gen) * 2 - 1 for _ in range(2))
    history: list[dict[str, float]] = []

    def record(name: str, value) -> None:
        history[-1][name] = float(value.detach() if torch.is_tensor(value) else value)

    for i in range(iterations):
        history.append({})
        torch.manual_seed(i)  # the same patch ids in both precisions
        step(hazy, clear, record)
    return history


@pytest.mark.parametrize(("name", "settings"), [("cut", TINY), ("cyclegan", {"ngf": 4, "n_blocks": 1, "ndf": 4})])
def test_bf16_autocast_tracks_float32(name, settings):
    """Same weights, data and patch ids: the first step's losses agree to bf16 precision; later, single GAN
    terms may drift (Adam's first updates amplify tiny differences), but the total stays close and finite."""
    plain = losses_after(name, settings, amp=False)
    mixed = losses_after(name, settings, amp=True)
    assert plain[0].keys() == mixed[0].keys()
    for key in plain[0]:
        assert mixed[0][key] == pytest.approx(plain[0][key], rel=0.02, abs=0.01), key
    for p, m in zip(plain, mixed, strict=True):
        assert all(torch.isfinite(torch.tensor(v)) for v in m.values())
        assert m["G"] == pytest.approx(p["G"], rel=0.05)


def test_compile_failure_falls_back_to_eager(monkeypatch):
    method = method_class("cut")(TINY)

    def broken(self, *args, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch.nn.Module, "compile", broken)
    with pytest.warns(UserWarning, match="torch.compile unavailable"):
        assert compile_networks(method) is False
    step = TrainStep(method, {**TRAINING_DEFAULTS, "iterations": 10}, torch.device("cpu"))
    step(torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1)


@pytest.mark.parametrize(
    ("setting", "mode"), [(True, "default"), ("max-autotune-no-cudagraphs", "max-autotune-no-cudagraphs")]
)
def test_compile_setting_reaches_torch_compile_as_its_mode(monkeypatch, setting, mode):
    seen: list[str] = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, mode=None, **kw: seen.append(mode))
    TrainStep(
        method_class("cut")(TINY), {**TRAINING_DEFAULTS, "iterations": 10, "compile": setting}, torch.device("cpu")
    )
    assert seen == [mode] * 3  # G, D and the PatchNCE heads


def test_schema_refuses_a_compile_mode_that_makes_its_own_cuda_graphs():
    from cddgan.config import DEFAULT_CONFIG, load_yaml, validate_schema
    from cddgan.errors import ConfigError

    config = load_yaml(DEFAULT_CONFIG)
    validate_schema({**config, "training": {**config["training"], "compile": "max-autotune-no-cudagraphs"}})
    with pytest.raises(ConfigError, match=r"training\.compile`: 'reduce-overhead' is not one of") as refused:
        validate_schema({**config, "training": {**config["training"], "compile": "reduce-overhead"}})
    assert str(refused.value).count("\n  - ") == 1  # that key alone


@pytest.mark.parametrize("setting", [True, False])
def test_cudnn_benchmark_setting_is_applied_for_cuda_steps_only(monkeypatch, setting):
    """The flag is process-wide: a CUDA step sets it from its config (building the step touches no GPU, so
    this runs here); a CPU step leaves it alone."""
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", not setting)
    cfg = {**TRAINING_DEFAULTS, "iterations": 10, "cudnn_benchmark": setting}
    TrainStep(method_class("cut")(TINY), cfg, torch.device("cpu"))
    assert torch.backends.cudnn.benchmark is (not setting)
    TrainStep(method_class("cut")(TINY), cfg, torch.device("cuda"))
    assert torch.backends.cudnn.benchmark is setting


# ---------------------------------------------------------------- CUDA-graph code paths the CPU can check


def test_cuda_graph_flag_is_ignored_on_the_cpu_and_changes_nothing():
    def weights_after(cuda_graph: bool) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        method = method_class("cut")(TINY)
        cfg = {**TRAINING_DEFAULTS, "iterations": 10, "cuda_graph": cuda_graph}
        step = TrainStep(method, cfg, torch.device("cpu"))
        assert not step.use_graph
        for i in range(6):
            torch.manual_seed(i)
            step(torch.rand(1, 3, 24, 24) * 2 - 1, torch.rand(1, 3, 24, 24) * 2 - 1)
        assert not step.graphs
        return method.state_dict()

    plain, flagged = weights_after(False), weights_after(True)
    assert all(torch.equal(plain[k], flagged[k]) for k in plain)


def test_step_group_on_the_cpu_equals_the_runs_stepped_in_turn():
    """A group steps its runs one after another from the shared RNG: the same as doing that by hand."""

    def build(seed: int) -> TrainStep:
        torch.manual_seed(seed)
        return TrainStep(method_class("cut")(TINY), {**TRAINING_DEFAULTS, "iterations": 10}, torch.device("cpu"))

    def pair() -> tuple[torch.Tensor, torch.Tensor]:
        return torch.rand(1, 3, 24, 24) * 2 - 1, torch.rand(1, 3, 24, 24) * 2 - 1

    batches = [[pair(), pair()] for _ in range(3)]
    grouped, by_hand = [build(0), build(1)], [build(0), build(1)]
    group = StepGroup(grouped)
    torch.manual_seed(7)
    for pair in batches:
        group(pair)
    torch.manual_seed(7)
    for pair in batches:
        for step, (hazy, clear) in zip(by_hand, pair, strict=True):
            step(hazy, clear)
    for g, h in zip(grouped, by_hand, strict=True):
        a, b = g.method.state_dict(), h.method.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)
        assert g.schedulers["G"].last_epoch == h.schedulers["G"].last_epoch == 3
    assert not torch.equal(grouped[0].method.G.model[1].weight, grouped[1].method.G.model[1].weight)


def test_host_decisions_reach_step_as_keywords_once_per_iteration():
    """FastCUT's flip coin is drawn by the loop, before the step, and handed to it."""
    method = method_class("fastcut")(TINY)
    seen: list[bool] = []
    original = method.step

    def spy(hazy, clear, **decisions):
        seen.append(decisions["flipped"])
        return original(hazy, clear, **decisions)

    method.step = spy
    step = TrainStep(method, {**TRAINING_DEFAULTS, "iterations": 10}, torch.device("cpu"))
    torch.manual_seed(0)
    want = [float(torch.rand(())) < 0.5 for _ in range(20)]
    torch.manual_seed(0)
    for _ in range(20):
        step(torch.rand(1, 3, 24, 24) * 2 - 1, torch.rand(1, 3, 24, 24) * 2 - 1)
    assert len(seen) == 20 and set(seen) == {True, False}
    assert seen[0] == want[0]  # the coin is the iteration's first draw from torch's CPU generator
    assert method_class("cut")(TINY).host_decisions() == {}


def test_failed_capture_warns_and_leaves_the_run_eager(monkeypatch):
    """On the CPU no capture happens; force one to fail to see the fallback."""
    from cddgan.training import step as step_module

    method = method_class("cut")(TINY)
    step = TrainStep(method, {**TRAINING_DEFAULTS, "iterations": 10}, torch.device("cpu"))
    step.use_graph = True  # pretend: the capture below is the first thing that touches CUDA

    def broken(*args, **kwargs):
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(step_module.CapturedStep, "capture_group", broken)
    monkeypatch.setattr(step_module, "on_side_stream", lambda device, work: work())
    before = method.G.model[1].weight.detach().clone()
    with pytest.warns(UserWarning, match="capture of CUT's step failed"):
        for _ in range(step.GRAPH_WARMUP + 2):
            step(torch.rand(1, 3, 24, 24) * 2 - 1, torch.rand(1, 3, 24, 24) * 2 - 1)
    assert not step.use_graph and not step.graphs
    assert step.schedulers["G"].last_epoch == step.GRAPH_WARMUP + 2  # every iteration ran and was scheduled
    assert not torch.equal(before, method.G.model[1].weight)


def test_loading_a_state_keeps_the_learning_rate_a_float_on_the_cpu():
    method = method_class("cut")(TINY)
    step = TrainStep(method, {**TRAINING_DEFAULTS, "iterations": 10}, torch.device("cpu"))
    state = step.state_dict()
    state["optimizers"]["G"]["param_groups"][0]["lr"] = torch.tensor(1e-4)  # as a graph-mode run saves it
    step.load_state_dict(state)
    assert step.optimizers["G"].param_groups[0]["lr"] == pytest.approx(1e-4)
    assert isinstance(step.optimizers["G"].param_groups[0]["lr"], float)


def test_a_yielded_group_without_an_optimiser_names_both_sides():
    import toy_method

    class Misnamed(toy_method.ToyGAN):
        def optim_groups(self):
            return {"gen": list(self.G.parameters()), "D": list(self.D.parameters())}

    method = Misnamed({})
    step = TrainStep(method, {**TRAINING_DEFAULTS, "iterations": 2}, torch.device("cpu"))
    with pytest.raises(ConfigError, match=r"toy-gan: step\(\) yielded the group 'G', but optim_groups\(\) returns "
                       r"\['D', 'gen'\]"):
        step(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16))
