"""The global random streams a training iteration draws from, saved and swapped per run.

Why: torch's, numpy's and python's global generators are process-wide. Seeds trained together in one
process (`GroupTrainer`) would otherwise draw from one shared stream, so a seed's patch positions, noise
and coin flips would depend on the group it trained in. Each run keeps its own `RngStreams` and makes
them the global ones around its own work; the validation scoring saves and restores them so that it
changes no draw of training.

The streams are python's `random`, numpy's legacy global generator, torch's CPU generator and, on a CUDA
device, that device's generator. (The data sampler has a generator of its own.)
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

State = dict[str, Any]


def capture(device: torch.device) -> State:
    """The current global random states that a run on `device` draws from."""
    state: State = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore(state: State, device: torch.device) -> None:
    """Make `state` (from `capture`) the global random states again."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


@contextmanager
def preserved(device: torch.device) -> Iterator[None]:
    """Whatever the block draws, the global random states afterwards are those from before it."""
    saved = capture(device)
    try:
        yield
    finally:
        restore(saved, device)


class RngStreams:
    """One run's own global random states, swapped in around the run's work (`active`)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.state = capture(device)  # the states as they are now: the run's from here on

    @contextmanager
    def active(self) -> Iterator[None]:
        """Within the block the run draws from its own streams; afterwards they are saved for next time and
        the states from before the block are back."""
        outer = capture(self.device)
        restore(self.state, self.device)
        try:
            yield
        finally:
            self.state = capture(self.device)
            restore(outer, self.device)
