"""What a run computes (the spec Snakemake tracks) and how its jobs execute (the execution keys)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cddgan.config.defaults import EXECUTION_DEFAULTS, EXECUTION_KEYS


def run_spec(config: Mapping, experiment: str, run: str, seed: int) -> dict:
    """What one (run, seed) computes, as a JSON-able dict: Snakemake tracks it, so a change retrains.

    The run's execution keys (`EXECUTION_KEYS`) are left out; `run_execution` gives them.
    """
    spec = config["runs"][run]
    return {
        "experiment": experiment,
        "run": run,
        "seed": int(seed),
        "method": spec["method"],
        "settings": spec["settings"],
        "training": computed_training(spec.get("training", {})),
        "plugins": list(config.get("plugins", [])),
    }


def computed_training(training: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of `training` that say what a run computes: all but the `EXECUTION_KEYS`."""
    return {key: value for key, value in training.items() if key not in EXECUTION_KEYS}


def run_execution(config: Mapping, run: str) -> dict:
    """How a run's jobs execute (device, threads, CUDA options, logging): its `EXECUTION_KEYS`.

    Training-free runs have no `training` of their own; they take the config-wide one (its device), with
    the execution keys of their own `training:` on top.
    """
    spec = config["runs"][run]
    training = spec.get("training") or {**(config.get("training") or {}), **spec.get("execution", {})}
    return {**EXECUTION_DEFAULTS, **{key: value for key, value in training.items() if key in EXECUTION_KEYS}}


def job_training(spec: Mapping[str, Any], execution: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The training settings a job runs with: the spec's, then the execution keys on top.

    A spec may still carry execution keys itself (hand-written specs, older tools); `execution` wins.
    """
    return {**EXECUTION_DEFAULTS, **(spec.get("training") or {}), **(execution or {})}
