"""The report's tables of the statistics frames (`cddgan.report.comparisons`): the paired tests under the
main and each ablation table, the robustness drops on shifted test sets, the convergence verdicts and the
machines the runs trained on. Each is a `Table` (HTML, Markdown, LaTeX and CSV from the same cells) whose
notes state the method that computed its numbers; docs/statistics.md explains them for a reader.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from cddgan import plan, stats
from cddgan.report.comparisons import INTERVAL_NOTE, PAIRED_NOTE, TEST_NOTE
from cddgan.report.meta import MetricMeta, metric_meta, metric_notes, order_metrics
from cddgan.report.tables import Cell, Column, Group, Row, Table, interval_text, slug, tone_of

HARDWARE_NOTE = (
    "Bit-identical reruns hold only on the same kind of hardware: the same commit gave CUT 17.22 vs 17.42 dB "
    "on CPUs with and without AVX-512 kernels. Compare numbers across machines as you would across seeds."
)


def _short(meta: MetricMeta) -> str:
    """The metric's name without its unit: "PSNR (dB)" -> "PSNR"."""
    return meta.display.split(" (")[0]


def _p_text(p: float) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _number(value: float, digits: int) -> Cell:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Cell("–", None)
    return Cell(f"{value:.{digits}f}", float(value))


def _verdict(holds: bool) -> str:
    return "holds" if holds else "does not hold"


def finding(config: Mapping, frame: pd.DataFrame) -> str:
    """One sentence for one run's comparisons with its reference, every metric: "CUT vs CDD-GAN: PSNR -0.36 dB
    [-0.60, -0.10], P(better) 0.31, holds; SSIM ...". `frame`: that run's rows of comparisons.csv."""
    first = frame.iloc[0]
    parts = []
    for row in frame.itertuples():
        meta = metric_meta(row.metric)
        unit = f" {meta.unit}" if meta.unit else ""
        diff = interval_text(meta, row.diff, math.nan, math.nan, signed=True)
        better = "" if math.isnan(row.p_better) else f", P(better) {row.p_better:.2f}"
        parts.append(f"{_short(meta)} {diff}{unit} [{meta.fmt(row.ci_low)}, {meta.fmt(row.ci_high)}]{better}, "
                     f"{_verdict(bool(row.holds))}")
    return f"{plan.label(config, first['run'])} vs {plan.label(config, first['reference'])}: " + "; ".join(parts) + "."


def comparisons_table(comparisons: pd.DataFrame, config: Mapping, experiment: str, dataset: str, table: str,
                      title: str) -> Table | None:
    """The paired tests of one table (`table`: "main" or an ablation table's name) on one test set: one row per
    run and metric, each finding said in words under it. None when the table has no comparisons."""
    if comparisons is None or comparisons.empty:
        return None
    sub = comparisons[(comparisons["experiment"] == experiment) & (comparisons["dataset"] == dataset)
                      & (comparisons["table"].astype(str) == str(table))]
    if sub.empty:
        return None
    order = {m: i for i, m in enumerate(order_metrics(set(sub["metric"])))}
    runs = list(dict.fromkeys(sub["run"]))
    sub = sub.assign(_run=sub["run"].map(runs.index), _metric=sub["metric"].map(order))
    sub = sub.sort_values(["_run", "_metric"], kind="stable").drop(columns=["_run", "_metric"])
    reference = plan.label(config, str(sub["reference"].iloc[0]))
    rows, records = [], []
    for row in sub.itertuples():
        meta = metric_meta(row.metric)
        holds = bool(row.holds)
        diff = Cell(interval_text(meta, row.diff, row.ci_low, row.ci_high, signed=True), float(row.diff),
                    tone=tone_of(meta, row.diff, holds))
        seeds_note = str(row.seeds_note) if isinstance(row.seeds_note, str) else ""
        needed = "–" if math.isnan(row.seeds_needed) else (
            "> 1,000" if math.isinf(row.seeds_needed) else str(int(row.seeds_needed)))
        cells = [
            Cell(f"{plan.label(config, row.run)} vs {reference}", None),
            Cell(meta.header, None),
            diff,
            _number(row.p_better, 2),
            Cell(_p_text(row.p_value), None if math.isnan(row.p_value) else float(row.p_value)),
            Cell(_p_text(row.p_holm), None if math.isnan(row.p_holm) else float(row.p_holm)),
            Cell(_verdict(holds), 1.0 if holds else 0.0),
            Cell(f"{row.n_seeds} ({row.seeds})", float(row.n_seeds)),
            Cell(needed, None if math.isnan(row.seeds_needed) or math.isinf(row.seeds_needed)
                 else float(row.seeds_needed), sub=seeds_note),
        ]
        rows.append(Row(f"{row.run}-{row.metric}", cells, "ok"))
        records.append({k: getattr(row, k) for k in sub.columns} | {"label": plan.label(config, row.run)})
    columns = [Column("Comparison", numeric=False), Column("Metric", numeric=False), Column("Difference"),
               Column("P(better)"), Column("p"), Column("p (Holm)"), Column("Verdict", numeric=False),
               Column("Paired seeds"), Column("Seeds needed")]
    findings = [finding(config, part) for _, part in sub.groupby("run", sort=False)]
    notes = [*findings, PAIRED_NOTE, INTERVAL_NOTE, TEST_NOTE]
    if (sub["n_seeds"] == 1).any():
        notes.append("Paired on one seed: the interval and the test see the test images only; whether another "
                     "seed would give the same difference is not known (the seeds needed say so).")
    notes.extend(metric_notes(set(sub["metric"])))
    return Table(slug("comparisons", table, experiment, dataset), title, columns, [Group("", rows)], notes,
                 pd.DataFrame(records))


def robustness_table(robustness: pd.DataFrame, config: Mapping, experiment: str) -> Table | None:
    """Per run, shifted test set and metric: the in-distribution score, the score on the shift and the drop,
    each with its interval. None when the experiment has no shifted test set."""
    sub = robustness[robustness["experiment"] == experiment] if not robustness.empty else robustness
    if sub.empty:
        return None
    rows, records = [], []
    for row in sub.itertuples():
        meta = metric_meta(row.metric)
        floor = bool(row.reference_floor)
        label = plan.label(config, row.run)
        holds = row.ci_low > 0 or row.ci_high < 0
        cells = [
            Cell(label, None, sub="reference: the haze's own drop" if floor else ""),
            Cell(f"{row.shift} (of {row.base})", None),
            Cell(meta.header, None),
            Cell(interval_text(meta, row.base_mean, row.base_ci_low, row.base_ci_high), float(row.base_mean)),
            Cell(interval_text(meta, row.shift_mean, row.shift_ci_low, row.shift_ci_high), float(row.shift_mean)),
            Cell(interval_text(meta, row.drop, row.ci_low, row.ci_high, signed=True), float(row.drop),
                 tone="worse" if holds and row.drop > 0 and not floor else ""),
        ]
        rows.append(Row(f"{row.run}-{row.shift}-{row.metric}", cells, "reference" if floor else "ok"))
        records.append({k: getattr(row, k) for k in sub.columns} | {"label": label})
    columns = [Column("Method", numeric=False), Column("Shifted test set", numeric=False),
               Column("Metric", numeric=False), Column("In distribution"), Column("Shifted"), Column("Drop")]
    label = config.get("experiments", {}).get(experiment, {}).get("label", experiment)
    notes = [
        "Shifted test sets hold the test scenes of their base set (the same image ids) under haze no method "
        "trains on. Drop: in-distribution score minus shifted score, paired by image and seed (positive: worse "
        "under the shift), red where its interval excludes 0.",
        INTERVAL_NOTE,
        "The hazy input's drop (a reference row) measures how much harder the shifted haze makes the images "
        "themselves.",
    ]
    return Table(slug("robustness", experiment), f"Robustness to shifted haze — {label}", columns,
                 [Group("", rows)], notes, pd.DataFrame(records))


def convergence_table(convergence: pd.DataFrame, config: Mapping, experiment: str) -> Table | None:
    """One row per trained run: its validation curve's verdict, slope and selected iteration."""
    sub = convergence[convergence["experiment"] == experiment] if not convergence.empty else convergence
    if sub.empty or (sub["verdict"] == "no validation curve").all():  # training.eval_every is 0: nothing to say
        return None
    rows, records = [], []
    for row in sub.itertuples():
        has_fit = not math.isnan(row.slope_per_1k) if isinstance(row.slope_per_1k, float) else False
        window = (f"{int(row.window_start):,}–{int(row.window_end):,}"
                  if isinstance(row.window_start, float) and not math.isnan(row.window_start) else "–")
        slope = Cell(f"{row.slope_per_1k:+.3f} [{row.ci_low:+.3f}, {row.ci_high:+.3f}]", float(row.slope_per_1k)) \
            if has_fit else Cell("–", None)
        tone = {"still improving": "better", "getting worse": "worse", "failed": "failed"}.get(str(row.verdict), "")
        select = str(row.select) if isinstance(row.select, str) and row.select else "–"
        chosen = str(row.selected_iterations) if isinstance(row.selected_iterations, str) else ""
        best = "–" if not isinstance(row.best_psnr, float) or math.isnan(row.best_psnr) else \
            f"{row.best_psnr:.2f} at {int(row.best_iteration):,}"
        cells = [
            Cell(plan.label(config, row.run), None),
            _number(float(row.n_seeds), 0),
            _number(float(row.evaluations), 0),
            Cell(window, None),
            slope,
            Cell(str(row.verdict), None, tone=tone),
            _number(row.last_psnr, 2),
            Cell(best, row.best_psnr if isinstance(row.best_psnr, float) and not math.isnan(row.best_psnr) else None),
            Cell(select, None, sub=f"selected: {chosen}" if select == "best_val" and chosen else ""),
        ]
        rows.append(Row(str(row.run), cells, "failed" if row.verdict == "failed" else "ok"))
        records.append({k: getattr(row, k) for k in sub.columns} | {"label": plan.label(config, row.run)})
    columns = [Column("Run", numeric=False), Column("Seeds"), Column("Evaluations"),
               Column("Window (iterations)", numeric=False), Column("Slope (dB / 1k iterations)"),
               Column("Verdict", numeric=False), Column("Last val. PSNR"), Column("Best val. PSNR", numeric=False),
               Column("Kept weights", numeric=False)]
    label = config.get("experiments", {}).get(experiment, {}).get("label", experiment)
    notes = [
        f"Verdict from the last {stats.CONVERGENCE_TAIL:.0%} of each run's evaluations (at least "
        f"{stats.MIN_EVALUATIONS}), every seed's points together: the OLS slope of validation PSNR on the "
        "iteration (scipy.stats.linregress) with its 95 % interval (slope ± t(0.975, n − 2) × its standard "
        "error), in dB per 1,000 iterations. Still improving: the interval lies above 0 (more iterations would "
        "likely help); getting worse: below 0; plateaued: it contains 0; too few evaluations: fewer than "
        f"{stats.MIN_EVALUATIONS}.",
        "Last val. PSNR: the mean over seeds of each seed's last evaluation; best: the highest point of the mean "
        "curve, at its iteration. Kept weights: `select` (last, or best_val: the evaluation with the best "
        "validation PSNR, per seed). Validation PSNR is on the validation images, not the test set.",
    ]
    return Table(slug("convergence", experiment), f"Convergence — {label}", columns, [Group("", rows)], notes,
                 pd.DataFrame(records))


MACHINE_COLUMNS = {"machine_cpu": "CPU", "machine_cpu_capability": "CPU kernels", "machine_torch": "torch",
                   "machine_cuda": "CUDA", "machine_cudnn": "cuDNN", "machine_mkl_version": "MKL",
                   "machine_threads": "Threads", "machine_device": "Device", "machine_gpus": "GPUs"}


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return "–"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def machines_table(runs: pd.DataFrame, config: Mapping) -> Table | None:
    """The machines the runs trained on (from their run records), identical ones grouped, with the runs and
    seeds each trained. None without run records."""
    if runs is None or runs.empty:
        return None
    fields = [c for c in runs.columns if c.startswith("machine_")]
    shown = [c for c in MACHINE_COLUMNS if c in fields]
    keyed = runs.assign(_key=["|".join(map(_text, values)) for values in runs[fields].itertuples(index=False)])
    rows, records = [], []
    for index, (_, group) in enumerate(keyed.groupby("_key", sort=False)):
        first = group.iloc[0]
        trained = "; ".join(
            f"{experiment}/{plan.label(config, run)} seed{'s' if len(part) > 1 else ''} "
            f"{', '.join(str(int(s)) for s in sorted(part['seed']))}"
            for (experiment, run), part in group.groupby(["experiment", "run"], sort=False)
        )
        count = f"{len(group)} seed{'s' if len(group) != 1 else ''}"
        cells = [Cell(_text(first[c]), None) for c in shown] + [Cell(count, float(len(group)), sub=trained)]
        rows.append(Row(f"machine-{index}", cells))
        records.append({c: first[c] for c in fields} | {"runs": trained, "n_seeds": len(group)})
    columns = [Column(MACHINE_COLUMNS[c], numeric=False) for c in shown] + [Column("Trained")]
    notes = ["From each trained seed's run.json (cddgan.machine): identical machines share a row.", HARDWARE_NOTE]
    if len(rows) > 1:
        notes.append(f"These runs trained on {len(rows)} different machines: differences between runs of "
                     "different machines mix method and hardware.")
    return Table("machines", "Machines the runs trained on", columns, [Group("", rows)], notes,
                 pd.DataFrame(records))
