"""Build the self-contained HTML report: tables (pandas), figures (seaborn), images, provenance (jinja2).

`build_report` writes everything under one folder (index.html, tables/, figures/, images/, static/) with
relative links and no network access, so the folder can be zipped, mailed and opened from file://.
The page's only scripts are our own static/report.js (sortable tables, before/after slider).
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd

from cddgan import plan
from cddgan.io import atomic_path, write_text
from cddgan.layout import Layout
from cddgan.report import plots
from cddgan.report.aggregate import read_tables
from cddgan.report.export import export_table
from cddgan.report.meta import skipped_metric_notices
from cddgan.report.provenance import benchmark_table, provenance
from cddgan.report.published import load_published
from cddgan.report.results import read_manifest_info
from cddgan.report.tables import (
    Table,
    ablation_table,
    drop_failed,
    efficiency_table,
    main_table,
    manifest_table,
    slug,
)
from cddgan.report.visuals import VisualSet, visual_set

STATIC_FILES = ("report.css", "report.js")


@dataclass
class Figure:
    """A figure in the page: its PNG (shown) and SVG (linked), or why it was skipped."""

    title: str
    png: str = ""
    svg: str = ""
    note: str = ""
    wide: bool = False  # spans the whole row (figures with one panel per metric)


@dataclass
class Section:
    """One block of the page with an anchor for the table of contents."""

    id: str
    title: str
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    visual: VisualSet | None = None
    intro: str = ""


def _figure(title: str, result: list[Path] | str, out_dir: Path, wide: bool = False) -> Figure:
    if isinstance(result, str):
        return Figure(title, note=result, wide=wide)
    png, svg = (str(p.relative_to(out_dir)) for p in result)
    return Figure(title, png=png, svg=svg, wide=wide)


def _test_sets(config: Mapping) -> list[tuple[str, str]]:
    return [(exp, ds) for exp, spec in config.get("experiments", {}).items() for ds in spec.get("test", [])]


def _published_path(config: Mapping) -> Path | None:
    """The published-numbers file: a relative path is the working folder's, else the shipped one."""
    from cddgan.config import locate

    value = config.get("published")
    return None if not value else locate(value)


def build_report(config: Mapping, results_dir: Path, out_dir: Path) -> Path:
    """Render out_dir/index.html plus out_dir/tables/*.{csv,md,tex}, out_dir/figures/*.{png,svg},
    out_dir/images/*; returns the index path. The folder is self-contained (zip and mail it).

    Numbers come only from the tables the aggregate job wrote for `config` (results/tables/, beside the
    config snapshot it describes); images and dataset facts from the files `cddgan.plan` names."""
    out_dir = Path(out_dir)
    layout = Layout(str(results_dir), str(out_dir))
    tables_dir, figures_dir = Path(layout.report_folder("tables")), Path(layout.report_folder("figures"))
    tables = read_tables(layout)
    scores, rows, failures = tables["scores"], tables["per_image"], tables["failures"]
    efficiency, losses = tables["efficiency"], tables["losses"]
    for name in ("scores", "comparison"):  # the report folder travels alone: it carries its numbers
        with atomic_path(tables_dir / f"{name}.csv") as tmp:
            tables[name].to_csv(tmp, index=False)
    published = load_published(_published_path(config))
    clean = drop_failed(scores, failures)
    main_runs = plan.main_runs(config)
    references = plan.reference_runs(config)
    grid_runs = [r for r in main_runs if r not in references]
    all_tables: list[Table] = []

    infos = {name: read_manifest_info(layout, name) for name in config.get("datasets", {})}
    results_sections, ablation_sections = [], []
    for experiment, dataset in _test_sets(config):
        shrunk = (infos.get(dataset) or {}).get("test_resized")
        sub = clean[(clean["experiment"] == experiment) & (clean["dataset"] == dataset)]
        sub_rows = rows[(rows["experiment"] == experiment) & (rows["dataset"] == dataset)] if not rows.empty else rows
        exp_label = config["experiments"][experiment].get("label", experiment)
        section = Section(slug("results", experiment, dataset), f"{exp_label}: test set {dataset}")
        section.tables.append(main_table(scores, failures, config, experiment, dataset, published, shrunk))
        stem = figures_dir / slug(experiment, dataset)
        section.figures.append(_figure("Scores per seed (dots) with mean ± std",
                                       plots.comparison_plot(sub, config, main_runs, Path(f"{stem}-comparison")),
                                       out_dir, wide=True))
        section.figures.append(_figure("Per-image PSNR", plots.per_image_plot(
            sub_rows, config, main_runs, "psnr", Path(f"{stem}-per-image-psnr")), out_dir))
        exp_eff = efficiency[efficiency["experiment"] == experiment]
        section.figures.append(_figure("PSNR against compute", plots.efficiency_plot(
            sub, exp_eff, config, main_runs, "psnr", Path(f"{stem}-efficiency")), out_dir))
        section.visual = visual_set(config, layout, experiment, dataset, grid_runs, rows, failures,
                                    slider_run=grid_runs[-1] if grid_runs else None,
                                    hazy_run=references[0] if references else None)
        results_sections.append(section)

        ablation = Section(slug("ablations", experiment, dataset), f"Ablations — {exp_label}: test set {dataset}")
        for name, spec in (config.get("ablation_tables") or {}).items():
            table = ablation_table(name, spec, scores, failures, config, experiment, dataset, shrunk)
            if table is not None:
                ablation.tables.append(table)
        for axis in plots.ablation_axes(config):
            ablation.figures.append(_figure(f"PSNR against {axis}", plots.axis_plot(
                sub, config, axis, "psnr", Path(f"{stem}-{axis}")), out_dir))
        if ablation.tables or ablation.figures:
            ablation_sections.append(ablation)

    efficiency_sections, training_sections = [], []
    for experiment, spec in config.get("experiments", {}).items():
        label = spec.get("label", experiment)
        table = efficiency_table(efficiency, config, experiment)
        if table is not None:
            efficiency_sections.append(Section(slug("efficiency", experiment), f"Efficiency — {label}", [table]))
        training = Section(slug("training", experiment), f"Training curves — {label}")
        for run in plan.trained_runs(config):
            run_losses = losses[(losses["experiment"] == experiment) & (losses["run"] == run)] \
                if not losses.empty else losses
            result = plots.training_curves(run_losses.dropna(axis=1, how="all"), plan.label(config, run),
                                           figures_dir / slug("training", experiment, run))
            training.figures.append(_figure(plan.label(config, run), result, out_dir))
        if training.figures:
            training_sections.append(training)

    dataset_section = Section("datasets", "Datasets", [manifest_table(infos)])
    jobs = benchmark_table(plan.job_benchmarks(config, layout), layout.benchmarks_dir())
    for section in [*results_sections, *ablation_sections, *efficiency_sections, dataset_section]:
        all_tables.extend(section.tables)
    if jobs is not None:
        all_tables.append(jobs)
    exports = {table.id: export_table(table, tables_dir) for table in all_tables}

    context = {
        "title": config.get("title", "cddgan-bench"),
        "summary": _summary(config, scores, failures),
        "notices": skipped_metric_notices(config.get("metrics")),
        "failures": failures.to_dict("records"),
        "results": results_sections,
        "ablations": ablation_sections,
        "efficiency": efficiency_sections,
        "training": training_sections,
        "datasets": dataset_section,
        "dataset_warnings": {name: list((info or {}).get("warnings") or []) for name, info in infos.items()},
        "jobs": jobs,
        "exports": {key: {s: str(p.relative_to(out_dir)) for s, p in paths.items()} for key, paths in exports.items()},
        "provenance": provenance(config, Path(results_dir)),
    }
    _copy_static(layout)
    index = out_dir / "index.html"
    write_text(index, _environment().get_template("index.html.j2").render(**context))
    return index


def _summary(config: Mapping, scores: pd.DataFrame, failures: pd.DataFrame) -> dict:
    runs = config.get("runs", {})
    ablation_runs = [r for r in runs if "ablation" in runs[r]]
    return {
        "experiments": [(spec.get("label", name), spec.get("train"), list(spec.get("test", [])))
                        for name, spec in config.get("experiments", {}).items()],
        "main_runs": [plan.label(config, r) for r in plan.main_runs(config)],
        "ablation_runs": len(ablation_runs),
        "seeds": sorted({int(s) for spec in runs.values() for s in spec.get("seeds", [])}),
        "evaluated": int(scores[["experiment", "run", "seed"]].drop_duplicates().shape[0]) if not scores.empty else 0,
        "failed": len(failures),
    }


def _environment() -> jinja2.Environment:
    loader = jinja2.PackageLoader("cddgan.report", "templates")
    env = jinja2.Environment(loader=loader, autoescape=jinja2.select_autoescape(["html", "j2"]),
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    return env


def _copy_static(layout: Layout) -> None:
    static = importlib.resources.files("cddgan.report") / "static"
    for name in STATIC_FILES:
        with atomic_path(layout.report_file("static", name)) as tmp:
            tmp.write_bytes((static / name).read_bytes())
