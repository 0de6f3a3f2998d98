"""The statistics frames of the tables job: the interval of every mean, the paired comparisons of every
table, the robustness drop on shifted test sets and the convergence verdict of every trained run.

pandas shapes per-image rows into score matrices (seeds x images, NaN where an image has no score);
`cddgan.stats` does the maths. Every frame here is a table of results/tables/ (`cddgan.report.aggregate`
writes them) and the report renders them (`cddgan.report.tables`, `cddgan.report.statstables`).
docs/statistics.md explains each column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cddgan import plan, stats
from cddgan.report.meta import metric_meta, order_metrics

Config = Mapping[str, Any]

INTERVAL_NOTE = (
    f"[low, high]: 95 % interval, hierarchical bootstrap ({stats.RESAMPLES:,} resamples of the seeds and of "
    "the test images, one draw of images shared by the drawn seeds since every seed scores the same images; "
    "percentile interval of the mean), so it carries both seed-to-seed and image-to-image variation."
)
PAIRED_NOTE = (
    "Differences are paired: both runs on the same test images and seeds (a training-free run, deterministic, "
    "pairs with every seed of the other); the interval resamples seeds and images jointly for both runs."
)
TEST_NOTE = (
    f"p: two-sided Wilcoxon signed-rank test of the per-image differences averaged over the paired seeds "
    f"(scipy); p (Holm): Holm's correction over all comparisons of the table (statsmodels). Holds: p (Holm) "
    f"< {stats.ALPHA} and the interval excludes 0 (the interval carries the seed-to-seed variation the "
    "test does not). P(better): the chance that a random seed and image is better under the run than under "
    "the reference, ties half, in the metric's direction. Seeds needed: per run, to detect the observed "
    f"difference with {stats.POWER:.0%} power at alpha {stats.ALPHA} given the observed seed-to-seed spread "
    "(statsmodels' t-test power)."
)

COMPARISONS_COLUMNS = [
    "experiment", "dataset", "table", "run", "reference", "metric", "diff", "ci_low", "ci_high", "p_value",
    "p_holm", "holds", "p_better", "n_seeds", "n_images", "seeds", "seeds_needed", "seeds_note",
]
ROBUSTNESS_COLUMNS = [
    "experiment", "base", "shift", "run", "metric", "base_mean", "base_ci_low", "base_ci_high", "shift_mean",
    "shift_ci_low", "shift_ci_high", "drop", "ci_low", "ci_high", "n_seeds", "n_images", "reference_floor",
]
CONVERGENCE_COLUMNS = [
    "experiment", "run", "n_seeds", "evaluations", "window_start", "window_end", "points", "slope_per_1k",
    "ci_low", "ci_high", "verdict", "last_psnr", "best_psnr", "best_iteration", "select", "selected_iterations",
]
ROBUSTNESS_METRICS = ("psnr", "ssim")
MAIN_TABLE = "main"  # the `table` of the main comparison's rows in comparisons.csv


# ---- score matrices ---------------------------------------------------------------------------------------


def score_matrices(rows: pd.DataFrame, metric: str) -> dict[tuple[str, str, str], pd.DataFrame]:
    """(experiment, dataset, run) -> its `metric` as a seeds x images frame (non-finite values NaN; seeds
    without any score dropped), from per-image rows."""
    if rows.empty or metric not in rows.columns:
        return {}
    frame = rows[["experiment", "dataset", "run", "seed", "image_id", metric]].copy()
    frame[metric] = pd.to_numeric(frame[metric], errors="coerce")
    frame.loc[~np.isfinite(frame[metric]), metric] = np.nan
    run_keys = ["experiment", "dataset", "run"]
    # One groupby and one unstack for every run (a pivot per run cost most of an aggregate job's time), then
    # each run keeps the images it has scores for, even all-NaN ones, as a pivot of its own rows would.
    means = frame.groupby([*run_keys, "seed", "image_id"], sort=True)[metric].mean()
    wide = means.unstack("image_id")
    images = frame.groupby(run_keys, sort=True)["image_id"].unique()
    out = {}
    for key, matrix in wide.groupby(level=run_keys, sort=True):
        matrix = matrix.droplevel(run_keys)[sorted(images[key])].dropna(how="all")
        if not matrix.empty:
            out[tuple(str(k) for k in key)] = matrix
    return out


def mean_intervals(rows: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """experiment, dataset, run, metric, ci_low, ci_high: the 95 % hierarchical-bootstrap interval of every
    mean the comparison table holds, each seeded by its key "experiment/dataset/run/metric"."""
    records = []
    for metric in metrics:
        for (experiment, dataset, run), matrix in score_matrices(rows, metric).items():
            low, high = stats.mean_interval(matrix.to_numpy(), f"{experiment}/{dataset}/{run}/{metric}")
            records.append({"experiment": experiment, "dataset": dataset, "run": run, "metric": metric,
                            "ci_low": low, "ci_high": high})
    return pd.DataFrame(records, columns=["experiment", "dataset", "run", "metric", "ci_low", "ci_high"])


def _seed_spread(matrix: pd.DataFrame) -> float:
    """Sample standard deviation (ddof=1) of the per-seed means; NaN for one seed."""
    means = matrix.mean(axis=1, skipna=True)
    return float(means.std(ddof=1)) if len(means) > 1 else math.nan


# ---- paired comparisons -----------------------------------------------------------------------------------


def fixed(config: Config, run: str) -> bool:
    """A training-free run with one seed: its scores are deterministic, the same for every seed of another."""
    spec = config["runs"].get(run, {})
    return not spec.get("trainable", True) and len(spec.get("seeds", [])) <= 1


def main_reference(config: Config) -> str | None:
    """The run the main table's methods are compared with: the main run of the paper's method (`cddgan`),
    or None when the config has none."""
    floors = set(plan.reference_runs(config))
    return next((run for run in plan.main_runs(config)
                 if config["runs"][run].get("method") == "cddgan" and run not in floors), None)


def families(config: Config) -> list[tuple[str, str, list[str]]]:
    """(table, reference run, compared runs) of every table with paired tests: the main table (every main
    run but the reference floors against `main_reference`) and each ablation table (its rows against its
    reference). Holm's correction runs over one family's comparisons."""
    floors = set(plan.reference_runs(config))
    out = []
    reference = main_reference(config)
    if reference is not None:
        runs = [r for r in plan.main_runs(config) if r != reference and r not in floors]
        out.append((MAIN_TABLE, reference, runs))
    for name, spec in (config.get("ablation_tables") or {}).items():
        ref = spec["reference"]
        out.append((str(name), ref, [r for r in spec.get("rows", []) if r != ref and r not in floors]))
    return out


def paired_differences(run: pd.DataFrame, reference: pd.DataFrame, run_fixed: bool,
                       reference_fixed: bool) -> tuple[np.ndarray, list[int]]:
    """run − reference on the images both scored and the seeds both trained, as a seeds x images array, with
    the seeds it pairs. A fixed (training-free, one-seed) side is paired with every seed of the other."""
    images = run.columns.intersection(reference.columns)
    a, b = run[images], reference[images]
    if run_fixed and len(a) == 1:
        return a.to_numpy()[0][None, :] - b.to_numpy(), [int(s) for s in b.index]
    if reference_fixed and len(b) == 1:
        return a.to_numpy() - b.to_numpy()[0][None, :], [int(s) for s in a.index]
    seeds = a.index.intersection(b.index)
    return a.loc[seeds].to_numpy() - b.loc[seeds].to_numpy(), [int(s) for s in seeds]


def _compare(key: str, run: pd.DataFrame, reference: pd.DataFrame, run_fixed: bool, reference_fixed: bool,
             higher_is_better: bool | None) -> dict | None:
    diffs, seeds = paired_differences(run, reference, run_fixed, reference_fixed)
    if diffs.size == 0:
        return None
    diffs = np.where(np.isfinite(diffs), diffs, np.nan)
    keep = ~np.isnan(diffs).all(axis=0)
    diffs = diffs[:, keep]
    rows = ~np.isnan(diffs).all(axis=1)
    diffs = diffs[rows]
    seeds = [s for s, kept in zip(seeds, rows, strict=True) if kept]
    if diffs.size == 0:
        return None
    diff = stats.two_level_mean(diffs)
    low, high = stats.mean_interval(diffs, key)
    with np.errstate(all="ignore"):
        per_image = np.nanmean(diffs, axis=0)
    if run_fixed and len(run) == 1:  # one-sample: the trained side's spread against a fixed score
        needed = stats.seeds_needed(diff, _seed_spread(reference), len(reference), math.nan, 0, ref_fixed=True)
    else:
        needed = stats.seeds_needed(diff, _seed_spread(run), len(run), _seed_spread(reference), len(reference),
                                    ref_fixed=reference_fixed and len(reference) == 1)
    return {
        "diff": diff, "ci_low": low, "ci_high": high, "p_value": stats.wilcoxon_p(per_image),
        "p_better": stats.probability_of_improvement(diffs, higher_is_better), "n_seeds": int(diffs.shape[0]),
        "n_images": int(diffs.shape[1]), "seeds": "-".join(str(s) for s in seeds),
        "seeds_needed": needed.seeds, "seeds_note": needed.note,
    }


def paired_comparisons(rows: pd.DataFrame, config: Config) -> pd.DataFrame:
    """One row per (experiment, test set, table, run, metric): the paired difference run − reference, its
    interval, the Wilcoxon p-value, Holm's adjusted p-value over the table's comparisons, whether it holds,
    the probability of improvement and the seeds needed. `rows`: per-image rows without failed seeds."""
    metrics = order_metrics({c for c in rows.columns} - {"experiment", "dataset", "run", "seed", "image_id",
                                                          "protocol"})
    matrices = {metric: score_matrices(rows, metric) for metric in metrics}
    records = []
    for experiment, spec in config.get("experiments", {}).items():
        for dataset in spec.get("test", []):
            for table, reference, runs in families(config):
                family = []
                for run in runs:
                    for metric in metrics:
                        ours = matrices[metric].get((experiment, dataset, run))
                        theirs = matrices[metric].get((experiment, dataset, reference))
                        if ours is None or theirs is None:
                            continue
                        key = f"{experiment}/{dataset}/{table}/{run}-vs-{reference}/{metric}"
                        result = _compare(key, ours, theirs, fixed(config, run), fixed(config, reference),
                                          metric_meta(metric).higher_is_better)
                        if result is not None:
                            family.append({"experiment": experiment, "dataset": dataset, "table": table,
                                           "run": run, "reference": reference, "metric": metric, **result})
                adjusted = stats.holm(np.array([r["p_value"] for r in family], dtype=float))
                for record, p_holm in zip(family, adjusted, strict=True):
                    excludes_zero = record["ci_low"] > 0 or record["ci_high"] < 0
                    record.update(p_holm=p_holm, holds=bool(p_holm < stats.ALPHA and excludes_zero))
                records += family
    return pd.DataFrame(records, columns=COMPARISONS_COLUMNS)


# ---- robustness on shifted test sets ----------------------------------------------------------------------


def shifted_sets(config: Config, experiment: str) -> list[tuple[str, str]]:
    """(base, shift) of every test set of `experiment` that is a shift (`shift_of:`) of another of its test
    sets, in test order."""
    tests = list(config["experiments"][experiment].get("test", []))
    datasets = config.get("datasets", {})
    return [(datasets[name]["shift_of"], name) for name in tests
            if (datasets.get(name) or {}).get("shift_of") in tests]


def _run_order(config: Config) -> list[str]:
    main = plan.main_runs(config)
    return main + [r for r in config.get("runs", {}) if r not in main]


def robustness(rows: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Per run and shifted test set: the in-distribution score (on the base set), the score on the shift,
    each with its interval, and the drop (base − shift, paired by image and seed) with its interval, for
    PSNR and SSIM. `rows`: per-image rows without failed seeds."""
    metrics = [m for m in ROBUSTNESS_METRICS if m in rows.columns]
    floors = set(plan.reference_runs(config))
    records = []
    for metric in metrics:
        matrices = score_matrices(rows, metric)
        for experiment in config.get("experiments", {}):
            for base, shift in shifted_sets(config, experiment):
                for run in _run_order(config):
                    inside, outside = matrices.get((experiment, base, run)), matrices.get((experiment, shift, run))
                    if inside is None or outside is None:
                        continue
                    drops, seeds = paired_differences(inside, outside, False, False)
                    drops = drops[:, ~np.isnan(drops).all(axis=0)] if drops.size else drops
                    if drops.size == 0:
                        continue
                    base_ci = stats.mean_interval(inside.to_numpy(), f"{experiment}/{base}/{run}/{metric}")
                    shift_ci = stats.mean_interval(outside.to_numpy(), f"{experiment}/{shift}/{run}/{metric}")
                    low, high = stats.mean_interval(drops, f"{experiment}/{base}->{shift}/{run}/{metric}")
                    records.append({
                        "experiment": experiment, "base": base, "shift": shift, "run": run, "metric": metric,
                        "base_mean": stats.two_level_mean(inside.to_numpy()), "base_ci_low": base_ci[0],
                        "base_ci_high": base_ci[1], "shift_mean": stats.two_level_mean(outside.to_numpy()),
                        "shift_ci_low": shift_ci[0], "shift_ci_high": shift_ci[1],
                        "drop": stats.two_level_mean(drops), "ci_low": low, "ci_high": high,
                        "n_seeds": len(seeds), "n_images": int(drops.shape[1]), "reference_floor": run in floors,
                    })
    frame = pd.DataFrame(records, columns=ROBUSTNESS_COLUMNS)
    return frame.sort_values(["experiment", "shift", "metric"], kind="stable").reset_index(drop=True)


# ---- convergence of validation curves ---------------------------------------------------------------------


def _groups(frame: pd.DataFrame, experiment: str, run: str) -> pd.DataFrame:
    if frame.empty:
        return frame
    return frame[(frame["experiment"] == experiment) & (frame["run"] == run)]


def _curve(validation: pd.DataFrame, experiment: str, run: str, bad: set[tuple[str, str, int]]) -> pd.DataFrame:
    """The run's validation points with a PSNR, without failed seeds."""
    curve = _groups(validation, experiment, run)
    if curve.empty or "psnr" not in curve.columns:
        return pd.DataFrame(columns=["seed", "iteration", "psnr"])
    curve = curve.assign(psnr=pd.to_numeric(curve["psnr"], errors="coerce"))
    keep = np.array([(experiment, run, int(s)) not in bad for s in curve["seed"]], dtype=bool)
    return curve[keep & curve["psnr"].notna().to_numpy()]


def _selection(info: pd.DataFrame, config: Config, run: str) -> tuple[str, str]:
    """The run's `select` (from its run records, else its config) and the selected iteration of each seed."""
    select = ""
    if not info.empty and "select" in info.columns:
        select = ", ".join(sorted({str(v) for v in info["select"].dropna()}))
    if not select:
        select = str(((config["runs"][run].get("training") or {}).get("select")) or "")
    chosen = ""
    if not info.empty and "selected_iteration" in info.columns:
        chosen = "; ".join(f"seed {int(r.seed)}: {int(r.selected_iteration)}"
                           for r in info.sort_values("seed").itertuples() if pd.notna(r.selected_iteration))
    return select, chosen


def convergence(validation: pd.DataFrame, runs: pd.DataFrame, config: Config,
                failures: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (experiment, trained run): the validation curve's last PSNR and best PSNR (of the mean over
    seeds), and the convergence verdict of its last 30 % of evaluations (`cddgan.stats.trend`), with the
    slope in dB per 1,000 iterations. Seeds that failed are left out."""
    bad = set()
    if failures is not None and not failures.empty:
        bad = {(e, r, int(s)) for e, r, s in zip(failures["experiment"], failures["run"], failures["seed"],
                                                 strict=True)}
    records = []
    for experiment in config.get("experiments", {}):
        for run in plan.trained_runs(config):
            curve = _curve(validation, experiment, run, bad)
            info = _groups(runs, experiment, run)
            select, chosen = _selection(info, config, run)
            record: dict = {"experiment": experiment, "run": run, "select": select, "selected_iterations": chosen}
            if curve.empty:
                failed = all((experiment, run, int(s)) in bad for s in config["runs"][run]["seeds"])
                record.update(n_seeds=0, evaluations=0, points=0,
                              verdict="failed" if failed else "no validation curve")
                records.append(record)
                continue
            x = curve["iteration"].to_numpy(float)
            y = curve["psnr"].to_numpy(float)
            fit = stats.trend(x, y)
            mean_curve = curve.groupby("iteration")["psnr"].mean()
            last = curve.sort_values("iteration").groupby("seed")["psnr"].last().mean()
            record.update(
                n_seeds=int(curve["seed"].nunique()), evaluations=int(np.unique(x).size),
                window_start=fit.first, window_end=fit.last, points=fit.points, slope_per_1k=1000 * fit.slope,
                ci_low=1000 * fit.low, ci_high=1000 * fit.high, verdict=fit.verdict, last_psnr=float(last),
                best_psnr=float(mean_curve.max()), best_iteration=float(mean_curve.idxmax()),
            )
            records.append(record)
    return pd.DataFrame(records, columns=CONVERGENCE_COLUMNS)

