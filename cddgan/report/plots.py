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
from collections.abc import Iterator, Mapping
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

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
    return {run: str(config.get("runs", {}).get(run, {}).get("label", run)) for run in runs}


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


def negatives_x(run_spec: Mapping) -> float | None:
    """Number of negatives of a run: 0 when negative generators are off, else settings.num_negatives."""
    settings = run_spec.get("settings", {}) or {}
    if settings.get("neg_generators") is False:
        return 0.0
    value = settings.get("num_negatives")
    return None if value is None else float(value)


def negatives_runs(config: Mapping) -> list[str]:
    """Runs of the negatives ablation (the table named ``negatives`` if any) with their reference run."""
    tables = config.get("ablation_tables", {}) or {}
    candidates = [tables["negatives"]] if "negatives" in tables else list(tables.values())
    for spec in candidates:
        runs = [spec["reference"], *spec.get("rows", [])]
        xs = {negatives_x(config["runs"][r]) for r in runs if r in config.get("runs", {})} - {None}
        if len(xs) >= 2 or "negatives" in tables:
            return [r for r in runs if r in config.get("runs", {})]
    return []


def negatives_plot(scores: pd.DataFrame, config: Mapping, metric: str, stem: Path) -> list[Path] | str:
    """Metric against the number of negatives (0 = no negative generators): seeds as dots, mean as a line."""
    runs = negatives_runs(config)
    xs = {run: negatives_x(config["runs"][run]) for run in runs}
    data = scores[(scores["metric"] == metric) & scores["run"].isin([r for r, x in xs.items() if x is not None])]
    data = data.assign(negatives=data["run"].map(xs))
    if data["negatives"].nunique() < 2:
        return (f"skipped: the negatives ablation gives fewer than two numbers of negatives with {metric} "
                "results (add runs with other `num_negatives` to see the trend)")
    meta = metric_meta(metric)
    with _style():
        fig, (ax,) = _figure(1, panel_w=4.2, panel_h=3.0)
        means = data.groupby("negatives", as_index=False)["value"].mean()
        sns.lineplot(data=means, x="negatives", y="value", marker="o", color="0.25", ax=ax, label="mean")
        sns.scatterplot(data=data.assign(seed=data["seed"].astype(str)), x="negatives", y="value", hue="seed",
                        palette=SEED_PALETTE, alpha=0.8, ax=ax)
        ax.set_xlabel("number of negatives (0: no negative generators)")
        ax.set_ylabel(meta.header)
        ax.set_xticks(sorted(data["negatives"].unique()))
        ax.set_title(f"{meta.display} against the number of negatives")
        return save_figure(fig, stem)


def smooth(values: pd.Series, window: int) -> pd.Series:
    """Centred rolling mean: shows the trend of noisy GAN losses without shifting it in time."""
    return values.rolling(window, center=True, min_periods=1).mean()


def training_curves(losses: pd.DataFrame, title: str, stem: Path) -> list[Path] | str:
    """One panel per logged loss, one smoothed line per seed (raw values faint behind)."""
    if losses.empty:
        return "no loss log"
    loss_columns = [c for c in losses.columns if c not in ("iteration", "time_s", "lr", "seed")]
    loss_columns = [c for c in loss_columns if pd.api.types.is_numeric_dtype(losses[c])]
    if not loss_columns:
        return "the loss log has no loss columns"
    per_seed = losses.groupby("seed")["iteration"].count().min()
    window = max(1, min(50, int(per_seed) // 10))
    seeds = sorted(losses["seed"].unique())
    palette = dict(zip(seeds, sns.color_palette(SEED_PALETTE, len(seeds)), strict=True))
    with _style():
        fig, axes = _figure(len(loss_columns), panel_w=2.6, panel_h=2.2, max_cols=3)
        for ax, column in zip(axes, loss_columns, strict=True):
            for seed in seeds:
                part = losses[losses["seed"] == seed].sort_values("iteration")
                ax.plot(part["iteration"], part[column], color=palette[seed], alpha=0.2, linewidth=0.8)
                ax.plot(part["iteration"], smooth(part[column], window), color=palette[seed], linewidth=1.5,
                        label=f"seed {seed}")
            ax.set_title(column)
            ax.set_xlabel("iteration")
        axes[0].legend(fontsize=7)
        fig.suptitle(title if window == 1 else f"{title} (solid: rolling mean over {window} logged points)")
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
