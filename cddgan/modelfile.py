"""The model file (model.pt): the one place that knows its format, for the writer (the training loop) and
the readers (dehazing, the CLI).

A model file holds what rebuilds the trained method with no config at hand: the run spec (method,
settings, plugins), the execution keys it trained with, the iterations done, the iteration whose weights it
holds (`selected_iteration`: the last, or the best validation score's with `training.select: best_val`),
the machine that trained it (`cddgan.machine.machine_info`) and the weights. A run that diverged writes one
too, with `failed` set and no weights, so that later stages mark it FAILED instead of waiting for a file
that never comes. Files written before `selected_iteration` and `machine` existed load all the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from cddgan.errors import HarnessError
from cddgan.io import atomic_path
from cddgan.methods.base import Method
from cddgan.methods.registry import build_method


class RunFailed(HarnessError):
    """The model file belongs to a run that diverged; there are no weights to dehaze with."""


def model_payload(
    spec: Mapping[str, Any],
    execution: Mapping[str, Any],
    iterations: int,
    state_dict: Mapping[str, torch.Tensor] | None,
    failed: str | None = None,
    selected_iteration: int | None = None,
    machine: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The contents of model.pt (`selected_iteration` defaults to `iterations` for a run that did not fail)."""
    if selected_iteration is None and not failed:
        selected_iteration = iterations
    return {
        "method": spec["method"],
        "settings": spec["settings"],
        "spec": dict(spec),
        "execution": dict(execution),
        "iterations": iterations,
        "selected_iteration": selected_iteration,
        "machine": dict(machine) if machine is not None else None,
        "failed": failed,
        "state_dict": state_dict,
    }


def save_payload(path: str | Path, payload: Mapping[str, Any]) -> None:
    """Write a payload to `path` as it stands (the caller makes it atomic, e.g. with its other outputs)."""
    torch.save(dict(payload), path)


def write_model(
    path: str | Path,
    spec: Mapping[str, Any],
    execution: Mapping[str, Any],
    iterations: int,
    state_dict: Mapping[str, torch.Tensor] | None,
    failed: str | None = None,
    selected_iteration: int | None = None,
    machine: Mapping[str, Any] | None = None,
) -> None:
    """Write model.pt atomically (a killed job never leaves half a file that Snakemake counts as done)."""
    payload = model_payload(spec, execution, iterations, state_dict, failed, selected_iteration, machine)
    with atomic_path(Path(path)) as tmp:
        save_payload(tmp, payload)


def load_trained(model_path: str | Path, device: torch.device, plugins: tuple[str, ...] = ()) -> Method:
    """Rebuild a trained method from model.pt for inference (RunFailed for a diverged run)."""
    payload = torch.load(model_path, map_location=device, weights_only=False)
    if payload.get("failed"):
        raise RunFailed(f"{model_path}: {payload['failed']}")
    spec = dict(payload["spec"])
    spec["plugins"] = list(spec.get("plugins", [])) + list(plugins)
    method = build_method(spec, device)
    method.load_state_dict(payload["state_dict"])
    method.eval()
    return method
