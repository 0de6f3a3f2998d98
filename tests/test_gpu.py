"""CUDA-only checks of the fast training step: a captured (CUDA-graph) iteration computes what the eager
one does, bf16 tracks float32, a group of seeds trains in one graph, and the training loop runs with graphs.
Skipped where there is no GPU (these machines); run on one with `pytest -m gpu tests/test_gpu.py`."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from cddgan.config import TRAINING_DEFAULTS
from cddgan.methods import load_plugins, method_class
from cddgan.training.step import StepGroup, TrainStep

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

NETS = {"ngf": 16, "n_blocks": 2, "ndf": 16}
CONTRAST = {"nce_layers": (0, 4, 8, 12), "num_patches": 64, "netF_nc": 64}
SETTINGS = {
    "cut": {**NETS, **CONTRAST},
    "fastcut": {**NETS, **CONTRAST},
    "cyclegan": {**NETS, "pool_size": 4},
    "negcut": {**NETS, **CONTRAST, "num_negatives": 32},
    "cddgan": {**NETS, **CONTRAST, "num_negatives": 32, "queue_size": 2, "pool_size": 4},
}
CUDA = torch.device("cuda")


@pytest.fixture(autouse=True)
def deterministic_cudnn():
    """Eager and replayed kernels then agree to rounding (cuDNN's default weight-gradient kernels are not
    deterministic, which would blur the comparison)."""
    before = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    yield
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before


def trained(name: str, iterations: int, **options) -> tuple[TrainStep, list[dict[str, float]]]:
    """`iterations` steps on a fixed sequence of batches, reseeding before each (so that two runs draw the
    same numbers)."""
    load_plugins()
    torch.manual_seed(0)
    method = method_class(name)(SETTINGS[name], CUDA).to(CUDA)
    cfg = {**TRAINING_DEFAULTS, "iterations": 100, "cudnn_benchmark": False, **options}  # keep the fixture's
    step = TrainStep(method, cfg, CUDA)
    gen = torch.Generator().manual_seed(1)
    batches = [
        [(torch.rand(1, 3, 64, 64, generator=gen) * 2 - 1).to(CUDA) for _ in range(2)] for _ in range(iterations)
    ]
    history: list[dict[str, float]] = []
    for i, (hazy, clear) in enumerate(batches):
        logs: dict[str, torch.Tensor] = {}
        torch.manual_seed(100 + i)
        step(hazy, clear, lambda key, value, logs=logs: logs.__setitem__(key, value.detach().float().clone()))
        history.append({k: float(v) for k, v in logs.items()})
    return step, history


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_replayed_iterations_compute_what_eager_ones_do(name):
    """With lr 0 the weights stay put, so every iteration's losses depend only on the weights and that
    iteration's random draws (patch positions, pool coins, noise) and on the pool and queue state: the
    replays must give the eager numbers (a draw baked in at capture would not). With a
    learning rate, Adam's first, sign-like updates turn the GPU's nondeterministic atomics (pad and
    index backward) into percent-level differences within three iterations, eager against eager."""
    iterations = 12
    eager, want = trained(name, iterations, lr=0.0)
    graph, got = trained(name, iterations, lr=0.0, cuda_graph=True)
    assert graph.graphs, "the step was not captured"
    assert got[-1].keys() == want[-1].keys()
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        for key in w:
            assert g[key] == pytest.approx(w[key], rel=1e-4, abs=1e-6), (i, key)
    lr = graph.optimizers["G"].param_groups[0]["lr"]
    assert torch.is_tensor(lr) and float(lr) == eager.optimizers["G"].param_groups[0]["lr"] == 0.0


@pytest.mark.parametrize("name", ["cut", "cyclegan", "cddgan"])
def test_captured_training_keeps_the_schedule_and_stays_near_eager(name):
    eager, want = trained(name, 12)
    graph, got = trained(name, 12, cuda_graph=True)
    assert graph.graphs
    for key in ("G", "D"):
        ref = sum(h[key] for h in want[-5:]) / 5
        assert sum(h[key] for h in got[-5:]) / 5 == pytest.approx(ref, rel=0.1), key
    assert float(graph.optimizers["G"].param_groups[0]["lr"]) == pytest.approx(
        eager.optimizers["G"].param_groups[0]["lr"]
    )


@pytest.mark.parametrize("name", ["cut", "cyclegan", "cddgan"])
def test_bf16_channels_last_fused_graph_step_tracks_plain_float32(name):
    _, plain = trained(name, 10)
    fast, mixed = trained(name, 10, amp=True, channels_last=True, fused_adam=True, cuda_graph=True)
    assert fast.graphs
    assert all(math.isfinite(v) for h in mixed for v in h.values())
    for key in ("G", "D"):
        ref = sum(h[key] for h in plain[-5:]) / 5
        assert sum(h[key] for h in mixed[-5:]) / 5 == pytest.approx(ref, rel=0.1), key


def test_step_group_trains_several_seeds_in_one_graph():
    load_plugins()
    steps = []
    for seed in range(3):
        torch.manual_seed(seed)
        method = method_class("cut")(SETTINGS["cut"], CUDA).to(CUDA)
        steps.append(TrainStep(method, {**TRAINING_DEFAULTS, "iterations": 100, "cuda_graph": True}, CUDA))
    before = [s.method.G.model[1].weight.detach().clone() for s in steps]
    group = StepGroup(steps)
    batches = [(torch.rand(1, 3, 64, 64, device=CUDA) * 2 - 1, torch.rand(1, 3, 64, 64, device=CUDA) * 2 - 1)] * 3
    logged: list[list[float]] = [[] for _ in steps]
    for _ in range(10):
        group(batches, [lambda k, v, out=out: out.append(float(v.detach())) if k == "G" else None for out in logged])
    assert group.graphs
    for b, s, out in zip(before, steps, logged, strict=True):
        w = s.method.G.model[1].weight
        assert torch.isfinite(w).all() and not torch.equal(b, w)
        assert len(out) == 10 and all(math.isfinite(v) for v in out)
        assert s.schedulers["G"].last_epoch == 10
    assert logged[0][-1] != logged[1][-1]  # different seeds, different runs


def loop_spec(method: str = "cyclegan", **training) -> dict:
    """A 16-iteration run of the training loop at 32 px on the GPU, a checkpoint every 8 iterations."""
    return {
        "experiment": "gpu",
        "run": method,
        "seed": 0,
        "method": method,
        "settings": SETTINGS[method],
        "training": {
            **TRAINING_DEFAULTS,
            "iterations": 16,
            "batch_size": 1,
            "crop": 32,
            "load_size": None,
            "flip": True,
            "checkpoint_every": 8,
            "log_every": 4,
            "device": "cuda",
            "cache_images": True,
            **training,
        },
        "plugins": [],
    }


def test_training_loop_runs_with_cuda_graphs(tmp_path, tiny_synthetic):
    from cddgan.training.loop import Trainer

    spec = loop_spec("cut", cuda_graph=True, amp=True)
    trainer = Trainer(spec, tiny_synthetic, tmp_path / "ckpt", log=print, progress=False)
    trainer.run(tmp_path / "model.pt", tmp_path / "losses.csv")
    assert trainer.step.graphs
    losses = pd.read_csv(tmp_path / "losses.csv")
    assert len(losses) == 4 and losses.drop(columns=["iteration"], errors="ignore").notna().all().all()


@pytest.mark.parametrize("first_device", ["cuda", "cpu"])
def test_a_killed_run_resumes_on_the_gpu(tmp_path, tiny_synthetic, monkeypatch, first_device):
    """A killed GPU job, resubmitted (SLURM retries it), resumes from its checkpoint: the checkpoint's RNG
    states must reach torch as CPU tensors. `device` is an execution key, so a run checkpointed on the CPU
    and resubmitted to a GPU resumes there too, into a CUDA-graph step."""
    from interrupt import kill_at_iteration

    from cddgan.training.loop import Trainer

    spec = loop_spec("cyclegan")
    kill_at_iteration(11, spec, tiny_synthetic, tmp_path, monkeypatch, execution={"device": first_device})
    logs: list[str] = []
    execution = {"device": "cuda", "cuda_graph": True, "fused_adam": True}
    trainer = Trainer(spec, tiny_synthetic, tmp_path / "ckpt", log=logs.append, progress=False, execution=execution)
    trainer.run(tmp_path / "model.pt", tmp_path / "losses.csv")
    assert any("resumed from checkpoint" in line and "iteration 8" in line for line in logs), logs
    assert trainer.step.graphs and trainer.device.type == "cuda"
    losses = pd.read_csv(tmp_path / "losses.csv")
    assert list(losses["iteration"]) == [4, 8, 12, 16]
    assert losses.drop(columns=["iteration"]).notna().all().all()


def test_a_checkpoint_moves_between_eager_and_graph_steps():
    """The learning rate is a float in eager Adam and a device tensor in capturable Adam; a resumed run
    may use the other mode."""
    eager, _ = trained("cut", 6)
    graph, _ = trained("cut", 6, cuda_graph=True)
    graph.load_state_dict(eager.state_dict())
    assert all(torch.is_tensor(g["lr"]) for opt in graph.optimizers.values() for g in opt.param_groups)
    eager.load_state_dict(graph.state_dict())
    assert all(isinstance(g["lr"], float) for opt in eager.optimizers.values() for g in opt.param_groups)
