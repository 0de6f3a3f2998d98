"""The report's figures, drawn with seaborn on matplotlib `Figure` objects and saved as PNG and SVG.

No pyplot: figures are created with `matplotlib.figure.Figure`, which renders through the Agg canvas
without touching a GUI backend or global figure state, so building a report on a headless node (or in a
Snakemake job next to others) is safe. seaborn draws (axes-level functions only), pandas shapes the data.
Each function returns the written paths, or a string saying why the figure was skipped.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from cddgan import plan
from cddgan.io import atomic_path
from cddgan.report.meta import metric_meta, order_metrics

STYLE = {"axes.spines.top": False, "axes.spines.right": False, "svg.hashsalt": "cddgan-bench",
         "svg.fonttype": "none", "font.size": 9}
SEED_PALETTE = "colorblind"


@contextlib.contextmanager
def _style() -> Iterator[None]:
    """seaborn's whitegrid look plus our rcParams, restored afterwards (no global theme change)."""
    with sns.axes_style("whitegrid"), mpl.rc_context(STYLE):
        yield


def _figure(n_panels: int, panel_w: float = 3.4, panel_h: float = 2.8, max_cols: int = 4) -> tuple[Figure, list]:
    cols = max(1, min(n_panels, max_cols))
    rows = math.ceil(n_panels / cols)
    fig = Figure(figsize=(panel_w * cols, panel_h * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel().tolist()
    for extra in axes[n_panels:]:
        extra.set_visible(False)
    return fig, axes[:n_panels]


def save_figure(fig: Figure, stem: Path) -> list[Path]:
    """Write stem.png (150 dpi) and stem.svg atomically; return both paths."""
    paths = []
    for suffix, kwargs in ((".png", {"dpi": 150}), (".svg", {})):
        path = stem.with_suffix(suffix)
        with atomic_path(path) as tmp, mpl.rc_context({"svg.hashsalt": STYLE["svg.hashsalt"]}):
            fig.savefig(tmp, format=suffix[1:], bbox_inches="tight", metadata=_metadata(suffix), **kwargs)
        paths.append(path)
    return paths


def _metadata(suffix: str) -> dict:
    # A fixed (empty) date keeps the SVG and PNG byte-identical between rebuilds of the same results.
    return {"Date": None} if suffix == ".svg" else {"Software": "cddgan-bench"}


def _labels(config: Mapping, runs: list[str]) -> dict[str, str]:
    return {run: plan.label(config, run) for run in runs}


def comparison_plot(scores: pd.DataFrame, config: Mapping, runs: list[str], stem: Path) -> list[Path] | str:
    """One panel per metric: each seed's score as a dot, mean ± std over seeds as a bar with caps."""
    data = scores[scores["run"].isin(runs)].copy()
    if data.empty:
        return "no scores to plot"
    labels = _labels(config, runs)
    order = [labels[r] for r in runs if r in set(data["run"])]
    data["method"] = data["run"].map(labels)
    data["seed"] = data["seed"].astype(str)
    metrics = order_metrics(set(data["metric"]))
    with _style():
        fig, axes = _figure(len(metrics))
        for ax, metric in zip(axes, metrics, strict=True):
            meta = metric_meta(metric)
            part = data[data["metric"] == metric]
            sns.pointplot(data=part, x="method", y="value", order=order, errorbar="sd", linestyle="none",
                          color="0.2", marker="_", markersize=14, capsize=0.25, err_kws={"linewidth": 1.2},
                          ax=ax)
            sns.stripplot(data=part, x="method", y="value", order=order, hue="seed", palette=SEED_PALETTE,
                          jitter=0.12, size=5, alpha=0.85, ax=ax, legend=ax is axes[0])
            ax.set_title(meta.header)
            ax.set_xlabel("")
            ax.set_ylabel(meta.display)
            ax.tick_params(axis="x", rotation=30)
            for tick in ax.get_xticklabels():
                tick.set_horizontalalignment("right")
        if axes[0].get_legend() is not None:
            axes[0].get_legend().set_title("seed")
        return save_figure(fig, stem)


def per_image_plot(rows: pd.DataFrame, config: Mapping, runs: list[str], metric: str, stem: Path) -> list[Path] | str:
    """Distribution of a per-image metric per method (all seeds pooled): box plot plus every image."""
    if metric not in rows.columns:
        return f"no per-image {metric} values"
    data = rows[rows["run"].isin(runs)].dropna(subset=[metric]).copy()
    if data.empty:
        return f"no per-image {metric} values"
    labels = _labels(config, runs)
    order = [labels[r] for r in runs if r in set(data["run"])]
    data["method"] = data["run"].map(labels)
    meta = metric_meta(metric)
    with _style():
        fig, (ax,) = _figure(1, panel_w=max(4.0, 0.9 * len(order) + 1.5), panel_h=3.0)
        with warnings.catch_warnings():
            # seaborn 0.13 passes matplotlib 3.11's deprecated `vert`; nothing for us to change.
            warnings.filterwarnings("ignore", message=".*vert.*", category=mpl.MatplotlibDeprecationWarning)
            sns.boxplot(data=data, x="method", y=metric, order=order, color="0.9", fliersize=0, width=0.55, ax=ax)
        sns.stripplot(data=data, x="method", y=metric, order=order, color="tab:blue", size=3, alpha=0.6,
                      jitter=0.15, ax=ax)
        ax.set_xlabel("")
        ax.set_ylabel(meta.header)
        ax.set_title(f"Per-image {meta.display} (all seeds)")
        ax.tick_params(axis="x", rotation=30)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
        return save_figure(fig, stem)


def axis_value(run_spec: Mapping, axis: str) -> float | None:
    """A run's value on an ablation axis, as its method declared it (`Method.ablation_axes`, resolved into
    the run's `facts`): e.g. the number of negatives CDD-GAN contrasts against, 0 without generators."""
    value = ((run_spec.get("facts") or {}).get("ablation_axes") or {}).get(axis)
    return None if value is None else float(value)


def ablation_axes(config: Mapping) -> list[str]:
    """The axes declared by the reference run of some ablation table, in table order."""
    runs = config.get("runs", {})
    axes: dict[str, None] = {}
    for spec in (config.get("ablation_tables") or {}).values():
        reference = runs.get(spec["reference"], {})
        axes.update(dict.fromkeys((reference.get("facts") or {}).get("ablation_axes") or {}))
    return list(axes)


def axis_runs(config: Mapping, axis: str) -> list[str]:
    """Runs of the ablation tables whose reference declares `axis`, each with its value on it."""
    runs = config.get("runs", {})
    out: dict[str, None] = {}
    for spec in (config.get("ablation_tables") or {}).values():
        members = [spec["reference"], *spec.get("rows", [])]
        if axis_value(runs.get(spec["reference"], {}), axis) is None:
            continue
        out.update(dict.fromkeys(r for r in members if r in runs and axis_value(runs[r], axis) is not None))
    return list(out)


def axis_plot(scores: pd.DataFrame, config: Mapping, axis: str, metric: str, stem: Path) -> list[Path] | str:
    """Metric against an ablation axis (e.g. the number of negatives): seeds as dots, the mean as a line."""
    xs = {run: axis_value(config["runs"][run], axis) for run in axis_runs(config, axis)}
    data = scores[(scores["metric"] == metric) & scores["run"].isin(list(xs))]
    data = data.assign(**{axis: data["run"].map(xs)})
    if data[axis].nunique() < 2:
        return (f"skipped: the ablations give fewer than two values of {axis} with {metric} results "
                f"(add runs with other values to see the trend)")
    meta = metric_meta(metric)
    with _style():
        fig, (ax,) = _figure(1, panel_w=4.2, panel_h=3.0)
        means = data.groupby(axis, as_index=False)["value"].mean()
        sns.lineplot(data=means, x=axis, y="value", marker="o", color="0.25", ax=ax, label="mean")
        sns.scatterplot(data=data.assign(seed=data["seed"].astype(str)), x=axis, y="value", hue="seed",
                        palette=SEED_PALETTE, alpha=0.8, ax=ax)
        ax.set_xlabel(axis)
        ax.set_ylabel(meta.header)
        ax.set_xticks(sorted(data[axis].unique()))
        ax.set_title(f"{meta.display} against {axis}")
        return save_figure(fig, stem)


def smooth(values: pd.Series, window: int) -> pd.Series:
    """Centred rolling mean: shows the trend of noisy GAN losses without shifting it in time."""
    return values.rolling(window, center=True, min_periods=1).mean()


def seed_band(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per iteration: the mean over seeds of `column` and its band, the min and max over seeds."""
    band = frame.groupby("iteration")[column].agg(["mean", "min", "max"]).reset_index()
    return band.sort_values("iteration")


BAND_NOTE = "line: mean over seeds; band: min–max over seeds"


def _band(ax: object, band: pd.DataFrame, color: object, label: str) -> None:
    ax.plot(band["iteration"], band["mean"], color=color, linewidth=1.5, label=label)
    ax.fill_between(band["iteration"], band["min"], band["max"], color=color, alpha=0.2, linewidth=0)


def _validation_panel(ax: object, validation: pd.DataFrame, selected: Mapping[int, float] | None,
                      color: object) -> None:
    """Validation PSNR against the iteration (mean and band over seeds), with each seed's kept iteration."""
    _band(ax, seed_band(validation, "psnr"), color, "mean over seeds")
    for seed, iteration in (selected or {}).items():
        point = validation[(validation["seed"] == seed) & (validation["iteration"] == iteration)]
        if not point.empty:
            ax.plot(point["iteration"], point["psnr"], marker="*", markersize=9, color="black", linestyle="none")
    ax.set_title("validation PSNR" + (" (★ kept iteration)" if selected else ""))
    ax.set_xlabel("iteration")
    ax.set_ylabel("PSNR (dB)")


def training_curves(losses: pd.DataFrame, title: str, stem: Path, validation: pd.DataFrame | None = None,
                    selected: Mapping[int, float] | None = None) -> list[Path] | str:
    """The validation PSNR (when the run has a curve) and one panel per logged loss, each the mean over seeds
    with a min–max band (losses smoothed per seed first). `selected`: seed -> the iteration whose weights
    model.pt kept (select: best_val), starred."""
    has_validation = validation is not None and not validation.empty and "psnr" in validation.columns
    loss_columns = [] if losses.empty else [c for c in losses.columns if c not in ("iteration", "time_s", "lr", "seed")]
    loss_columns = [c for c in loss_columns if pd.api.types.is_numeric_dtype(losses[c])]
    if not loss_columns and not has_validation:
        return "no loss log" if losses.empty else "the loss log has no loss columns"
    window = 1
    if loss_columns:
        per_seed = losses.groupby("seed")["iteration"].count().min()
        window = max(1, min(50, int(per_seed) // 10))
    colors = sns.color_palette(SEED_PALETTE, max(1, len(loss_columns)) + 1)
    with _style():
        fig, axes = _figure(len(loss_columns) + has_validation, panel_w=2.6, panel_h=2.2, max_cols=3)
        if has_validation:
            _validation_panel(axes[0], validation, selected, colors[-1])
        for ax, column, color in zip(axes[has_validation:], loss_columns, colors, strict=False):
            ordered = losses.sort_values(["seed", "iteration"])
            smoothed = ordered.assign(value=ordered.groupby("seed")[column].transform(lambda v: smooth(v, window)))
            _band(ax, seed_band(smoothed, "value"), color, "mean over seeds")
            ax.set_title(column)
            ax.set_xlabel("iteration")
        seeds = losses["seed"].nunique() if not losses.empty else validation["seed"].nunique()
        smoothing = "" if window == 1 else f"; losses smoothed over {window} points"
        fig.suptitle(f"{title}: {seeds} seed{'s' if seeds != 1 else ''}, mean and min–max band{smoothing}")
        return save_figure(fig, stem)


def validation_plot(validation: pd.DataFrame, config: Mapping, runs: list[str], stem: Path,
                    failed: Collection[str] = ()) -> list[Path] | str:
    """Validation PSNR against the iteration of every trained run on one axis: mean over seeds, min–max band;
    the curves of `failed` runs (a seed diverged) dashed and labelled so."""
    if validation.empty or "psnr" not in validation.columns:
        return "no validation curves (training.eval_every is 0, or the runs predate validation)"
    data = validation[validation["run"].isin(runs)].dropna(subset=["psnr"])
    shown = [r for r in runs if r in set(data["run"])]
    if not shown:
        return "no validation curves for these runs"
    palette = sns.color_palette(SEED_PALETTE, len(shown))
    with _style():
        fig, (ax,) = _figure(1, panel_w=5.2, panel_h=3.4)
        for run, color in zip(shown, palette, strict=True):
            label = plan.label(config, run) + (" (FAILED)" if run in failed else "")
            _band(ax, seed_band(data[data["run"] == run], "psnr"), color, label)
            if run in failed:
                ax.lines[-1].set_linestyle("--")
        ax.set_xlabel("iteration")
        ax.set_ylabel("validation PSNR (dB)")
        ax.set_title(f"Validation PSNR ({BAND_NOTE})")
        ax.legend(fontsize=7)
        return save_figure(fig, stem)


def robustness_plot(robustness: pd.DataFrame, config: Mapping, stem: Path) -> list[Path] | str:
    """One panel per shifted test set and metric: each run's drop (in-distribution minus shifted score) with
    its 95 % interval."""
    if robustness.empty:
        return "no shifted test sets"
    panels = list(dict.fromkeys(zip(robustness["shift"], robustness["metric"], strict=True)))
    with _style():
        fig, axes = _figure(len(panels), panel_w=3.8, panel_h=0.35 * robustness["run"].nunique() + 1.2)
        for ax, (shift, metric) in zip(axes, panels, strict=True):
            part = robustness[(robustness["shift"] == shift) & (robustness["metric"] == metric)]
            labels = [plan.label(config, r) for r in part["run"]]
            y = np.arange(len(part))[::-1]
            for y_pos, row in zip(y, part.itertuples(), strict=True):  # the hazy input (a reference) in grey
                ax.errorbar(row.drop, y_pos, xerr=[[row.drop - row.ci_low], [row.ci_high - row.drop]], fmt="o",
                            color="0.55" if row.reference_floor else "tab:blue", capsize=3)
            ax.axvline(0, color="0.3", linewidth=0.8)
            ax.set_yticks(y, labels)
            meta = metric_meta(metric)
            ax.set_xlabel(f"drop in {meta.display} (in distribution − shifted)")
            ax.set_title(f"{shift} (of {part['base'].iloc[0]})")
        return save_figure(fig, stem)


def efficiency_plot(
    scores: pd.DataFrame, efficiency: pd.DataFrame, config: Mapping, runs: list[str], metric: str, stem: Path
) -> list[Path] | str:
    """Mean metric against GMACs per image, one labelled point per run."""
    means = scores[(scores["metric"] == metric) & scores["run"].isin(runs)].groupby("run")["value"].mean()
    eff = efficiency.set_index("run")["macs"] if not efficiency.empty else pd.Series(dtype=float)
    joined = pd.DataFrame({"value": means, "gmacs": pd.to_numeric(eff, errors="coerce") / 1e9}).dropna()
    if len(joined) < 1:
        return f"skipped: no run has both a MACs measurement and {metric} results"
    labels = _labels(config, list(joined.index))
    meta = metric_meta(metric)
    with _style():
        fig, (ax,) = _figure(1, panel_w=4.4, panel_h=3.2)
        sns.scatterplot(data=joined, x="gmacs", y="value", s=50, color="tab:blue", ax=ax)
        for run, point in joined.iterrows():
            ax.annotate(labels[run], (point["gmacs"], point["value"]), textcoords="offset points",
                        xytext=(5, 4), fontsize=8)
        ax.set_xlabel("GMACs per image")
        ax.set_ylabel(meta.header)
        ax.set_title(f"{meta.display} against compute")
        return save_figure(fig, stem)
