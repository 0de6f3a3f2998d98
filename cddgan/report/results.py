"""Where a results folder keeps each kind of file, and readers that name the file they fail on.

The layout is the one the Snakemake rules write; everything the report reads goes through here, so a
change of layout touches one module.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from cddgan.data.manifest import sidecar_path
from cddgan.errors import HarnessError

FAILURE_COLUMNS = ["experiment", "run", "seed", "message"]
EFFICIENCY_KEYS = (
    "params", "macs", "image_size", "train_ms_per_iter", "infer_ms_per_image", "peak_mem_mb", "device"
)
_SEED_DIR = re.compile(r"^seed(-?\d+)$")


def metric_files(results_dir: Path) -> list[Path]:
    """Every per-image metric CSV: metrics/{experiment}/{run}/seed{seed}/{dataset}.csv."""
    return sorted(Path(results_dir).glob("metrics/*/*/seed*/*.csv"))


def output_image(results_dir: Path, experiment: str, run: str, seed: int, dataset: str, image_id: str) -> Path:
    """The dehazed test image a run wrote."""
    return Path(results_dir) / "outputs" / experiment / run / f"seed{seed}" / dataset / f"{image_id}.png"


def manifest_path(results_dir: Path, dataset: str) -> Path:
    return Path(results_dir) / "data" / dataset / "manifest.csv"


def read_failures(results_dir: Path) -> pd.DataFrame:
    """Failed runs from status/{experiment}/{run}/seed{seed}.failed (the file holds the message)."""
    records = []
    for path in sorted(Path(results_dir).glob("status/*/*/seed*.failed")):
        match = _SEED_DIR.match(path.stem)
        if not match:
            continue
        message = path.read_text(errors="replace").strip() or "failed (no message recorded)"
        records.append(
            {"experiment": path.parent.parent.name, "run": path.parent.name, "seed": int(match.group(1)),
             "message": message}
        )
    return pd.DataFrame(records, columns=FAILURE_COLUMNS)


def read_efficiency(results_dir: Path) -> pd.DataFrame:
    """One row per efficiency/{experiment}/{run}.json; missing keys are NaN (older files)."""
    records = []
    for path in sorted(Path(results_dir).glob("efficiency/*/*.json")):
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise HarnessError(f"{path}: not valid JSON ({exc}); rerun the efficiency measurement") from exc
        if not isinstance(data, dict):
            raise HarnessError(f"{path}: expected a JSON object with keys {', '.join(EFFICIENCY_KEYS)}")
        record = {"experiment": path.parent.name, "run": path.stem}
        for key in EFFICIENCY_KEYS:
            record[key] = data.get(key)
        records.append(record)
    return pd.DataFrame(records, columns=["experiment", "run", *EFFICIENCY_KEYS])


def read_losses(results_dir: Path, experiment: str, run: str) -> pd.DataFrame:
    """All seeds' losses.csv of one run, stacked with a `seed` column; empty when none were logged."""
    frames = []
    for path in sorted((Path(results_dir) / "runs" / experiment / run).glob("seed*/losses.csv")):
        match = _SEED_DIR.match(path.parent.name)
        if not match:
            continue
        try:
            frame = pd.read_csv(path)
        except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
            raise HarnessError(f"{path}: cannot parse the loss log ({exc})") from exc
        if "iteration" not in frame.columns:
            raise HarnessError(f"{path}: loss log lacks the `iteration` column")
        frame["seed"] = int(match.group(1))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def read_manifest_info(results_dir: Path, dataset: str) -> dict | None:
    """The manifest sidecar (counts, adapter, layout, warnings) of a dataset, or None when absent."""
    path = sidecar_path(manifest_path(results_dir, dataset))
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path}: not valid JSON ({exc}); regenerate it with `cddgan make-data`") from exc
    return data if isinstance(data, dict) else None
