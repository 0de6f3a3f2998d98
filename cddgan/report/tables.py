"""The report's tables as plain data (`Table`), built from per-seed scores with pandas.

A `Table` is rendered three ways from the same cells: HTML (jinja2 template, see `html.py`), Markdown
and LaTeX (see `export.py`); its `frame` (numbers, not strings) is the CSV export. Keeping one model
means the bold/underline marks and signed deltas are decided once and agree in every format.

Conventions: every metric cell is the mean over seeds with its 95 % interval, `17.78 [17.51, 18.02]`
(a hierarchical bootstrap over seeds and test images, `cddgan.report.comparisons`; mean ± sample std
where no per-image rows are given). Best (bold) and second best (underlined) are decided on the means as
printed, among the harness's complete runs (no failed seed) that are not reference floors (the hazy
input), only for metrics whose direction `cddgan.metrics` knows. Failed seeds (status files) are left out
of the means and named in the row. An ablation's Δ is the paired difference to its reference, coloured
only where the paired test holds after Holm's correction (`comparisons.csv`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from cddgan import plan
from cddgan.errors import HarnessError
from cddgan.protocols import NO_REFERENCE, Protocol
from cddgan.report.aggregate import drop_failed, summarise
from cddgan.report.comparisons import INTERVAL_NOTE
from cddgan.report.meta import MetricMeta, describe_protocol, metric_meta, metric_notes, order_metrics

__all__ = ["Cell", "Column", "Group", "Row", "Table", "ablation_table", "drop_failed", "efficiency_table",
           "main_table", "manifest_table", "rank_marks", "slug"]


@dataclass
class Cell:
    """One table cell: its text, the number it sorts by, and how to emphasise it."""

    text: str
    sort: float | None = None
    mark: str = ""  # "best" | "second"
    tone: str = ""  # "better" | "worse" (signed deltas), "failed"
    sub: str = ""  # a small second line (a failure message, a source)


@dataclass
class Row:
    key: str
    cells: list[Cell]
    status: str = "ok"  # ok | partial | failed | missing | published | reference


@dataclass
class Group:
    label: str
    rows: list[Row]


@dataclass
class Column:
    name: str
    numeric: bool = True


@dataclass
class Table:
    """A titled table with row groups; `frame` holds the same rows as numbers for the CSV export."""

    id: str
    title: str
    columns: list[Column]
    groups: list[Group]
    notes: list[str] = field(default_factory=list)
    frame: pd.DataFrame = field(default_factory=pd.DataFrame)

    def rows(self) -> list[Row]:
        return [row for group in self.groups for row in group.rows]


def slug(*parts: str) -> str:
    """A stable id usable in file names and HTML ids."""
    text = "-".join(str(p) for p in parts if p != "")
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-").lower() or "table"


def _is_nan(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _mean_std_text(meta: MetricMeta, mean: float, std: float) -> str:
    if _is_nan(std):
        return meta.fmt(mean)
    return f"{meta.fmt(mean)} ± {meta.fmt(std)}"


def interval_text(meta: MetricMeta, value: float, low: float, high: float, signed: bool = False) -> str:
    """`17.78 [17.51, 18.02]` at the metric's digits (`+`-signed value for a difference)."""
    if signed:
        rounded = round(value, meta.digits)
        head = f"{rounded:+.{meta.digits}f}" if rounded != 0 else f"{0:.{meta.digits}f}"
    else:
        head = meta.fmt(value)
    if _is_nan(low) or _is_nan(high):
        return head
    return f"{head} [{meta.fmt(low)}, {meta.fmt(high)}]"


def _value_text(meta: MetricMeta, stat: object) -> str:
    """A mean with its interval, or mean ± std (the mean alone for one seed) where there is no interval."""
    if _is_nan(stat.ci_low):
        return _mean_std_text(meta, stat.mean, stat.std)
    return interval_text(meta, stat.mean, stat.ci_low, stat.ci_high)


def _rows_of(rows: pd.DataFrame | None, experiment: str, dataset: str, runs: Sequence[str],
             failures: pd.DataFrame) -> pd.DataFrame | None:
    """The per-image rows of `runs` on one test set, failed seeds left out; None without rows."""
    if rows is None:
        return None
    if rows.empty:
        return rows
    sub = rows[(rows["experiment"] == experiment) & (rows["dataset"] == dataset) & rows["run"].isin(runs)]
    return drop_failed(sub, failures)


def interval_notes(summary: pd.DataFrame, config: Mapping, runs: Sequence[str]) -> list[str]:
    """The interval method, and which rows' intervals are over test images only (one seed)."""
    if summary.empty or summary["ci_low"].isna().all():
        return ["Mean ± sample std over seeds (mean alone for one seed)."]
    seeds = summary.groupby("run")["n_seeds"].max().to_dict()
    single = [plan.label(config, r) for r in runs if seeds.get(r) == 1]
    notes = [INTERVAL_NOTE]
    if single:
        notes.append(
            f"One seed ({', '.join(single)}): the interval is over test images only, without seed-to-seed "
            "variation (a training-free run is deterministic; a trained run with one seed hides how much "
            "another seed would change it)."
        )
    notes.append("The sample standard deviation over seeds is in the CSV export.")
    return notes


def failed_seeds(failures: pd.DataFrame, experiment: str) -> dict[str, dict[int, str]]:
    """run -> {seed: message} for one experiment."""
    out: dict[str, dict[int, str]] = {}
    for row in failures[failures["experiment"] == experiment].itertuples():
        out.setdefault(row.run, {})[int(row.seed)] = row.message
    return out


def rank_marks(values: Mapping[str, float], meta: MetricMeta) -> dict[str, str]:
    """Row key -> "best"/"second" by the printed (rounded) value; ties share a mark."""
    if meta.higher_is_better is None:
        return {}
    rounded = {k: round(v, meta.digits) for k, v in values.items() if not _is_nan(v)}
    distinct = sorted(set(rounded.values()), reverse=meta.higher_is_better)
    marks = {}
    for key, value in rounded.items():
        if value == distinct[0]:
            marks[key] = "best"
        elif len(distinct) > 1 and value == distinct[1]:
            marks[key] = "second"
    return marks


def _failure_note(failed: Mapping[int, str]) -> str:
    return "; ".join(f"FAILED seed {seed}: {message}" for seed, message in sorted(failed.items()))


def _protocol_notes(summary: pd.DataFrame) -> list[str]:
    protocols = sorted({p for value in summary["protocol"] for p in str(value).split(",") if p})
    if set(summary["metric"]) <= set(NO_REFERENCE):  # no ground truth: the PSNR/SSIM part is moot
        crops = sorted({_crop_of(name) for name in protocols})
        return [f"No ground truth: only no-reference metrics are computed (border crop {', '.join(crops)} px)."]
    return [f"Metrics: {describe_protocol(name)}." for name in protocols]


def _crop_of(protocol: str) -> str:
    """The border crop of a protocol name such as 'rgb-ds-crop4' ('?' for a name this version cannot read)."""
    try:
        return str(Protocol.from_config(protocol).crop)
    except HarnessError:
        return "?"


def _images_note(summary: pd.DataFrame) -> str:
    counts = sorted({int(n) for n in summary["n_images"]})
    if not counts:
        return ""
    if len(counts) == 1:
        return f"{counts[0]} test images."
    return f"Test images per run: {', '.join(str(c) for c in counts)} (some runs did not cover the whole set)."


def _resize_note(shrunk: Mapping | None, dataset: str) -> str:
    """Scores of shrunk test images are not the full-size scores most papers print: say so under the table.

    `shrunk` is the `test_resized` record of the dataset's manifest sidecar: what `make_data` really did.
    """
    if not shrunk or not shrunk.get("count"):
        return ""
    return (
        f"{shrunk['count']} test images (hazy and ground truth) larger than {shrunk.get('max_side')} px on a side "
        f"were shrunk to fit (bicubic, antialiased; datasets.{dataset}.test_max_side) before dehazing and "
        "scoring: not comparable with full-size scores."
    )


def main_table(
    scores: pd.DataFrame,
    failures: pd.DataFrame,
    config: Mapping,
    experiment: str,
    dataset: str,
    published: pd.DataFrame | None = None,
    shrunk: Mapping | None = None,
    rows: pd.DataFrame | None = None,
) -> Table:
    """The config's main runs (`main_runs`, in that order) and published rows.

    `shrunk`: the `test_resized` record of the test set's manifest sidecar, if its images were shrunk.
    `rows`: the per-image rows the scores came from; with them every cell carries its 95 % interval. The
    reference floors (the hazy input) are reference rows: never ranked."""
    sub = scores[(scores["experiment"] == experiment) & (scores["dataset"] == dataset)]
    order = plan.main_runs(config)
    floors = set(plan.reference_runs(config))
    sub = sub[sub["run"].isin(order)]
    failed = failed_seeds(failures, experiment)
    summary = summarise(drop_failed(sub, failures), _rows_of(rows, experiment, dataset, order, failures))
    metrics = order_metrics(set(sub["metric"]))
    metas = [metric_meta(m) for m in metrics]
    stats = {(r.run, r.metric): r for r in summary.itertuples()}
    n_seeds = summary.groupby("run")["n_seeds"].max().to_dict() if not summary.empty else {}

    statuses = {}
    for run in order:
        has_scores = run in n_seeds
        statuses[run] = (
            "reference" if has_scores and run not in failed and run in floors else
            "ok" if has_scores and run not in failed else
            "partial" if has_scores else
            "failed" if run in failed else "missing"
        )
    marks = {
        meta.key: rank_marks(
            {run: stats[(run, meta.key)].mean for run in order
             if statuses[run] == "ok" and (run, meta.key) in stats},
            meta,
        )
        for meta in metas
    }

    table_rows, records = [], []
    for run in order:
        status = statuses[run]
        sub_text = _failure_note(failed.get(run, {})) if status in ("partial", "failed") else (
            "no results" if status == "missing" else
            "reference floor: not ranked, not tested as a method" if status == "reference" else "")
        label = Cell(plan.label(config, run), None,
                     tone="failed" if status in ("failed", "partial") else "", sub=sub_text)
        cells = [label, Cell(str(n_seeds.get(run, 0)), float(n_seeds.get(run, 0)))]
        record = {"group": "harness", "run": run, "label": plan.label(config, run), "status": status,
                  "message": sub_text, "n_seeds": n_seeds.get(run, 0)}
        for meta in metas:
            stat = stats.get((run, meta.key))
            if stat is None:
                text = "FAILED" if status == "failed" else "–"
                cells.append(Cell(text, None, tone="failed" if status == "failed" else ""))
                record.update({f"{meta.key}_{part}": math.nan for part in ("mean", "std", "ci_low", "ci_high")})
                continue
            cells.append(Cell(_value_text(meta, stat), float(stat.mean), mark=marks[meta.key].get(run, "")))
            record.update({f"{meta.key}_mean": stat.mean, f"{meta.key}_std": stat.std,
                           f"{meta.key}_ci_low": stat.ci_low, f"{meta.key}_ci_high": stat.ci_high})
            record["n_images"] = int(stat.n_images)
        table_rows.append(Row(run, cells, status))
        records.append(record)
    groups = [Group("This harness", table_rows)]

    pub = _published_rows(published, dataset, metas)
    for source, pub_rows, pub_records in pub:
        groups.append(Group(f"Published — {source}", pub_rows))
        records.extend(pub_records)

    notes = []
    if not summary.empty:
        notes.append(_images_note(summary))
        notes.append(_resize_note(shrunk, dataset))
        notes.extend(_protocol_notes(summary))
    notes.extend(interval_notes(summary, config, order))
    shown_floors = [plan.label(config, r) for r in order if statuses[r] == "reference"]
    notes.append(
        "Bold: best, underlined: second best among this harness's complete runs"
        + (f"; {', '.join(shown_floors)} (the hazy input scored as an answer, a floor to beat) is a reference "
           "row: not ranked and not tested as a method." if shown_floors else ".")
    )
    notes.extend(metric_notes(metrics))
    if pub:
        notes.append(
            "Published rows are copied from their source: other training data, resolution and metric "
            "conventions, so compare them with care; they are not ranked."
        )
    columns = [Column("Method", numeric=False), Column("Seeds")] + [Column(m.header) for m in metas]
    title = f"{config.get('experiments', {}).get(experiment, {}).get('label', experiment)} — test set {dataset}"
    return Table(slug("main", experiment, dataset), title, columns, groups, [n for n in notes if n],
                 pd.DataFrame(records))


def _published_rows(
    published: pd.DataFrame | None, dataset: str, metas: Sequence[MetricMeta]
) -> list[tuple[str, list[Row], list[dict]]]:
    """Published rows for `dataset`, grouped by source, in file order."""
    if published is None or published.empty:
        return []
    match = published[published["dataset"] == dataset]
    out = []
    for source, frame in match.groupby("source", sort=False):
        rows, records = [], []
        for index, pub in frame.iterrows():
            group = f" ({pub['group']})" if isinstance(pub["group"], str) else ""
            cells = [Cell(f"{pub['method']}{group}", None), Cell("–", None)]
            record = {"group": "published", "run": pub["method"], "label": pub["method"], "status": "published",
                      "message": "", "source": source}
            for meta in metas:
                value = pub[meta.key] if meta.key in pub.index else math.nan
                value = math.nan if _is_nan(value) else float(value)
                cells.append(Cell(meta.fmt(value), None if math.isnan(value) else value))
                record[f"{meta.key}_mean"] = value
            rows.append(Row(f"published-{index}", cells, "published"))
            records.append(record)
        out.append((str(source), rows, records))
    return out


def tone_of(meta: MetricMeta, difference: float, holds: bool) -> str:
    """"better" or "worse" in the metric's direction, only for a difference that holds; else no tone."""
    if not holds or meta.higher_is_better is None or _is_nan(difference) or difference == 0:
        return ""
    return "better" if (difference > 0) == meta.higher_is_better else "worse"


def _delta_cell(meta: MetricMeta, comparison: Mapping | None, fallback: float) -> Cell:
    """The paired difference with its interval, toned where it holds; without a paired comparison, the
    difference of the means, untoned (nothing says whether it is real)."""
    if comparison is None:
        return Cell(interval_text(meta, fallback, math.nan, math.nan, signed=True), float(fallback))
    diff = float(comparison["diff"])
    text = interval_text(meta, diff, float(comparison["ci_low"]), float(comparison["ci_high"]), signed=True)
    return Cell(text, diff, tone=tone_of(meta, diff, bool(comparison["holds"])))


def _family(comparisons: pd.DataFrame | None, experiment: str, dataset: str, table: str) -> dict:
    """(run, metric) -> the comparison row of one table on one test set (`comparisons.csv`)."""
    if comparisons is None or comparisons.empty:
        return {}
    sub = comparisons[(comparisons["experiment"] == experiment) & (comparisons["dataset"] == dataset)
                      & (comparisons["table"].astype(str) == str(table))]
    return {(row["run"], row["metric"]): row for _, row in sub.iterrows()}


def ablation_table(
    name: str,
    spec: Mapping,
    scores: pd.DataFrame,
    failures: pd.DataFrame,
    config: Mapping,
    experiment: str,
    dataset: str,
    shrunk: Mapping | None = None,
    rows: pd.DataFrame | None = None,
    comparisons: pd.DataFrame | None = None,
) -> Table | None:
    """The reference run and every ablation row, each metric with its paired difference to the reference.

    With `comparisons` (the tables job's `comparisons.csv`), Δ is the paired difference on the seeds and
    images both runs share, with its interval, coloured only where the paired test holds after Holm's
    correction; without, the difference of the means, uncoloured. `rows` gives the means their intervals.
    Returns None when none of the table's runs has results or a failure for this test set.
    """
    reference = spec["reference"]
    runs = [reference] + [r for r in spec.get("rows", []) if r != reference]
    sub = scores[(scores["experiment"] == experiment) & (scores["dataset"] == dataset) & scores["run"].isin(runs)]
    failed = failed_seeds(failures, experiment)
    if sub.empty and not any(r in failed for r in runs):
        return None
    summary = summarise(drop_failed(sub, failures), _rows_of(rows, experiment, dataset, runs, failures))
    metrics = order_metrics(set(sub["metric"]))
    metas = [metric_meta(m) for m in metrics]
    stats = {(r.run, r.metric): r for r in summary.itertuples()}
    paired = _family(comparisons, experiment, dataset, name)

    table_rows, records = [], []
    for run in runs:
        has = any((run, m) in stats for m in metrics)
        status = "reference" if run == reference else "ok"
        if run in failed:
            status = "partial" if has else "failed"
        elif not has:
            status = "missing"
        note = _failure_note(failed.get(run, {})) if run in failed else ("no results" if not has else "")
        label = plan.label(config, run) + (" (reference)" if run == reference else "")
        cells = [Cell(label, None, tone="failed" if run in failed else "", sub=note)]
        record = {"run": run, "label": plan.label(config, run), "status": status, "message": note}
        for meta in metas:
            stat, ref = stats.get((run, meta.key)), stats.get((reference, meta.key))
            if stat is None:
                cells += [Cell("FAILED" if status == "failed" else "–", None), Cell("", None)]
                record.update({f"{meta.key}_{part}": math.nan
                               for part in ("mean", "std", "ci_low", "ci_high", "delta", "delta_ci_low",
                                            "delta_ci_high")})
                continue
            cells.append(Cell(_value_text(meta, stat), float(stat.mean)))
            comparison = paired.get((run, meta.key))
            delta = low = high = math.nan
            if run == reference:
                cells.append(Cell("ref", None))
            elif comparison is None and (ref is None or comparisons is not None):
                cells.append(Cell("–", None))
            else:
                cell = _delta_cell(meta, comparison, float(stat.mean - ref.mean) if ref is not None else math.nan)
                cells.append(cell)
                delta = cell.sort
                if comparison is not None:
                    low, high = float(comparison["ci_low"]), float(comparison["ci_high"])
            record.update({f"{meta.key}_mean": stat.mean, f"{meta.key}_std": stat.std,
                           f"{meta.key}_ci_low": stat.ci_low, f"{meta.key}_ci_high": stat.ci_high,
                           f"{meta.key}_delta": delta, f"{meta.key}_delta_ci_low": low,
                           f"{meta.key}_delta_ci_high": high})
        table_rows.append(Row(run, cells, status))
        records.append(record)

    columns = [Column("Variant", numeric=False)]
    for meta in metas:
        columns += [Column(meta.header), Column(f"Δ {meta.display}")]
    ref_label = plan.label(config, reference)
    if comparisons is not None:
        notes = [
            f"Δ: paired difference to the reference run ({ref_label}) on the test images and seeds both share, "
            "with its 95 % interval; green is better, red is worse in the metric's direction, coloured only "
            "where the difference holds after Holm's correction over this table's comparisons (the paired "
            "tests below)."
        ]
    else:
        notes = [f"Δ: difference of the mean to the reference run ({ref_label}); no paired test, so uncoloured."]
    if not summary.empty:
        notes.append(_images_note(summary))
        notes.append(_resize_note(shrunk, dataset))
        notes.extend(_protocol_notes(summary))
    notes.extend(interval_notes(summary, config, runs))
    notes.extend(metric_notes(metrics))
    title = f"{spec.get('title', name)} — {config.get('experiments', {}).get(experiment, {}).get('label', experiment)}"
    title += f", test set {dataset}"
    return Table(slug("ablation", name, experiment, dataset), title, columns, [Group("", table_rows)],
                 [n for n in notes if n], pd.DataFrame(records))


def _num(value: object, scale: float = 1.0, digits: int = 2) -> Cell:
    if _is_nan(value):
        return Cell("–", None)
    number = float(value) / scale
    return Cell(f"{number:,.{digits}f}", number)


def efficiency_table(efficiency: pd.DataFrame, config: Mapping, experiment: str) -> Table | None:
    """Parameters, MACs, training and inference time, peak memory and device per run of one experiment."""
    sub = efficiency[efficiency["experiment"] == experiment]
    if sub.empty:
        return None
    main = plan.main_runs(config)
    order = main + [r for r in config.get("runs", {}) if r not in main]
    rank = {run: i for i, run in enumerate(order)}
    sub = sub.assign(_order=sub["run"].map(lambda r: rank.get(r, len(rank)))).sort_values(["_order", "run"])
    rows, records = [], []
    for eff in sub.itertuples():
        size = eff.image_size
        size_text = "×".join(str(int(s)) for s in size) if isinstance(size, list | tuple) else "–"
        cells = [
            Cell(plan.label(config, eff.run), None),
            _num(eff.params, 1e6, 3),
            _num(eff.macs, 1e9, 3),
            _num(eff.train_ms_per_iter, 1, 1),
            _num(eff.infer_ms_per_image, 1, 1),
            _num(eff.peak_mem_mb, 1, 0),
            Cell(str(eff.device) if not _is_nan(eff.device) else "–", None),
            Cell(size_text, None),
        ]
        rows.append(Row(eff.run, cells))
        records.append({
            "run": eff.run, "label": plan.label(config, eff.run), "params": eff.params, "macs": eff.macs,
            "image_size": size_text, "train_ms_per_iter": eff.train_ms_per_iter,
            "infer_ms_per_image": eff.infer_ms_per_image, "peak_mem_mb": eff.peak_mem_mb, "device": eff.device,
        })
    columns = [Column("Method", numeric=False), Column("Params (M)"), Column("GMACs / image"),
               Column("Train ms / iter"), Column("Infer ms / image"), Column("Peak memory (MB)"),
               Column("Device", numeric=False), Column("Image size", numeric=False)]
    notes = ["MACs per image at the listed size; times are wall-clock means on the listed device; "
             "– where not measured (training-free methods have no training step).",
             "MACs count convolutions and matrix products, a transposed convolution on its input pixels "
             "(torch's flop counter). Counters that take its output pixels (thop) give more: CycleGAN's "
             "generator at 256 px is 49.55 G here and 56.80 G that way, hence the 56.89 G of published tables."]
    label = config.get("experiments", {}).get(experiment, {}).get("label", experiment)
    return Table(slug("efficiency", experiment), f"Efficiency — {label}", columns, [Group("", rows)], notes,
                 pd.DataFrame(records))


COUNT_COLUMNS = {"train/hazy": "Train hazy", "train/clear": "Train clear", "val/hazy": "Val hazy",
                 "val/clear": "Val clear", "test/hazy": "Test hazy (scored)",
                 "test/ground_truths": "Test ground truths"}


def manifest_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Rows per split and domain of a manifest, and `test/ground_truths`: the distinct ground truths its hazy
    test images point to (several hazy images may share one)."""
    counts = {f"{split}/{domain}": int(((frame["split"] == split) & (frame["domain"] == domain)).sum())
              for split in ("train", "val", "test") for domain in ("hazy", "clear")}
    hazy = frame[(frame["split"] == "test") & (frame["domain"] == "hazy")]
    counts["test/ground_truths"] = int(hazy.loc[hazy["pair_id"].astype(str) != "", "pair_id"].nunique())
    return counts


def manifest_table(infos: Mapping[str, dict | None], manifests: Mapping[str, pd.DataFrame | None] | None = None,
                   shift_of: Mapping[str, str] | None = None) -> Table:
    """Image counts per dataset, split and domain, with adapter and layout: counted in the manifest itself
    where given (`manifests`), else taken from the sidecar; a sidecar that disagrees is named in a note.
    `shift_of`: shifted test set -> its base, said in a note."""
    keys = list(COUNT_COLUMNS)
    rows, records, split_notes = [], [], []
    for dataset, info in infos.items():
        if info is None:
            cells = [Cell(dataset, None, sub="no manifest found")] + [Cell("–")] * (len(keys) + 3)
            rows.append(Row(dataset, cells, "missing"))
            records.append({"dataset": dataset})
            continue
        sidecar = dict(info.get("counts", {}))
        frame = (manifests or {}).get(dataset)
        counts = manifest_counts(frame) if frame is not None else sidecar
        if frame is not None:
            differ = [f"{k} {sidecar[k]} (manifest: {counts[k]})"
                      for k in sidecar if counts.get(k, sidecar[k]) != sidecar[k]]
            if differ:
                split_notes.append(
                    f"{dataset}: its manifest.json says {', '.join(differ)}; the table counts the manifest.")
            if counts["test/clear"] != counts["test/ground_truths"]:
                split_notes.append(
                    f"{dataset}: {counts['test/clear']} ground-truth files, of which the {counts['test/hazy']} "
                    f"hazy test images use {counts['test/ground_truths']}.")
        warnings = list(info.get("warnings") or [])
        resized = info.get("test_resized") or {}
        if resized.get("count"):
            split_notes.append(
                f"{dataset}: {resized['count']} test images (hazy and ground truth alike) shrunk so the longer "
                f"side is at most {resized.get('max_side')} px ({resized.get('filter')}), into "
                f"{resized.get('folder')}/ beside its manifest; the originals are untouched."
            )
        unpaired = info.get("unpaired")
        if unpaired:  # a paired set made unpaired (ITS, OTS): say how, since the pairing is gone
            split_notes.append(
                f"{dataset}: {unpaired.get('protocol', 'unpaired split')}; {unpaired.get('scenes')} scenes, "
                f"{unpaired.get('clear_scenes')} on the clear side and {unpaired.get('hazy_scenes')} on the "
                f"hazy side (split seed {unpaired.get('seed')})."
            )
        base = (shift_of or {}).get(dataset)
        if base:
            split_notes.append(f"{dataset}: a shift of {base}: its test scenes (the same image ids) under haze no "
                               "method trains on; no training or validation images.")
        if "test/ground_truths" not in counts:  # an older sidecar: its test/clear rows are the ground truths
            counts = {**counts, "test/ground_truths": counts.get("test/clear", 0)}
        cells = [Cell(dataset, None), Cell(str(info.get("adapter", "–")), None),
                 Cell(str(info.get("layout") or "–"), None)]
        cells += [Cell(str(counts.get(k, 0)), float(counts.get(k, 0))) for k in keys]
        cells.append(Cell(str(len(warnings)), float(len(warnings)), tone="worse" if warnings else ""))
        rows.append(Row(dataset, cells))
        records.append({"dataset": dataset, "adapter": info.get("adapter"), "layout": info.get("layout"),
                        **{k: counts.get(k, 0) for k in [*keys, "test/clear"]}, "warnings": len(warnings)})
    columns = [Column("Dataset", numeric=False), Column("Adapter", numeric=False), Column("Layout", numeric=False)]
    columns += [Column(COUNT_COLUMNS[k]) for k in keys] + [Column("Warnings")]
    source = ("Counts from each dataset's manifest.csv (its manifest.json where no manifest is given)"
              if manifests else "Counts from each dataset's manifest.json (written when the dataset was prepared)")
    return Table("datasets", "Datasets", columns, [Group("", rows)],
                 [f"{source}; test ground truths: the distinct clear images the hazy test images point to "
                  "(several may share one).", *split_notes],
                 pd.DataFrame(records))
