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
from cddgan.report.comparisons import MAIN_TABLE, main_reference
from cddgan.report.export import export_table
from cddgan.report.meta import skipped_metric_notices
from cddgan.report.provenance import benchmark_table, provenance
from cddgan.report.published import load_published
from cddgan.report.results import read_manifest_info
from cddgan.report.statstables import (
    HARDWARE_NOTE,
    comparisons_table,
    convergence_table,
    machines_table,
    robustness_table,
)
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
# Tables of results/tables/ the report folder carries as they are (it travels alone: it carries its numbers).
CARRIED_TABLES = ("scores", "comparison", "comparisons", "robustness", "convergence", "validation", "runs")


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
    efficiency, comparisons, runs = tables["efficiency"], tables["comparisons"], tables["runs"]
    for name in CARRIED_TABLES:
        with atomic_path(tables_dir / f"{name}.csv") as tmp:
            tables[name].to_csv(tmp, index=False)
    published = load_published(_published_path(config))
    clean = drop_failed(scores, failures)
    main_runs = plan.main_runs(config)
    references = plan.reference_runs(config)
    grid_runs = [r for r in main_runs if r not in references]
    all_tables: list[Table] = []

    infos = {name: read_manifest_info(layout, name) for name in config.get("datasets", {})}
    reference = main_reference(config)
    results_sections, ablation_sections = [], []
    for experiment, dataset in _test_sets(config):
        shrunk = (infos.get(dataset) or {}).get("test_resized")
        sub = clean[(clean["experiment"] == experiment) & (clean["dataset"] == dataset)]
        sub_rows = rows[(rows["experiment"] == experiment) & (rows["dataset"] == dataset)] if not rows.empty else rows
        exp_label = config["experiments"][experiment].get("label", experiment)
        section = Section(slug("results", experiment, dataset), f"{exp_label}: test set {dataset}")
        section.tables.append(main_table(scores, failures, config, experiment, dataset, published, shrunk, rows))
        paired = comparisons_table(
            comparisons, config, experiment, dataset, MAIN_TABLE,
            f"Paired tests against {plan.label(config, reference)} — test set {dataset}" if reference else "")
        if paired is not None:
            section.tables.append(paired)
        elif reference is None:
            section.intro = ("No paired tests: the config has no main run of the paper's method (method cddgan) "
                             "to compare the others with.")
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
            table = ablation_table(name, spec, scores, failures, config, experiment, dataset, shrunk, rows,
                                   comparisons)
            if table is not None:
                ablation.tables.append(table)
                paired = comparisons_table(comparisons, config, experiment, dataset, name,
                                           f"Paired tests — {table.title}")
                if paired is not None:
                    ablation.tables.append(paired)
        for axis in plots.ablation_axes(config):
            ablation.figures.append(_figure(f"PSNR against {axis}", plots.axis_plot(
                sub, config, axis, "psnr", Path(f"{stem}-{axis}")), out_dir))
        if ablation.tables or ablation.figures:
            ablation_sections.append(ablation)

    efficiency_sections, training_sections, robustness_sections = [], [], []
    for experiment, spec in config.get("experiments", {}).items():
        label = spec.get("label", experiment)
        table = efficiency_table(efficiency, config, experiment)
        if table is not None:
            efficiency_sections.append(Section(slug("efficiency", experiment), f"Efficiency — {label}", [table]))
        robust = robustness_table(tables["robustness"], config, experiment)
        if robust is not None:
            part = tables["robustness"][tables["robustness"]["experiment"] == experiment]
            figure = _figure("Drop under shifted haze, with 95 % intervals", plots.robustness_plot(
                part, config, figures_dir / slug("robustness", experiment)), out_dir, wide=True)
            robustness_sections.append(Section(slug("robustness", experiment), f"Robustness — {label}", [robust],
                                               [figure]))
        training_sections += _training_section(config, experiment, tables, figures_dir, out_dir)

    manifests = {name: _read_manifest_frame(layout, name) for name in config.get("datasets", {})}
    shifts = {name: spec["shift_of"] for name, spec in config.get("datasets", {}).items() if spec.get("shift_of")}
    dataset_section = Section("datasets", "Datasets", [manifest_table(infos, manifests, shifts)])
    machines = machines_table(runs, config)
    jobs = benchmark_table(plan.job_benchmarks(config, layout), layout.benchmarks_dir())
    for section in [*results_sections, *ablation_sections, *robustness_sections, *efficiency_sections,
                    *training_sections, dataset_section]:
        all_tables.extend(section.tables)
    all_tables.extend(t for t in (machines, jobs) if t is not None)
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
        "robustness": robustness_sections,
        "datasets": dataset_section,
        "machines": machines,
        "hardware_note": HARDWARE_NOTE,
        "dataset_warnings": {name: list((info or {}).get("warnings") or []) for name, info in infos.items()},
        "jobs": jobs,
        "exports": {key: {s: str(p.relative_to(out_dir)) for s, p in paths.items()} for key, paths in exports.items()},
        "provenance": provenance(config, Path(results_dir)),
    }
    _copy_static(layout)
    index = out_dir / "index.html"
    write_text(index, _environment().get_template("index.html.j2").render(**context))
    return index


def _training_section(config: Mapping, experiment: str, tables: Mapping[str, pd.DataFrame], figures_dir: Path,
                      out_dir: Path) -> list[Section]:
    """The convergence table, the validation curves of every trained run together, and one figure per run
    (its validation PSNR with the kept iteration starred, and its losses)."""
    losses, validation, runs = tables["losses"], tables["validation"], tables["runs"]
    failures = tables["failures"]
    label = config["experiments"][experiment].get("label", experiment)
    section = Section(slug("training", experiment), f"Training curves — {label}")
    table = convergence_table(tables["convergence"], config, experiment)
    if table is not None:
        section.tables.append(table)

    def of_run(frame: pd.DataFrame, run: str) -> pd.DataFrame:
        if frame.empty:
            return frame
        return frame[(frame["experiment"] == experiment) & (frame["run"] == run)]

    trained = plan.trained_runs(config)
    exp_validation = validation[validation["experiment"] == experiment] if not validation.empty else validation
    if not exp_validation.empty:
        failed = set(failures.loc[failures["experiment"] == experiment, "run"]) if not failures.empty else set()
        section.figures.append(_figure("Validation PSNR of every trained run", plots.validation_plot(
            exp_validation, config, trained, figures_dir / slug("validation", experiment), failed), out_dir,
            wide=True))
    for run in trained:
        info = of_run(runs, run)
        selected = {}
        if not info.empty and "select" in info.columns:
            selected = {int(r.seed): float(r.selected_iteration) for r in info.itertuples()
                        if r.select == "best_val" and pd.notna(r.selected_iteration)}
        result = plots.training_curves(of_run(losses, run).dropna(axis=1, how="all"), plan.label(config, run),
                                       figures_dir / slug("training", experiment, run), of_run(validation, run),
                                       selected)
        section.figures.append(_figure(plan.label(config, run), result, out_dir))
    return [section] if section.figures or section.tables else []


def _read_manifest_frame(layout: Layout, dataset: str) -> pd.DataFrame | None:
    """A dataset's manifest rows (text), to count its images; None when it has no manifest."""
    path = Path(layout.manifest(dataset))
    if not path.is_file():
        return None
    return pd.read_csv(path, dtype=str, keep_default_na=False)


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
