"""The model file (model.pt): the one place that knows its format, for the writer (the training loop) and
the readers (dehazing, the CLI).

A model file holds what rebuilds the trained method with no config at hand: the run spec (method,
settings, plugins), the execution keys it trained with, the iterations done, the iteration whose weights it
holds (`selected_iteration`: the last, or the best validation score's with `training.select: best_val`),
the machine that trained it (`cddgan.machine.machine_info`) and the weights. A run that diverged writes one
too, with `failed` set and no weights, so that later stages mark it FAILED instead of waiting for a file
that never comes. Files written before `selected_iteration` and `machine` existed load all the same.

Format 2 (cddgan-bench 0.2) adds `format` and `description`, so that a model file found on its own says
what it is (`cddgan info`) and `cddgan apply` needs nothing else: the run and seed, the training dataset,
its metric protocol and the config digest (the training job's `--describe`, which the workflow passes
untracked), the selection rule, each network's class, parameter count and tensor shapes, and the code
(version and commit) that wrote it. Files without `format` (format 1) still load; `notes` says what
they lack.
"""

from __future__ import annotations

import datetime as dt
import pickle
import pickletools
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from cddgan import __version__
from cddgan.codeversion import code_version
from cddgan.errors import ConfigError, HarnessError
from cddgan.io import atomic_path
from cddgan.methods.base import Method
from cddgan.methods.registry import build_method

FORMAT = 2
# Besides tensors and plain data, what a model file may hold: machine_info's torch version is torch's own str.
SAFE_GLOBALS = [torch.torch_version.TorchVersion]
# What `cddgan train --describe` may say about a run, with the JSON types each key takes.
DESCRIBE_KEYS: dict[str, tuple[type, ...]] = {"config_digest": (str,), "dataset": (str,), "protocol": (str, dict)}


class RunFailed(HarnessError):
    """The model file belongs to a run that diverged; there are no weights to dehaze with."""


class ModelFileError(HarnessError):
    """A file that is not a model file cddgan can read; the message says what it is instead."""


def check_describe(value: Mapping[str, Any]) -> dict[str, Any]:
    """The `--describe` object, checked: only `DESCRIBE_KEYS`, each of its type (every key optional)."""
    unknown = sorted(set(value) - set(DESCRIBE_KEYS))
    if unknown:
        raise ConfigError(f"--describe: unknown key(s) {unknown}; it takes {', '.join(DESCRIBE_KEYS)}")
    for key, kinds in DESCRIBE_KEYS.items():
        if key in value and value[key] is not None and not isinstance(value[key], kinds):
            names = " or ".join("a string" if k is str else "an object" for k in kinds)
            raise ConfigError(f"--describe: {key} must be {names}, got {value[key]!r}")
    return dict(value)


def network_shapes(method: object) -> dict[str, dict[str, Any]]:
    """Per network of a method (its child modules that hold tensors): class, parameter count and the shape
    of every state-dict tensor. Nothing for a method that is not a torch module."""
    if not isinstance(method, torch.nn.Module):
        return {}
    shapes = {}
    for name, child in method.named_children():
        tensors = {key: list(value.shape) for key, value in child.state_dict().items()}
        if tensors:
            parameters = sum(p.numel() for p in child.parameters())
            shapes[name] = {"class": type(child).__name__, "parameters": parameters, "tensors": tensors}
    return shapes


def describe(
    spec: Mapping[str, Any], method: object, about: Mapping[str, Any] | None = None, select: str = "last"
) -> dict[str, Any]:
    """The `description` of a model file: the run, what the workflow said about it (`about`: the checked
    `--describe`), the selection rule, the networks and the code that wrote it."""
    about = dict(about or {})
    code = code_version()
    return {
        "experiment": spec.get("experiment"),
        "run": spec.get("run"),
        "seed": spec.get("seed"),
        "dataset": about.get("dataset"),
        "protocol": about.get("protocol"),
        "config_digest": about.get("config_digest"),
        "select": select,
        "networks": network_shapes(method),
        "code": {"version": __version__, "commit": code["commit"], "dirty": code["dirty"]},
        "written": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def model_payload(
    spec: Mapping[str, Any],
    execution: Mapping[str, Any],
    iterations: int,
    state_dict: Mapping[str, torch.Tensor] | None,
    failed: str | None = None,
    selected_iteration: int | None = None,
    machine: Mapping[str, Any] | None = None,
    description: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The contents of model.pt (`selected_iteration` defaults to `iterations` for a run that did not fail;
    `description`: `describe`'s)."""
    if selected_iteration is None and not failed:
        selected_iteration = iterations
    return {
        "format": FORMAT,
        "description": dict(description) if description is not None else None,
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
    description: Mapping[str, Any] | None = None,
) -> None:
    """Write model.pt atomically (a killed job never leaves half a file that Snakemake counts as done)."""
    payload = model_payload(spec, execution, iterations, state_dict, failed, selected_iteration, machine, description)
    with atomic_path(Path(path)) as tmp:
        save_payload(tmp, payload)


def load_trained(model_path: str | Path, device: torch.device, plugins: tuple[str, ...] = ()) -> Method:
    """Rebuild a trained method from model.pt for inference (RunFailed for a diverged run)."""
    payload = torch.load(model_path, map_location=device, weights_only=False)
    return method_from_payload(payload, model_path, device, plugins)


def method_from_payload(
    payload: Mapping[str, Any], model_path: str | Path, device: torch.device, plugins: tuple[str, ...] = ()
) -> Method:
    """The trained method a model file's contents rebuild, in eval mode (RunFailed for a diverged run)."""
    if payload.get("failed"):
        raise RunFailed(f"{model_path}: {payload['failed']}")
    spec = dict(payload["spec"])
    spec["plugins"] = list(spec.get("plugins", [])) + list(plugins)
    method = build_method(spec, device)
    method.load_state_dict(payload["state_dict"])
    method.eval()
    return method


CHECKPOINT_KEYS = {"fingerprint", "rng", "sampler"}
CHECKPOINT_MESSAGE = (
    "{path}: a training checkpoint (the state a killed training resumes from), not a model file: a finished "
    "training writes model.pt in its run folder (results/runs/<experiment>/<run>/seed<k>/model.pt)"
)


def _pickled_strings(path: Path) -> set[str]:
    """The strings in a torch file's pickle, read with pickletools (which never runs what it reads)."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
            ops = pickletools.genops(archive.read(name))
            return {arg for _, arg, _ in ops if isinstance(arg, str)}
    except Exception:  # not a zip, no pickle, a damaged stream: nothing to recognise
        return set()


def read_model(path: str | Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """A model file's contents for `cddgan apply` and `cddgan info`, loaded without running code from the
    file (`torch.load(weights_only=True)`: a model file handed around is data, not a program). A file that
    is missing, not a torch file, a training checkpoint or no model file is a `ModelFileError` saying so."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            payload = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if _pickled_strings(path) >= CHECKPOINT_KEYS:
            raise ModelFileError(CHECKPOINT_MESSAGE.format(path=path)) from exc
        if not found:
            raise ModelFileError(f"{path}: not a model file (torch cannot read it as one)") from exc
        raise ModelFileError(
            f"{path}: holds a Python object of type {found.group(1)}, and cddgan does not run code from a model "
            "file it is handed (torch.load with weights_only); cddgan-bench writes tensors and plain data only"
        ) from exc
    except Exception as exc:  # torch raises several types for a file that is no torch archive
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ModelFileError(f"{path}: not a model file (torch cannot read it: {reason})") from exc
    if not isinstance(payload, dict) or "spec" not in payload or "method" not in payload:
        if isinstance(payload, dict) and set(payload) >= CHECKPOINT_KEYS:
            raise ModelFileError(CHECKPOINT_MESSAGE.format(path=path))
        raise ModelFileError(f"{path}: not a cddgan-bench model file (no method or run spec in it)")
    return payload


def model_format(payload: Mapping[str, Any]) -> int:
    """1 for files written before `format` existed (cddgan-bench before 0.2)."""
    return int(payload.get("format") or 1)


def notes(payload: Mapping[str, Any]) -> list[str]:
    """What a reader should know about a model file: a failed run has no weights, an old one no description."""
    out = []
    if payload.get("failed"):
        out.append(
            f"this run FAILED ({payload['failed']}): the file holds no weights, so `cddgan apply` cannot use it. "
            "Retrain: fix the cause (for a divergence, e.g. a lower training.lr) and rerun the workflow, which "
            "retrains the run once its settings change; or use another seed's model.pt"
        )
    if model_format(payload) < 2:
        usable = "`cddgan apply` can still use it" if not payload.get("failed") else "it has no weights either"
        out.append(
            "written by cddgan-bench before 0.2: it has no description (training dataset, metric protocol, "
            f"config digest, networks, code version); {usable}. Retrain with cddgan-bench 0.2 or later for a "
            "described model file"
        )
    elif not payload.get("description"):
        out.append("written without a description (its writer passed none); `cddgan apply` can still use it")
    return out


def summary(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Everything a model file says but its weights, as JSON-able data (`cddgan info --json`)."""
    weights = payload.get("state_dict")
    return {
        "format": model_format(payload),
        "status": "FAILED" if payload.get("failed") else "ok",
        "failed": payload.get("failed"),
        "method": payload["method"],
        "settings": payload.get("settings"),
        "iterations": payload.get("iterations"),
        "selected_iteration": payload.get("selected_iteration"),
        "description": payload.get("description"),
        "spec": payload.get("spec"),
        "execution": payload.get("execution"),
        "machine": payload.get("machine"),
        "weights": {"tensors": len(weights), "values": sum(int(v.numel()) for v in weights.values())}
        if weights
        else None,
        "notes": notes(payload),
    }


def _settings_text(settings: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{key}={value}" for key, value in (settings or {}).items()) or "(defaults)"


def render(info: Mapping[str, Any], path: str | Path) -> str:
    """`summary` as the lines `cddgan info` prints: what the model is, how it was trained, by which code."""
    about = info.get("description") or {}
    lines = [f"{path}: cddgan-bench model file, format {info['format']}"]

    def row(label: str, value: object) -> None:
        if value not in (None, "", [], {}):
            lines.append(f"  {label:<14} {value}")

    row("status", "ok" if info["status"] == "ok" else f"FAILED: {info['failed']}")
    row("method", info["method"])
    row("settings", _settings_text(info.get("settings")))
    spec = info.get("spec") or {}
    run = about.get("run") or spec.get("run")
    seed = about.get("seed", spec.get("seed"))
    row("run", f"{about.get('experiment') or spec.get('experiment')}/{run}, seed {seed}" if run else None)
    row("trained on", about.get("dataset"))
    protocol = about.get("protocol")
    row("protocol", protocol if isinstance(protocol, str) or protocol is None else _settings_text(protocol))
    row("config digest", about.get("config_digest"))
    if info.get("iterations") is not None:
        selected = info.get("selected_iteration")
        chosen = f"; weights of iteration {selected}" if selected is not None else ""
        rule = f" (select: {about['select']})" if about.get("select") else ""
        row("iterations", f"{info['iterations']}{chosen}{rule}")
    for name, net in (about.get("networks") or {}).items():
        row(f"network {name}", f"{net['class']}, {net['parameters']:,} parameters, {len(net['tensors'])} tensors")
    if info.get("weights"):
        row("weights", f"{info['weights']['tensors']} tensors, {info['weights']['values']:,} values")
    code = about.get("code") or {}
    if code:
        dirty = code.get("dirty")
        shown = dirty if len(str(dirty)) <= 100 else str(dirty)[:97] + "..."
        changes = f" (uncommitted changes: {shown})" if dirty and dirty != "no" and "not a git" not in dirty else ""
        row("code", f"cddgan-bench {code.get('version')}, commit {code.get('commit')}{changes}")
    row("written", about.get("written"))
    machine = info.get("machine") or {}
    if machine:
        gpus = ", ".join(machine.get("gpus") or [])
        row("machine", f"{machine.get('device')} ({gpus or machine.get('cpu')}), torch {machine.get('torch')}")
    lines += [f"note: {note}" for note in info.get("notes", [])]
    return "\n".join(lines)
