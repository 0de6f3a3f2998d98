"""Kill a training run part-way, as a job killed on a cluster would be (shared by the resume tests)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from cddgan.training.loop import Trainer


def kill_at_iteration(
    n: int,
    spec: Mapping[str, Any],
    manifest: Path,
    out: Path,
    monkeypatch,
    execution: Mapping[str, Any] | None = None,
) -> None:
    """Train `spec` into `out` and kill the run (KeyboardInterrupt) at its n-th iteration, past a checkpoint."""
    original = Trainer.train_step
    calls = {"n": 0}

    def crash(self, hazy, clear):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt("simulated kill")
        return original(self, hazy, clear)

    monkeypatch.setattr(Trainer, "train_step", crash)
    with pytest.raises(KeyboardInterrupt):
        trainer = Trainer(spec, manifest, out / "ckpt", progress=False, execution=execution)
        trainer.run(out / "model.pt", out / "losses.csv")
    monkeypatch.setattr(Trainer, "train_step", original)
    assert (out / "ckpt" / "last.pt").is_file()
