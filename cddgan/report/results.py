"""Readers of the files one config's jobs wrote, each naming the file it fails on.

Every reader takes its list of files from `cddgan.plan` (the same lists the Snakefile declares as the
jobs' outputs and the aggregate job's inputs), so a file left behind by a run or seed that is no longer
in the config is never read: nothing here lists a folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from cddgan import plan
from cddgan.errors import HarnessError
from cddgan.layout import Layout

FAILURE_COLUMNS = ["experiment", "run", "seed", "message"]
EFFICIENCY_KEYS = (
    "params", "macs", "image_size", "train_ms_per_iter", "infer_ms_per_image", "peak_mem_mb", "device"
)
LOSS_KEYS = ["experiment", "run", "seed"]


def read_failures(config: Mapping[str, Any], layout: Layout) -> pd.DataFrame:
    """One row per failed (experiment, run, seed): a run whose output folder holds the FAILED marker
    (written by dehaze for a diverged run, by collect for a failing external program) instead of images."""
    records: dict[tuple[str, str, int], str] = {}
    for job in plan.test_jobs(config):
        marker = Path(layout.failed_marker(*job))
        key = (job.experiment, job.run, job.seed)
        if key not in records and marker.is_file():
            records[key] = marker.read_text(errors="replace").strip() or "failed (no message recorded)"
    rows = [{"experiment": e, "run": r, "seed": s, "message": m} for (e, r, s), m in records.items()]
    return pd.DataFrame(rows, columns=FAILURE_COLUMNS)


def failed_external_runs(config: Mapping[str, Any], layout: Layout) -> list[str]:
    """One line per external run (a command or a user's rule) whose outputs are the FAILED record, for the
    workflow's last word: such a failure is a result, but a script running the sweep must notice it."""
    failures = read_failures(config, layout)
    external = set(plan.external_runs(config))
    failed = failures[failures["run"].isin(external)]
    return [
        f"FAILED {row.experiment}/{row.run}/seed{row.seed}: {str(row.message).splitlines()[0]}"
        for row in failed.itertuples()
    ]


def read_json_object(path: str | Path, what: str, when_missing: str, when_invalid: str, keys: str) -> dict:
    """A JSON object a job wrote (an efficiency record, a run record), or an error naming the file and
    what to do: it is missing, not JSON, or not an object."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{path}: {what} not found; {when_missing}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path}: not valid JSON ({exc}); {when_invalid}") from exc
    if not isinstance(data, dict):
        raise HarnessError(f"{path}: expected a JSON object with keys {keys}")
    return data


def read_efficiency(config: Mapping[str, Any], layout: Layout) -> pd.DataFrame:
    """One row per efficiency record of the config's method runs; missing keys are NaN (older files)."""
    records = []
    for experiment, run in plan.efficiency_jobs(config):
        data = read_json_object(
            layout.efficiency(experiment, run), "efficiency record", "run the `efficiency` rule first",
            "rerun the efficiency measurement", ", ".join(EFFICIENCY_KEYS),
        )
        record = {"experiment": experiment, "run": run}
        for key in EFFICIENCY_KEYS:
            record[key] = data.get(key)
        records.append(record)
    return pd.DataFrame(records, columns=["experiment", "run", *EFFICIENCY_KEYS])


def read_losses(config: Mapping[str, Any], layout: Layout) -> pd.DataFrame:
    """Every trained seed's losses.csv stacked, with `experiment`, `run` and `seed` columns first."""
    frames = []
    for job in plan.train_jobs(config):
        path = Path(layout.losses(*job))
        if not path.is_file():
            raise HarnessError(f"{path}: loss log not found; run the `train` rule first")
        try:
            frame = pd.read_csv(path)
        except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
            raise HarnessError(f"{path}: cannot parse the loss log ({exc})") from exc
        if "iteration" not in frame.columns:
            raise HarnessError(f"{path}: loss log lacks the `iteration` column")
        frame.insert(0, "seed", job.seed)
        frame.insert(0, "run", job.run)
        frame.insert(0, "experiment", job.experiment)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=LOSS_KEYS)


def read_manifest_info(layout: Layout, dataset: str) -> dict | None:
    """The manifest sidecar (counts, adapter, layout, warnings) of a dataset, or None when absent."""
    path = Path(layout.manifest_info(dataset))
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path}: not valid JSON ({exc}); regenerate it with `cddgan make-data`") from exc
    return data if isinstance(data, dict) else None


# ---- what training records beside model.pt: the validation curve and the run record -----------------------

VALIDATION_COLUMNS = ["experiment", "run", "seed", "iteration", "psnr", "ssim", "n_images"]
RUN_INFO_KEYS = ("iterations", "select", "selected_iteration", "failed", "elapsed_s")
# run.json's machine (`cddgan.machine.machine_info`); nested values are flattened: mkl -> mkl_available, mkl_version.
MACHINE_KEYS = ("cpu", "cpu_capability", "cpu_count", "torch", "cuda", "cudnn", "mkl_available", "mkl_version",
                "threads", "device", "gpus", "platform", "python")
RUN_COLUMNS = ["experiment", "run", "seed", *RUN_INFO_KEYS, *(f"machine_{k}" for k in MACHINE_KEYS)]

TrainFiles = Iterable[tuple[plan.TrainJob, str | Path]]


def read_validation(files: TrainFiles) -> pd.DataFrame:
    """Every listed validation.csv (one row per evaluation: iteration, psnr, ssim, n_images) stacked, with
    `experiment`, `run` and `seed` first. `files` pairs each trained seed with its file; an empty file (a run
    that scored nothing) adds no rows, a missing one is an error."""
    frames = []
    for job, path in files:
        path = Path(path)
        if not path.is_file():
            raise HarnessError(f"{path}: validation curve not found; run the `train` rule first")
        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            continue
        except pd.errors.ParserError as exc:
            raise HarnessError(f"{path}: cannot parse the validation curve ({exc})") from exc
        if "iteration" not in frame.columns:
            raise HarnessError(f"{path}: validation curve lacks the `iteration` column")
        if frame.empty:
            continue
        frame.insert(0, "seed", job.seed)
        frame.insert(0, "run", job.run)
        frame.insert(0, "experiment", job.experiment)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=VALIDATION_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _flat(machine: Mapping[str, Any]) -> dict[str, Any]:
    """Values a CSV cell can hold: a nested mapping becomes `<key>_<sub>` fields, a list (of GPUs) one text
    joined by "; "."""
    out: dict[str, Any] = {}
    for key, value in machine.items():
        if isinstance(value, Mapping):
            out.update({f"{key}_{sub}": v for sub, v in _flat(value).items()})
        elif isinstance(value, list | tuple):
            out[key] = "; ".join(str(v) for v in value)
        else:
            out[key] = value
    return out


def read_run_info(files: TrainFiles) -> pd.DataFrame:
    """One row per listed run.json: iterations, select, selected iteration, failed, elapsed seconds and the
    machine's fields as `machine_<key>` (fields this version does not know follow, also prefixed)."""
    records = []
    for job, path in files:
        data = read_json_object(path, "run record", "run the `train` rule first", "retrain to rewrite it",
                                ", ".join(RUN_INFO_KEYS) + ", machine")
        record = {"experiment": job.experiment, "run": job.run, "seed": job.seed}
        record.update({key: data.get(key) for key in RUN_INFO_KEYS})
        machine = _flat(data.get("machine") if isinstance(data.get("machine"), dict) else {})
        record.update({f"machine_{key}": machine.get(key) for key in MACHINE_KEYS})
        record.update({f"machine_{key}": value for key, value in machine.items() if key not in MACHINE_KEYS})
        records.append(record)
    frame = pd.DataFrame(records)
    return frame.reindex(columns=RUN_COLUMNS + [c for c in frame.columns if c not in RUN_COLUMNS])
