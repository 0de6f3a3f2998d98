"""Per-image metric rows -> per-seed scores -> mean and spread over seeds (pandas), and the tables job
that writes every table of a config together with the config snapshot that describes them.

Two levels, because seeds and images are different sources of variation: first the mean over the test
images of one (experiment, dataset, run, seed), then mean and sample standard deviation (ddof=1) of those
per-seed means. With a single seed the standard deviation is undefined and stored as NaN (tables then
print the mean alone and say "1 seed"), never as a misleading 0. Every mean carries a 95 % interval that
respects both levels (`ci_low`, `ci_high`: a hierarchical bootstrap, `cddgan.report.comparisons`); the
paired comparisons, robustness drops and convergence verdicts are tables of their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cddgan import plan
from cddgan.errors import HarnessError
from cddgan.io import atomic_path, atomic_paths
from cddgan.layout import TABLES, Layout
from cddgan.report import comparisons as stats_frames
from cddgan.report.results import (
    read_efficiency,
    read_failures,
    read_losses,
    read_run_info,
    read_validation,
)

# Columns read back as text whatever they hold (a run named "2", seeds "0-1", an ablation table "1").
TEXT_COLUMNS = {name: str for name in ("experiment", "dataset", "run", "image_id", "protocol", "table", "reference",
                                       "base", "shift", "seeds", "seeds_note", "select", "selected_iterations",
                                       "verdict")}
KEYS = ["experiment", "dataset", "run", "seed", "image_id", "protocol"]
SCORE_COLUMNS = ["experiment", "dataset", "run", "seed", "metric", "value", "n_images", "protocol"]
COMPARISON_COLUMNS = [
    "experiment", "dataset", "run", "metric", "mean", "std", "ci_low", "ci_high", "n_seeds", "n_images", "protocol"
]


def read_metric_rows(metric_files: Iterable[Path]) -> pd.DataFrame:
    """Concatenate per-image metric CSVs; every file must have the key columns and numeric metrics."""
    frames = []
    for path in metric_files:
        path = Path(path)
        if not path.is_file():
            raise HarnessError(f"{path}: metric file not found; run the `evaluate` rule first")
        frame = pd.read_csv(path, dtype={"experiment": str, "dataset": str, "run": str, "image_id": str,
                                          "protocol": str})
        missing = [c for c in KEYS if c not in frame.columns]
        if missing:
            raise HarnessError(f"{path}: metric file lacks columns {missing}; regenerate it with `cddgan evaluate`")
        if frame.empty:
            continue  # a failed (diverged) run's file: the report marks it from results/status/
        for column in metric_columns(frame):
            if not pd.api.types.is_numeric_dtype(frame[column]):
                raise HarnessError(f"{path}: metric column {column!r} is not numeric")
        frame["seed"] = frame["seed"].astype(int)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=KEYS)
    return pd.concat(frames, ignore_index=True)


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """Every column that is not a key: the metrics (psnr, ssim, ...)."""
    return [c for c in frame.columns if c not in KEYS]


def per_seed_scores(rows: pd.DataFrame) -> pd.DataFrame:
    """Long table: one row per (experiment, dataset, run, seed, metric) with the mean over images.

    Non-finite values (a metric that failed on one image) are left out of the mean; `n_images` counts the
    images that did contribute.
    """
    metrics = metric_columns(rows)
    if rows.empty or not metrics:
        return pd.DataFrame(columns=SCORE_COLUMNS)
    long = rows.melt(id_vars=KEYS, value_vars=metrics, var_name="metric", value_name="v")
    long["v"] = long["v"].astype(float).where(np.isfinite(long["v"].astype(float)))
    group = long.groupby(["experiment", "dataset", "run", "seed", "metric"], sort=True)
    scores = group.agg(value=("v", "mean"), n_images=("v", "count"),
                       protocol=("protocol", lambda s: ",".join(sorted(set(s)))))
    scores = scores.reset_index()
    scores = scores[scores["n_images"] > 0]
    return scores[SCORE_COLUMNS].reset_index(drop=True)


def summarise(scores: pd.DataFrame, rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mean and sample std (ddof=1; NaN for one seed) of the per-seed scores, per run and metric, with the
    95 % hierarchical-bootstrap interval of the mean computed from the per-image `rows` the scores came
    from (`ci_low`/`ci_high` NaN without them)."""
    if scores.empty:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    group = scores.groupby(["experiment", "dataset", "run", "metric"], sort=True)
    table = group.agg(mean=("value", "mean"), std=("value", lambda s: s.std(ddof=1)),
                      n_seeds=("seed", "nunique"), n_images=("n_images", "min"),
                      protocol=("protocol", lambda s: ",".join(sorted(set(s))))).reset_index()
    keys = ["experiment", "dataset", "run", "metric"]
    if rows is not None and not rows.empty:
        intervals = stats_frames.mean_intervals(rows, sorted(set(table["metric"])))
        table = table.merge(intervals, on=keys, how="left")
    else:
        table = table.assign(ci_low=np.nan, ci_high=np.nan)
    return table[COMPARISON_COLUMNS]


def drop_failed(frame: pd.DataFrame, failures: pd.DataFrame) -> pd.DataFrame:
    """Rows (scores, per-image rows, curves) without the (experiment, run, seed) combinations that failed."""
    if failures.empty or frame.empty:
        return frame
    bad = set(zip(failures["experiment"], failures["run"], failures["seed"].astype(int), strict=True))
    keep = [
        (e, r, int(s)) not in bad
        for e, r, s in zip(frame["experiment"], frame["run"], frame["seed"], strict=True)
    ]
    return frame[keep]


def aggregate(metric_files: Sequence[Path], tables_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write tables_dir/scores.csv and tables_dir/comparison.csv; return both frames.

    scores.csv: one row per experiment, dataset, run, seed, metric; `value` is the mean over the test
    images, `n_images` how many contributed. comparison.csv: per experiment, dataset, run, metric the
    `mean` and `std` (ddof=1, NaN with one seed) over seeds, `n_seeds`, `n_images` (the smallest per-seed
    count; equal for complete runs) and `protocol`.
    """
    rows = read_metric_rows(metric_files)
    scores = per_seed_scores(rows)
    comparison = summarise(scores, rows)
    tables_dir = Path(tables_dir)
    for name, frame in (("scores.csv", scores), ("comparison.csv", comparison)):
        with atomic_path(tables_dir / name) as tmp:
            frame.to_csv(tmp, index=False)
    return scores, comparison


def train_files(config: Mapping[str, Any], layout: Layout, key: str) -> list[tuple[plan.TrainJob, str]]:
    """Each trained seed with its file of kind `key` ("validation": validation.csv, "run_info": run.json),
    as the workflow declares them (`plan.aggregate_inputs`); each one is required."""
    files = {"validation": plan.validation_files, "run_info": plan.run_info_files}[key](config, layout)
    return list(zip(plan.train_jobs(config), files, strict=True))


def build_tables(config: Mapping[str, Any], layout: Layout) -> dict[str, pd.DataFrame]:
    """Every table of `config` from exactly the files its jobs wrote (`cddgan.plan`): per-image rows,
    per-seed scores, the comparison (with intervals), the paired comparisons, the robustness drops on
    shifted test sets, failed runs, stacked loss logs and validation curves, the convergence verdicts, the
    run records (machine, selected iteration) and efficiency records. Failed seeds are left out of every
    statistic."""
    rows = read_metric_rows(plan.metric_files(config, layout))
    scores = per_seed_scores(rows)
    failures = read_failures(config, layout)
    clean = drop_failed(rows, failures)
    efficiency = read_efficiency(config, layout)
    efficiency["image_size"] = efficiency["image_size"].map(json.dumps)
    validation = read_validation(train_files(config, layout, "validation"))
    runs = read_run_info(train_files(config, layout, "run_info"))
    return {
        "scores": scores,
        "comparison": summarise(per_seed_scores(clean), clean),
        "per_image": rows,
        "failures": failures,
        "losses": read_losses(config, layout),
        "efficiency": efficiency,
        "comparisons": stats_frames.paired_comparisons(clean, config),
        "robustness": stats_frames.robustness(clean, config),
        "convergence": stats_frames.convergence(validation, runs, config, failures),
        "validation": validation,
        "runs": runs,
    }


def write_tables(config: Mapping[str, Any], layout: Layout, snapshot: str) -> dict[str, pd.DataFrame]:
    """Write results/tables/*.csv and the config snapshot together (`atomic_paths`): all are written to
    temporary files first and renamed into place only when every one is ready, so the snapshot always
    describes the tables beside it, and a failure leaves the last good set as it was."""
    tables = build_tables(config, layout)
    targets = [layout.table(name) for name in TABLES] + [layout.config_snapshot()]
    with atomic_paths(targets) as temps:
        for name, tmp in zip(TABLES, temps, strict=False):
            tables[name].to_csv(tmp, index=False)
        temps[-1].write_text(snapshot)
    return tables


def read_tables(layout: Layout) -> dict[str, pd.DataFrame]:
    """The tables `write_tables` wrote (the report's only source of numbers)."""
    tables = {}
    for name in TABLES:
        path = Path(layout.table(name))
        if not path.is_file():
            raise HarnessError(f"{path}: table not found; run the `aggregate` rule first")
        try:
            tables[name] = pd.read_csv(path, dtype=TEXT_COLUMNS)
        except pd.errors.EmptyDataError:
            tables[name] = pd.DataFrame()
    efficiency = tables["efficiency"]
    if "image_size" in efficiency:
        efficiency["image_size"] = efficiency["image_size"].map(
            lambda v: json.loads(v) if isinstance(v, str) else None)
    return tables
