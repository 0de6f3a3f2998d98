"""The shared training loop: schedule, reproducibility, resume, divergence."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
import torch
import toy_method  # noqa: F401  (registers toy-gan)
from interrupt import kill_at_iteration

from cddgan.errors import DivergenceError
from cddgan.modelfile import load_trained
from cddgan.training.loop import Trainer
from cddgan.training.step import linear_decay


def spec(seed=0, iterations=12, **settings):
    return {
        "experiment": "t",
        "run": "toy",
        "seed": seed,
        "method": "toy-gan",
        "settings": {"width": 8, "lambda_l1": 1.0, "nan_after": 0, **settings},
        "training": {
            "iterations": iterations,
            "batch_size": 2,
            "crop": 16,
            "load_size": None,
            "flip": True,
            "lr": 2e-3,
            "beta1": 0.5,
            "beta2": 0.999,
            "decay_start": 0.5,
            "checkpoint_every": 4,
            "log_every": 2,
            "device": "cpu",
            "threads": 1,
            "cache_images": True,
        },
        "plugins": ["toy_method"],
    }


def train(tmp_path, name, run_spec, manifest, logs=None, execution=None):
    out = tmp_path / name
    log = logs.append if logs is not None else print
    trainer = Trainer(run_spec, manifest, out / "ckpt", log=log, progress=False, execution=execution)
    trainer.run(out / "model.pt", out / "losses.csv")
    return torch.load(out / "model.pt", weights_only=False), pd.read_csv(out / "losses.csv")


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_linear_decay_holds_then_reaches_zero():
    factor = linear_decay(100, 0.5)
    assert factor(0) == 1.0 and factor(50) == 1.0
    assert factor(75) == pytest.approx(0.5)
    assert factor(100) == pytest.approx(0.0)


def test_lr_follows_the_schedule(tmp_path, tiny_synthetic):
    _, losses = train(tmp_path, "a", spec(iterations=12), tiny_synthetic)
    lr = dict(zip(losses["iteration"], losses["lr"], strict=True))
    assert lr[6] == pytest.approx(2e-3)  # constant during the first half
    assert lr[12] == pytest.approx(0.0, abs=1e-12)  # decayed to zero at the end
    assert lr[10] < lr[8] < lr[6]


def test_same_seed_gives_bit_identical_weights(tmp_path, tiny_synthetic):
    a, losses_a = train(tmp_path, "a", spec(seed=1), tiny_synthetic)
    b, losses_b = train(tmp_path, "b", spec(seed=1), tiny_synthetic)
    c, _ = train(tmp_path, "c", spec(seed=2), tiny_synthetic)
    assert_same_weights(a["state_dict"], b["state_dict"])
    pd.testing.assert_frame_equal(losses_a.drop(columns="time_s"), losses_b.drop(columns="time_s"))
    assert any(not torch.equal(a["state_dict"][k], c["state_dict"][k]) for k in a["state_dict"])


def test_interrupted_run_resumes_bit_identical(tmp_path, tiny_synthetic, monkeypatch):
    reference, ref_losses = train(tmp_path, "full", spec(), tiny_synthetic)

    out = tmp_path / "killed"
    kill_at_iteration(7, spec(), tiny_synthetic, out, monkeypatch)
    assert (out / "ckpt" / "last.pt").exists() and not (out / "model.pt").exists()

    logs: list[str] = []
    resumed, losses = train(tmp_path, "killed", spec(), tiny_synthetic, logs)
    assert any("resumed from checkpoint" in line and "iteration 4" in line for line in logs)
    assert_same_weights(reference["state_dict"], resumed["state_dict"])
    pd.testing.assert_frame_equal(ref_losses.drop(columns="time_s"), losses.drop(columns="time_s"))
    assert not (out / "ckpt" / "last.pt").exists()  # removed once the run finished


def test_checkpoint_of_other_settings_is_not_resumed(tmp_path, tiny_synthetic, monkeypatch):
    kill_at_iteration(6, spec(), tiny_synthetic, tmp_path / "run", monkeypatch)
    logs: list[str] = []
    train(tmp_path, "run", spec(lambda_l1=2.0), tiny_synthetic, logs)
    assert any("other settings" in line for line in logs)
    assert not any("resumed" in line for line in logs)


def test_checkpoint_resumes_when_only_execution_keys_change(tmp_path, tiny_synthetic, monkeypatch):
    """Execution keys (logging, checkpoint cadence, image cache) are not part of what a run computes: a job
    resubmitted with other ones resumes, and its weights are those of an uninterrupted run."""
    reference, _ = train(tmp_path, "full", spec(), tiny_synthetic)
    kill_at_iteration(7, spec(), tiny_synthetic, tmp_path / "run", monkeypatch)
    logs: list[str] = []
    execution = {"log_every": 3, "checkpoint_every": 5, "cache_images": False}
    resumed, losses = train(tmp_path, "run", spec(), tiny_synthetic, logs, execution=execution)
    assert any("resumed from checkpoint" in line and "iteration 4" in line for line in logs)
    assert_same_weights(reference["state_dict"], resumed["state_dict"])
    # Rows every 2 iterations before the kill; after it every 3, plus one per checkpoint (every 5).
    assert list(losses["iteration"]) == [2, 4, 5, 6, 9, 10, 12]
    assert resumed["execution"]["log_every"] == 3 and resumed["execution"]["cache_images"] is False


def test_nan_stops_with_message_and_keeps_last_good_checkpoint(tmp_path, tiny_synthetic):
    out = tmp_path / "nan"
    trainer = Trainer(spec(nan_after=5), tiny_synthetic, out / "ckpt", progress=False)
    with pytest.raises(DivergenceError, match=r"NaN or inf.*iterations 5 and 6.*last good checkpoint"):
        trainer.run(out / "model.pt", out / "losses.csv")
    assert not (out / "model.pt").exists()
    state = torch.load(out / "ckpt" / "last.pt", weights_only=False)
    assert state["iteration"] == 4
    assert all(torch.isfinite(v).all() for v in state["method"].values() if v.is_floating_point())


def test_loss_log_and_trained_model_round_trip(tmp_path, tiny_synthetic):
    _, losses = train(tmp_path, "a", spec(), tiny_synthetic)
    assert list(losses["iteration"]) == [2, 4, 6, 8, 10, 12]
    assert {"D", "G", "G_gan", "l1", "lr", "time_s"} <= set(losses.columns)
    method = load_trained(tmp_path / "a" / "model.pt", torch.device("cpu"))
    x = torch.rand(1, 3, 20, 20)
    y = method.dehaze(x)
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1


def test_cuda_rng_states_are_restored_for_the_gpus_the_resumed_job_sees(monkeypatch):
    """A job saved on a node with 3 GPUs and resubmitted to one that shows it 1 restores that one's state
    (torch refuses a list longer than the device count); a CPU checkpoint restores none."""
    from cddgan.training import loop as train_module

    restored: list[list[torch.Tensor]] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda states: restored.append(list(states)))
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    gpus = [torch.full((8,), i, dtype=torch.uint8) for i in range(3)]
    train_module._set_rng_state({**state, "cuda": gpus})
    assert len(restored) == 1 and len(restored[0]) == 1 and torch.equal(restored[0][0], gpus[0])
    train_module._set_rng_state(state)
    assert len(restored) == 1


@pytest.mark.parametrize("preprocess", ["resize_and_crop", None])
def test_the_sampler_preprocesses_as_training_preprocess_says(tiny_synthetic, preprocess):
    """`training.preprocess` reaches the sampler; a spec without it (or null) keeps the default scaling."""
    run = spec()
    run["training"].update(load_size=20, preprocess=preprocess)
    trainer = Trainer(run, tiny_synthetic, "unused-ckpt", log=lambda m: None, progress=False)
    want = preprocess or "scale_shortside_and_crop"
    assert trainer.sampler.hazy.preprocess == trainer.sampler.clear.preprocess == want
