"""The speed options of the training step keep the numerics: bf16 autocast tracks float32 within bf16's
tolerance (checked on the CPU, where these machines run the tests), and compilation falls back cleanly."""

from __future__ import annotations

import pytest
import torch

from cddgan.config import TRAINING_DEFAULTS
from cddgan.methods import method_class
from cddgan.step import TrainStep, compile_networks

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
