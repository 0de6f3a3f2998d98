"""Aggregation, tables, exports, published rows, failed runs and the built report folder."""

from __future__ import annotations

import csv
import math
import re
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from report_fixtures import DATASET_WARNING, EXPERIMENT, FAILED_RUN, FAILURE_MESSAGE, LEVELS, make_results

from cddgan import plan
from cddgan.errors import ConfigError, HarnessError
from cddgan.layout import Layout
from cddgan.report import aggregate, build_report, load_published
from cddgan.report.aggregate import write_tables
from cddgan.report.export import to_latex, to_markdown
from cddgan.report.meta import MetricMeta, metric_meta
from cddgan.report.plots import axis_plot, axis_value
from cddgan.report.provenance import extra_rules, git_info, read_benchmarks
from cddgan.report.results import read_failures as read_failures_of
from cddgan.report.tables import ablation_table, main_table, rank_marks
from cddgan.report.visuals import downscale, pick_images, zoom_box

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The fixture results and the report built from them (built once: it takes a few seconds)."""
    root = tmp_path_factory.mktemp("report")
    config, results = make_results(root)
    index = build_report(config, results, root / "report")
    return config, results, index


@pytest.fixture()
def fresh(tmp_path):
    return make_results(tmp_path)


def _config(results: Path) -> dict:
    return yaml.safe_load((results / "config.resolved.yaml").read_text())


def metric_files(results: Path) -> list[str]:
    """The metric files of the fixture's config (as the aggregate job reads them)."""
    config = _config(results)
    return plan.metric_files(config, Layout.of(config))


def read_failures(results: Path) -> pd.DataFrame:
    config = _config(results)
    return read_failures_of(config, Layout.of(config))


def negatives_x(run_spec: dict) -> float | None:
    return axis_value(run_spec, "negatives")


def negatives_plot(scores: pd.DataFrame, config: dict, metric: str, stem: Path):
    return axis_plot(scores, config, "negatives", metric, stem)


def _scores(results: Path, tmp: Path) -> pd.DataFrame:
    scores, _ = aggregate(metric_files(results), tmp / "tables")
    return scores


def _cells(table, run: str) -> list:
    return next(row.cells for row in table.rows() if row.key == run)


def _column(table, header_start: str) -> int:
    return next(i for i, c in enumerate(table.columns) if c.name.startswith(header_start))


# --------------------------------------------------------------------------------------------- aggregation


def test_aggregate_matches_hand_computation(fresh, tmp_path):
    _, results = fresh
    # Independent reading: the csv module and plain Python/numpy, no pandas groupby.
    per_seed: dict[tuple, list[float]] = defaultdict(list)
    for path in sorted(results.glob("metrics/*/*/seed*/*.csv")):
        with path.open() as handle:
            for row in csv.DictReader(handle):
                for metric in ("psnr", "ssim", "ciede2000"):
                    key = (row["experiment"], row["dataset"], row["run"], int(row["seed"]), metric)
                    per_seed[key].append(float(row[metric]))
    scores, comparison = aggregate(metric_files(results), tmp_path / "tables")

    assert len(scores) == len(per_seed)
    for key, values in per_seed.items():
        exp, ds, run, seed, metric = key
        got = scores[(scores["experiment"] == exp) & (scores["dataset"] == ds) & (scores["run"] == run)
                     & (scores["seed"] == seed) & (scores["metric"] == metric)]
        assert got["value"].item() == pytest.approx(np.mean(values), rel=1e-12)
        assert got["n_images"].item() == len(values)

    by_run: dict[tuple, list[float]] = defaultdict(list)
    for (exp, ds, run, _seed, metric), values in per_seed.items():
        by_run[(exp, ds, run, metric)].append(float(np.mean(values)))
    assert len(comparison) == len(by_run)
    on_disk = pd.read_csv(tmp_path / "tables" / "comparison.csv")
    for frame in (comparison, on_disk):
        for (exp, ds, run, metric), means in by_run.items():
            got = frame[(frame["experiment"] == exp) & (frame["dataset"] == ds) & (frame["run"] == run)
                        & (frame["metric"] == metric)]
            assert got["mean"].item() == pytest.approx(np.mean(means), rel=1e-12)
            assert got["n_seeds"].item() == len(means)
            if len(means) > 1:
                assert got["std"].item() == pytest.approx(np.std(means, ddof=1), rel=1e-9)
            else:
                assert math.isnan(got["std"].item())  # one seed: undefined, not 0
    assert set(on_disk["protocol"]) == {"rgb-ds-crop0"}
    assert (tmp_path / "tables" / "scores.csv").is_file()


def test_aggregate_skips_non_finite_values_and_counts_images(tmp_path):
    path = tmp_path / "m.csv"
    pd.DataFrame({
        "experiment": ["e"] * 3, "dataset": ["d"] * 3, "run": ["r"] * 3, "seed": [0] * 3,
        "image_id": ["a", "b", "c"], "protocol": ["p"] * 3, "psnr": [10.0, np.nan, 20.0], "fade": [1.0, 2.0, 3.0],
    }).to_csv(path, index=False)
    scores, _ = aggregate([path], tmp_path / "out")
    psnr = scores[scores["metric"] == "psnr"]
    assert psnr["value"].item() == 15.0
    assert psnr["n_images"].item() == 2
    assert scores[scores["metric"] == "fade"]["n_images"].item() == 3


def test_aggregate_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"run": ["r"], "psnr": [1.0]}).to_csv(bad, index=False)
    with pytest.raises(HarnessError, match=r"bad\.csv.*lacks columns"):
        aggregate([bad], tmp_path / "out")
    text = tmp_path / "text.csv"
    pd.DataFrame({"experiment": ["e"], "dataset": ["d"], "run": ["r"], "seed": [0], "image_id": ["a"],
                  "protocol": ["p"], "psnr": ["high"]}).to_csv(text, index=False)
    with pytest.raises(HarnessError, match=r"text\.csv.*'psnr' is not numeric"):
        aggregate([text], tmp_path / "out")
    with pytest.raises(HarnessError, match=r"missing\.csv"):
        aggregate([tmp_path / "missing.csv"], tmp_path / "out")


def test_files_of_a_dropped_seed_never_reach_a_table_count_or_figure(tmp_path):
    """Snakemake never deletes the outputs of jobs that left the DAG. With CUT's metric files, loss log and
    a failure record for seeds 2 and 3 on disk but `seeds: [0, 1]` in the config, every table, count and
    figure shows two seeds (the report used to glob results/ and showed three)."""
    config, results = make_results(tmp_path)
    layout = Layout.of(config)
    assert config["runs"]["cut"]["seeds"] == [0, 1]
    stale = pd.read_csv(layout.metrics(EXPERIMENT, "cut", 0, "synthetic")).assign(seed=2, psnr=99.0)
    Path(layout.metrics(EXPERIMENT, "cut", 2, "synthetic")).parent.mkdir(parents=True)
    stale.to_csv(layout.metrics(EXPERIMENT, "cut", 2, "synthetic"), index=False)
    Path(layout.losses(EXPERIMENT, "cut", 2)).parent.mkdir(parents=True)
    pd.read_csv(layout.losses(EXPERIMENT, "cut", 0)).to_csv(layout.losses(EXPERIMENT, "cut", 2), index=False)
    stale_failure = Path(layout.failed_marker(EXPERIMENT, "cut", 3, "synthetic"))
    stale_failure.parent.mkdir(parents=True)
    stale_failure.write_text("an old failure\n")

    tables = write_tables(config, layout, yaml.safe_dump(config))
    index = build_report(config, results, tmp_path / "report")
    comparison = tables["comparison"]
    cut = comparison[(comparison["run"] == "cut") & (comparison["dataset"] == "synthetic")]
    assert set(cut["n_seeds"]) == {2}
    assert cut[cut["metric"] == "psnr"]["mean"].item() < 30
    assert set(tables["scores"]["seed"]) == {0, 1} and set(tables["losses"]["seed"]) == {0, 1}
    assert "an old failure" not in tables["failures"]["message"].to_list()
    main = pd.read_csv(index.parent / "tables" / f"main-{EXPERIMENT}-synthetic.csv")
    row = main[main["run"] == "cut"].iloc[0]
    assert row["n_seeds"] == 2 and row["psnr_mean"] == pytest.approx(cut[cut["metric"] == "psnr"]["mean"].item())
    html = index.read_text()
    assert "an old failure" not in html and "99.00" not in html
    assert not list((index.parent / "images").glob("*seed2*"))


# --------------------------------------------------------------------------------------------- tables


def test_best_and_second_follow_each_metrics_direction(fresh, tmp_path):
    config, results = fresh
    table = main_table(_scores(results, tmp_path), read_failures(results), config, EXPERIMENT, "synthetic")
    expected = {}
    for index, metric in enumerate(("psnr", "ssim", "ciede2000")):
        higher = metric_meta(metric).higher_is_better
        ranked = sorted(["identity", "cut", "cddgan"], key=lambda r: LEVELS[r][index], reverse=higher)
        expected[metric] = {ranked[0]: "best", ranked[1]: "second", ranked[2]: "", FAILED_RUN: ""}
    # The fixture is built so that the directions disagree: cddgan leads PSNR, cut leads CIEDE2000.
    assert expected["psnr"]["cddgan"] == "best" and expected["ciede2000"]["cut"] == "best"
    for metric, marks in expected.items():
        col = _column(table, metric_meta(metric).display)
        for run, mark in marks.items():
            assert _cells(table, run)[col].mark == mark, (metric, run)


def test_rank_marks_ties_and_unknown_direction():
    up = MetricMeta("x", "X", True, 2)
    assert rank_marks({"a": 1.004, "b": 1.001, "c": 0.5, "d": 0.2}, up) == {"a": "best", "b": "best", "c": "second"}
    down = MetricMeta("y", "Y", False, 1)
    assert rank_marks({"a": 3.0, "b": 1.0, "c": 2.0}, down) == {"b": "best", "c": "second"}
    assert rank_marks({"a": 3.0, "b": 1.0}, MetricMeta("z", "Z", None, 1)) == {}


def test_failed_run_is_a_failed_row(fresh, tmp_path):
    config, results = fresh
    table = main_table(_scores(results, tmp_path), read_failures(results), config, EXPERIMENT, "synthetic")
    row = next(r for r in table.rows() if r.key == FAILED_RUN)
    assert row.status == "failed"
    assert FAILURE_MESSAGE in row.cells[0].sub
    assert [c.text for c in row.cells[2:]] == ["FAILED"] * 3
    record = table.frame[table.frame["run"] == FAILED_RUN].iloc[0]
    assert record["status"] == "failed" and FAILURE_MESSAGE in record["message"]


def test_a_failed_seed_is_left_out_of_the_mean_and_the_ranking(fresh, tmp_path):
    config, results = fresh
    status = Path(Layout.of(config).failed_marker(EXPERIMENT, "cut", 1, "synthetic"))  # the run's status
    status.write_text("diverged\n")
    scores = _scores(results, tmp_path)
    table = main_table(scores, read_failures(results), config, EXPERIMENT, "synthetic")
    row = next(r for r in table.rows() if r.key == "cut")
    assert row.status == "partial"
    assert "FAILED seed 1: diverged" in row.cells[0].sub
    seed0 = scores[(scores["run"] == "cut") & (scores["seed"] == 0) & (scores["dataset"] == "synthetic")
                   & (scores["metric"] == "psnr")]["value"].item()
    col = _column(table, "PSNR")
    assert row.cells[col].sort == pytest.approx(seed0)
    assert row.cells[col].mark == ""  # incomplete runs are not ranked
    assert _cells(table, "identity")[col].mark == "second"


def test_ablation_deltas_and_their_tone(fresh, tmp_path):
    config, results = fresh
    scores = _scores(results, tmp_path)
    spec = config["ablation_tables"]["negatives"]
    table = ablation_table("negatives", spec, scores, read_failures(results), config, EXPERIMENT, "synthetic")
    assert [r.key for r in table.rows()] == ["cddgan", "cddgan-no-neggen", "cddgan-k64"]
    sub = scores[scores["dataset"] == "synthetic"]
    for metric in ("psnr", "ssim", "ciede2000"):
        meta = metric_meta(metric)
        col = _column(table, f"Δ {meta.display}")
        ref = sub[(sub["run"] == "cddgan") & (sub["metric"] == metric)]["value"].mean()
        for run in spec["rows"]:
            mean = sub[(sub["run"] == run) & (sub["metric"] == metric)]["value"].mean()
            cell = _cells(table, run)[col]
            assert cell.sort == pytest.approx(mean - ref)
            assert cell.text == f"{round(mean - ref, meta.digits):+.{meta.digits}f}"
            # Every variant of the fixture is worse than the full model, whichever the direction.
            assert cell.tone == "worse"
        assert _cells(table, "cddgan")[col].text == "ref"
    # Make one variant better in PSNR (up) and CIEDE2000 (down): the tone flips to "better".
    better = scores.copy()
    k64 = better["run"] == "cddgan-k64"
    better.loc[k64 & (better["metric"] == "psnr"), "value"] += 10
    better.loc[k64 & (better["metric"] == "ciede2000"), "value"] -= 5
    table = ablation_table("negatives", spec, better, read_failures(results), config, EXPERIMENT, "synthetic")
    assert _cells(table, "cddgan-k64")[_column(table, "Δ PSNR")].tone == "better"
    assert _cells(table, "cddgan-k64")[_column(table, "Δ CIEDE2000")].tone == "better"
    assert _cells(table, "cddgan-k64")[_column(table, "Δ SSIM")].tone == "worse"


def test_published_rows_only_under_their_test_set(fresh, tmp_path):
    config, results = fresh
    scores, failures = _scores(results, tmp_path), read_failures(results)
    published = load_published(config["published"])
    indoor = main_table(scores, failures, config, EXPERIMENT, "sots-indoor", published)
    synthetic = main_table(scores, failures, config, EXPERIMENT, "synthetic", published)
    expected = published[published["dataset"] == "sots-indoor"]
    rows = [r for r in indoor.rows() if r.status == "published"]
    assert len(rows) == len(expected) > 0
    col = _column(indoor, "PSNR")
    assert [r.cells[col].sort for r in rows] == expected["psnr"].tolist()
    assert all(r.cells[col].mark == "" for r in rows)  # published numbers are not ranked
    assert indoor.groups[1].label.startswith("Published — D4")
    assert not [r for r in synthetic.rows() if r.status == "published"]
    assert len(synthetic.groups) == 1


def test_exports_show_the_marks(fresh, tmp_path):
    config, results = fresh
    table = main_table(_scores(results, tmp_path), read_failures(results), config, EXPERIMENT, "sots-indoor",
                       load_published(config["published"]))
    latex = to_latex(table)
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        assert rule in latex
    cddgan_line = next(line for line in latex.splitlines() if line.startswith("CDD-GAN &"))
    cut_line = next(line for line in latex.splitlines() if line.startswith("CUT &"))
    psnr, ciede = cddgan_line.split(" & ")[2], cddgan_line.split(" & ")[4]
    assert psnr.startswith("\\textbf{") and ciede.startswith("\\underline{")
    assert cut_line.split(" & ")[4].startswith("\\textbf{")
    assert "\\emph{Published" in latex
    markdown = to_markdown(table)
    assert re.search(r"\| CDD-GAN \| 2 \| \*\*\d", markdown)


# --------------------------------------------------------------------------------------------- published.yaml


def test_published_yaml_matches_the_paper_table():
    frame = load_published(REPO / "config" / "published.yaml")
    assert len(frame) == 33
    assert set(frame["dataset"]) == {"sots-indoor", "sots-outdoor", "i-haze"}
    assert frame["source"].str.contains("D4").all()
    source = REPO / "docs" / "protocol.md"  # D4's Table 1, restated with its source
    lines = [line for line in source.read_text().splitlines() if line.startswith(("| paired", "| unpaired"))]
    assert len(lines) == 11
    for line in lines:
        if not line.startswith(("| paired", "| unpaired")):
            continue
        group, method, *sets, params, gmacs = [c.strip() for c in line.strip("| \n").split("|")]
        for dataset, text in zip(("sots-indoor", "sots-outdoor", "i-haze"), sets, strict=True):
            row = frame[(frame["method"] == method) & (frame["dataset"] == dataset)].iloc[0]
            assert row["group"] == group
            assert [row["psnr"], row["ssim"], row["ciede2000"]] == [float(v) for v in text.split("/")]
            for key, value in (("params_m", params), ("gmacs", gmacs)):
                assert math.isnan(row[key]) if value == "-" else row[key] == float(value)


@pytest.mark.parametrize(
    ("rows", "pattern"),
    [
        ("- {method: A, dataset: d, psnr: 1}\n", r"row 0: missing key 'source'"),
        ("- {source: s, method: A, dataset: d}\n- {source: s, method: B, dataset: d, pnsr: 20}\n",
         r"row 1: unknown key 'pnsr'"),
        ("- {source: s, method: A, dataset: d, ssim: high}\n", r"row 0: key 'ssim' must be a number"),
        ("- {source: s, method: A, dataset: d, group: semi}\n", r"row 0: key 'group' is 'semi'"),
        ("- {source: s, method: A}\n", r"row 0: missing key 'dataset'"),
        ("rows: {a: 1}\n", r"expected a list of rows"),
    ],
)
def test_load_published_errors_name_row_and_key(tmp_path, rows, pattern):
    path = tmp_path / "published.yaml"
    path.write_text(rows)
    with pytest.raises(ConfigError, match=pattern) as info:
        load_published(path)
    assert str(path) in str(info.value)


def test_load_published_none_and_missing_file(tmp_path):
    assert load_published(None).empty
    with pytest.raises(ConfigError, match="not found"):
        load_published(tmp_path / "nope.yaml")


# --------------------------------------------------------------------------------------------- the report


def test_report_folder_is_complete_and_self_contained(built):
    _, _, index = built
    out = index.parent
    html = index.read_text()
    links = re.findall(r'(?:src|href)="([^"#][^"]*)"', html)
    assert links
    for link in links:
        assert not re.match(r"^[a-z]+://", link), f"absolute link {link}"
        if link.startswith("data:"):
            continue
        assert (out / link).is_file(), f"broken link {link}"
    for name in ("comparison.csv", "scores.csv"):
        assert (out / "tables" / name).is_file()
    ids = re.findall(r'<table class="sortable" id="([^"]+)"', html)
    assert {f"main-{EXPERIMENT}-synthetic", f"main-{EXPERIMENT}-sots-indoor", "datasets", "jobs"} <= set(ids)
    for table_id in ids:
        frame = pd.read_csv(out / "tables" / f"{table_id}.csv")
        assert not frame.empty
        assert "\\toprule" in (out / "tables" / f"{table_id}.tex").read_text()
        assert (out / "tables" / f"{table_id}.md").read_text().startswith("### ")
    for stem in ("comparison", "per-image-psnr", "efficiency", "negatives"):
        for suffix in ("png", "svg"):
            assert (out / "figures" / f"{EXPERIMENT}-synthetic-{stem}.{suffix}").stat().st_size > 1000
    assert (out / "figures" / f"training-{EXPERIMENT}-cddgan.png").is_file()


def test_report_exported_main_table_agrees_with_comparison(built):
    _, _, index = built
    tables = index.parent / "tables"
    main = pd.read_csv(tables / f"main-{EXPERIMENT}-synthetic.csv")
    comparison = pd.read_csv(tables / "comparison.csv")
    for run in ("identity", "cut", "cddgan"):
        expected = comparison[(comparison["dataset"] == "synthetic") & (comparison["run"] == run)
                              & (comparison["metric"] == "ssim")]["mean"].item()
        assert main[main["run"] == run]["ssim_mean"].item() == pytest.approx(expected)
    assert main[main["run"] == FAILED_RUN]["status"].item() == "failed"


def test_report_page_shows_failures_warnings_marks_and_provenance(built):
    _, _, index = built
    html = index.read_text()
    assert FAILURE_MESSAGE in html
    assert DATASET_WARNING in html
    assert html.count('class="num best"') >= 6  # three metrics x two test sets
    assert html.count('class="num second"') >= 6
    assert 'class="ba-slider"' in html and "static/report.js" in html
    assert "Resolved configuration" in html and "<details>" in html
    assert re.search(r"torch</span> <code>\d", html)
    # The comparison grid copies hazy, outputs and ground truth (+ zoomed crops) of visual_images images.
    images = list((index.parent / "images").glob("*.png"))
    assert len(images) == 2 * 2 * 4 * 2  # test sets x images x (hazy, cut, cddgan, gt) x (full, zoom)


# --------------------------------------------------------------------------------------------- helpers


def test_negatives_axis_and_skip_note(fresh, tmp_path):
    config, results = fresh
    assert negatives_x(config["runs"]["cddgan-no-neggen"]) == 0
    assert negatives_x(config["runs"]["cddgan-k64"]) == 64
    scores = _scores(results, tmp_path)
    only_reference = scores[scores["run"] == "cddgan"]
    note = negatives_plot(only_reference, config, "psnr", tmp_path / "neg")
    assert isinstance(note, str) and "fewer than two" in note
    assert not (tmp_path / "neg.png").exists()


def test_visual_helpers():
    assert pick_images(["c", "a", "b", "e", "d"], 3) == ["a", "c", "e"]
    assert pick_images(["a", "b"], 4) == ["a", "b"]
    assert zoom_box([0.5, 0.5, 0.25], 100, 200) == (38, 88, 25)
    assert zoom_box([1.0, 0.0, 0.5], 40, 40) == (0, 20, 20)  # pushed back inside the image
    with pytest.raises(HarnessError, match=r"report\.zoom"):
        zoom_box([0.5, 0.5], 10, 10)
    small = np.zeros((300, 200, 3), np.float32)
    assert downscale(small) is small
    assert downscale(np.zeros((600, 300, 3), np.float32)).shape == (512, 256, 3)


def test_git_info_outside_a_repository(tmp_path):
    assert git_info(tmp_path) == {"commit": "unknown", "dirty": "unknown"}


def test_git_info_names_changed_and_untracked_files(tmp_path):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    git("init", "-q")
    (tmp_path / "tracked.py").write_text("a = 1\n")
    git("add", "tracked.py")
    git("commit", "-qm", "one")
    (tmp_path / "run.log").write_text("a log beside the checkout changes no result\n")
    assert git_info(tmp_path)["dirty"] == "no"
    (tmp_path / "baselines").mkdir()
    (tmp_path / "baselines" / "mine.py").write_text("# a new method\n")  # untracked: the commit lacks it
    assert git_info(tmp_path)["dirty"] == "yes (1 untracked: baselines/mine.py)"
    (tmp_path / "tracked.py").write_text("a = 2\n")
    assert git_info(tmp_path)["dirty"] == "yes (1 changed: tracked.py; 1 untracked: baselines/mine.py)"


def test_own_rule_files_are_named_with_a_digest(tmp_path):
    assert extra_rules(tmp_path) == {}
    folder = tmp_path / "workflow" / "rules" / "extra"
    folder.mkdir(parents=True)
    (folder / "clahe.smk").write_text("rule clahe: ...\n")
    digest = extra_rules(tmp_path)["clahe.smk"]
    (folder / "clahe.smk").write_text("rule clahe: changed\n")
    assert len(digest) == 12 and extra_rules(tmp_path)["clahe.smk"] != digest


def test_benchmarks_are_read(fresh):
    config, _ = fresh
    layout = Layout.of(config)
    files = [f for f in plan.job_benchmarks(config, layout) if Path(f).is_file()]
    frame = read_benchmarks(plan.job_benchmarks(config, layout), layout.benchmarks_dir())
    assert len(frame) == len(files) > 0
    total = sum(float(pd.read_csv(f, sep="\t")["s"].iloc[-1]) for f in files)
    assert frame["seconds"].sum() == pytest.approx(total)
    assert set(frame["job"]) == {str(Path(f).relative_to(layout.benchmarks_dir()).with_suffix("")) for f in files}


def test_the_jobs_table_keeps_only_this_configs_jobs(fresh):
    """A results folder shared by several configs (or left from renamed runs) holds other jobs too: the
    table reads only the records of this config's jobs, as cddgan.plan names them."""
    config, results = fresh
    layout = Layout.of(config)
    ours = len(read_benchmarks(plan.job_benchmarks(config, layout)))
    assert ours > 0
    run = next(name for name, spec in config["runs"].items() if spec["trainable"])
    foreign = [
        f"train/other-experiment/{run}/seed0",  # an experiment of another config
        f"train/{EXPERIMENT}/renamed-run/seed0",  # a run no longer in the config
        f"train/{EXPERIMENT}/{run}/seed99",  # a seed the run does not train
        f"make_data/{'x' * 8}",  # a dataset of another config
        f"dehaze/{EXPERIMENT}/{run}/seed0",  # a path of the wrong shape
    ]
    for job in foreign:
        path = results / "benchmarks" / f"{job}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("s\tmax_rss\tcpu_time\n1.0\t10\t1.0\n")
    kept = set(read_benchmarks(plan.job_benchmarks(config, layout), layout.benchmarks_dir())["job"])
    assert len(kept) == ours and not kept & set(foreign)


def test_a_dataset_without_ground_truth_is_not_described_by_its_psnr_protocol():
    from cddgan.report.tables import _protocol_notes

    fade_only = pd.DataFrame({"metric": ["fade", "fade"], "protocol": ["rgb-ds-crop0", "rgb-ds-crop0"]})
    assert _protocol_notes(fade_only) == [
        "No ground truth: only no-reference metrics are computed (border crop 0 px)."
    ]
    full = pd.DataFrame({"metric": ["psnr", "fade"], "protocol": ["y-nods-crop4", "y-nods-crop4"]})
    (note,) = _protocol_notes(full)
    assert note.startswith("Metrics: PSNR/SSIM on") and "(protocol y-nods-crop4)" in note


def test_the_datasets_table_says_how_a_paired_set_was_made_unpaired():
    from cddgan.report.tables import manifest_table

    info = {"adapter": "reside-its", "layout": "hazy/+clear/", "counts": {"train/hazy": 5, "train/clear": 3},
            "unpaired": {"protocol": "scene-disjoint split, pairing discarded", "scenes": 6, "clear_scenes": 3,
                         "hazy_scenes": 3, "seed": 0}}
    table = manifest_table({"its": info, "sots": {"adapter": "sots-indoor", "counts": {"test/hazy": 2}}})
    assert table.notes[1:] == [
        "its: scene-disjoint split, pairing discarded; 6 scenes, 3 on the clear side and 3 on the hazy side "
        "(split seed 0)."
    ]


def test_shrunk_test_images_are_said_under_the_datasets_and_score_tables(fresh, tmp_path):
    from cddgan.report.tables import manifest_table

    info = {"adapter": "o-haze", "counts": {"test/hazy": 2, "test/clear": 2},
            "test_resized": {"max_side": 1024, "count": 4, "folder": "test_resized", "filter": "bicubic",
                             "sizes": {"4000x3000->1024x768": 4}}}
    untouched = {"adapter": "o-haze", "counts": {"test/hazy": 2}, "test_resized": {"max_side": 4096, "count": 0}}
    table = manifest_table({"o-haze": info, "small": untouched})
    assert table.notes[1:] == [
        "o-haze: 4 test images (hazy and ground truth alike) shrunk so the longer side is at most 1024 px "
        "(bicubic), into test_resized/ beside its manifest; the originals are untouched."
    ]
    config, results = fresh
    scores = _scores(results, tmp_path)
    # what make_data did counts, not the key: a limit that no image exceeds shrinks nothing
    for record in (None, untouched["test_resized"]):
        plain = main_table(scores, read_failures(results), config, EXPERIMENT, "synthetic", shrunk=record)
        assert not any("shrunk" in note for note in plain.notes)
    shrunk = main_table(scores, read_failures(results), config, EXPERIMENT, "synthetic", shrunk=info["test_resized"])
    assert [n for n in shrunk.notes if "shrunk" in n] == [
        "4 test images (hazy and ground truth) larger than 1024 px on a side were shrunk to fit (bicubic, "
        "antialiased; datasets.synthetic.test_max_side) before dehazing and scoring: not comparable with "
        "full-size scores."
    ]
