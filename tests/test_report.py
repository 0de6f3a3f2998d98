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
    for path in sorted(results.glob("metrics/*/*/seed*.csv")):
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
    stale = pd.read_csv(layout.metrics(EXPERIMENT, "cut", 0)).assign(seed=2, psnr=99.0)
    stale.to_csv(layout.metrics(EXPERIMENT, "cut", 2), index=False)
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
        ranked = sorted(["dcp", "cut", "cddgan"], key=lambda r: LEVELS[r][index], reverse=higher)
        # The hazy input is a reference row (a floor), never ranked, even where it would come second.
        expected[metric] = {ranked[0]: "best", ranked[1]: "second", ranked[2]: "", FAILED_RUN: "", "identity": ""}
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
    assert _cells(table, "dcp")[col].mark == "second"
    assert _cells(table, "identity")[col].mark == ""  # the hazy input is a reference row, never ranked


def _rows(results: Path) -> pd.DataFrame:
    return pd.read_csv(results / "tables" / "per_image.csv", dtype={"image_id": str})


def _paired_by_hand(rows: pd.DataFrame, dataset: str, run: str, reference: str, metric: str, seeds) -> np.ndarray:
    """run − reference per (seed, image), read with plain pandas indexing (seed of the reference: its own, or
    its only one for a training-free run)."""
    sub = rows[rows["dataset"] == dataset]
    out = []
    for seed in seeds:
        ours = sub[(sub["run"] == run) & (sub["seed"] == seed)].set_index("image_id")[metric]
        ref_seed = seed if seed in set(sub.loc[sub["run"] == reference, "seed"]) else 0
        theirs = sub[(sub["run"] == reference) & (sub["seed"] == ref_seed)].set_index("image_id")[metric]
        out.append((ours - theirs.loc[ours.index]).to_numpy())
    return np.array(out)


def test_ablation_deltas_are_paired_and_coloured_only_where_they_hold(fresh):
    """Δ is the paired difference to the reference on the seeds and images both share (the ablation rows
    trained seed 0 only, so seed 0 of the reference), with its interval. It is coloured where the paired test
    holds after Holm's correction, not by its sign: `cddgan-no-neggen` has CDD-GAN's PSNR level, so its PSNR
    Δ is noise and stays uncoloured whichever its sign (this changes the old rule, which coloured every
    non-zero Δ)."""
    config, results = fresh
    scores, rows = pd.read_csv(results / "tables" / "scores.csv"), _rows(results)
    comparisons = pd.read_csv(results / "tables" / "comparisons.csv")
    spec = config["ablation_tables"]["negatives"]
    table = ablation_table("negatives", spec, scores, read_failures(results), config, EXPERIMENT, "synthetic",
                           rows=rows, comparisons=comparisons)
    assert [r.key for r in table.rows()] == ["cddgan", "cddgan-no-neggen", "cddgan-k64"]
    for metric in ("psnr", "ssim", "ciede2000"):
        meta = metric_meta(metric)
        col = _column(table, f"Δ {meta.display}")
        for run in spec["rows"]:
            diffs = _paired_by_hand(rows, "synthetic", run, "cddgan", metric, [0])
            cell = _cells(table, run)[col]
            assert cell.sort == pytest.approx(diffs.mean())
            assert cell.text.startswith(f"{round(diffs.mean(), meta.digits):+.{meta.digits}f} [")
            row = comparisons[(comparisons["table"] == "negatives") & (comparisons["dataset"] == "synthetic")
                              & (comparisons["run"] == run) & (comparisons["metric"] == metric)].iloc[0]
            assert cell.tone == ("worse" if row["holds"] else "")
        assert _cells(table, "cddgan")[col].text == "ref"
    psnr = _column(table, "Δ PSNR")
    assert _cells(table, "cddgan-k64")[psnr].tone == "worse"  # 2 dB below: holds
    assert _cells(table, "cddgan-no-neggen")[psnr].tone == ""  # the same level: noise, does not hold
    # The same Δ that does not hold after correction is not coloured, better or worse.
    flipped = comparisons.assign(holds=False)
    table = ablation_table("negatives", spec, scores, read_failures(results), config, EXPERIMENT, "synthetic",
                           rows=rows, comparisons=flipped)
    assert all(c.tone == "" for r in table.rows() for c in r.cells[1:])
    # A Δ that holds takes the tone of the metric's direction: better for PSNR up and CIEDE2000 down.
    better = comparisons.copy()
    k64 = better["run"] == "cddgan-k64"
    better.loc[k64 & (better["metric"] == "psnr"), ["diff", "ci_low", "ci_high", "holds"]] = [1.0, 0.5, 1.5, True]
    better.loc[k64 & (better["metric"] == "ciede2000"), ["diff", "ci_low", "ci_high", "holds"]] = [-1, -2, -0.5, True]
    table = ablation_table("negatives", spec, scores, read_failures(results), config, EXPERIMENT, "synthetic",
                           rows=rows, comparisons=better)
    assert _cells(table, "cddgan-k64")[_column(table, "Δ PSNR")].tone == "better"
    assert _cells(table, "cddgan-k64")[_column(table, "Δ CIEDE2000")].tone == "better"
    assert _cells(table, "cddgan-k64")[_column(table, "Δ SSIM")].tone == "worse"
    # Without paired tests: the difference of the means, never coloured.
    plain = ablation_table("negatives", spec, scores, read_failures(results), config, EXPERIMENT, "synthetic")
    assert all(c.tone == "" for r in plain.rows() for c in r.cells[1:])
    assert "no paired test" in plain.notes[0]


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
    assert len(images) == 3 * 2 * 5 * 2  # test sets x images x (hazy, dcp, cut, cddgan, gt) x (full, zoom)


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


# --------------------------------------------------------------------------------------------- statistics


def test_comparison_csv_carries_intervals_after_std(fresh):
    config, results = fresh
    comparison = pd.read_csv(results / "tables" / "comparison.csv")
    columns = list(comparison.columns)
    assert columns[columns.index("std") + 1 : columns.index("std") + 3] == ["ci_low", "ci_high"]
    assert ((comparison["ci_low"] <= comparison["mean"]) & (comparison["mean"] <= comparison["ci_high"])).all()
    # Seeded by the cell's key: the same results give the same intervals, in another process too.
    again = write_tables(config, Layout.of(config), yaml.safe_dump(config))["comparison"]
    assert again["ci_low"].tolist() == comparison["ci_low"].tolist()
    # The training-free hazy input is deterministic: its interval is over images only and must still be wide.
    hazy = comparison[(comparison["run"] == "identity") & (comparison["metric"] == "psnr")
                      & (comparison["dataset"] == "synthetic")].iloc[0]
    assert hazy["n_seeds"] == 1 and hazy["ci_high"] - hazy["ci_low"] > 0.5


def test_main_table_cells_show_the_interval_and_say_how_it_was_made(fresh):
    config, results = fresh
    comparison = pd.read_csv(results / "tables" / "comparison.csv")
    table = main_table(pd.read_csv(results / "tables" / "scores.csv"), read_failures(results), config, EXPERIMENT,
                       "synthetic", rows=_rows(results))
    col = _column(table, "PSNR")
    row = comparison[(comparison["run"] == "cut") & (comparison["metric"] == "psnr")
                     & (comparison["dataset"] == "synthetic")].iloc[0]
    assert _cells(table, "cut")[col].text == f"{row['mean']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
    assert re.fullmatch(r"\d+\.\d{4} \[\d+\.\d{4}, \d+\.\d{4}\]", _cells(table, "cut")[_column(table, "SSIM")].text)
    notes = " ".join(table.notes)
    assert "hierarchical bootstrap" in notes and "One seed (Hazy input, DCP): the interval is over test images" in notes
    hazy = next(r for r in table.rows() if r.key == "identity")
    assert hazy.status == "reference" and "not ranked" in hazy.cells[0].sub
    record = table.frame[table.frame["run"] == "cut"].iloc[0]
    assert record["psnr_ci_low"] == pytest.approx(row["ci_low"])


def test_fade_says_what_it_measures(fresh):
    config, results = fresh
    scores = pd.read_csv(results / "tables" / "scores.csv")
    fade = scores[scores["metric"] == "psnr"].assign(metric="fade", value=1.0)
    table = main_table(pd.concat([scores, fade]), read_failures(results), config, EXPERIMENT, "synthetic")
    assert any("FADE" in n and "haze density" in n and "over-saturated" in n for n in table.notes)
    plain = main_table(scores, read_failures(results), config, EXPERIMENT, "synthetic")
    assert not any("FADE" in n for n in plain.notes)


def test_paired_comparisons_against_the_reference_runs(fresh):
    from statsmodels.stats.multitest import multipletests

    _config, results = fresh
    rows, comparisons = _rows(results), pd.read_csv(results / "tables" / "comparisons.csv", dtype={"seeds": str})
    assert list(comparisons.columns[:16]) == [
        "experiment", "dataset", "table", "run", "reference", "metric", "diff", "ci_low", "ci_high", "p_value",
        "p_holm", "holds", "p_better", "n_seeds", "n_images", "seeds"]
    main = comparisons[comparisons["table"] == "main"]
    # The paper's method is the reference; the hazy input (a floor) and the failed CycleGAN are not compared.
    assert set(main["reference"]) == {"cddgan"} and set(main["run"]) == {"dcp", "cut"}
    cut = main[(main["run"] == "cut") & (main["dataset"] == "synthetic") & (main["metric"] == "psnr")].iloc[0]
    diffs = _paired_by_hand(rows, "synthetic", "cut", "cddgan", "psnr", [0, 1])
    assert cut["diff"] == pytest.approx(diffs.mean()) and cut["ci_low"] < cut["diff"] < cut["ci_high"] < 0
    assert cut["p_value"] == pytest.approx(scipy_wilcoxon(diffs.mean(axis=0)))
    assert cut["p_better"] == pytest.approx((diffs > 0).mean()) and cut["holds"]
    assert (cut["n_seeds"], cut["n_images"], cut["seeds"]) == (2, 12, "0-1")
    # A training-free run (one deterministic seed) pairs with every seed of the reference.
    dcp = main[(main["run"] == "dcp") & (main["dataset"] == "synthetic") & (main["metric"] == "psnr")].iloc[0]
    sub = rows[rows["dataset"] == "synthetic"]
    ours = sub[sub["run"] == "dcp"].set_index("image_id")["psnr"]
    by_seed = [ours - sub[(sub["run"] == "cddgan") & (sub["seed"] == s)].set_index("image_id")["psnr"] for s in (0, 1)]
    assert dcp["diff"] == pytest.approx(np.mean(by_seed)) and dcp["seeds"] == "0-1"
    # Holm over the comparisons of one table on one test set, as statsmodels computes it.
    for (_, _, _), family in comparisons.groupby(["experiment", "dataset", "table"]):
        assert family["p_holm"].to_numpy() == pytest.approx(multipletests(family["p_value"], method="holm")[1])
        assert (family["holds"] == ((family["p_holm"] < 0.05)
                                    & ((family["ci_low"] > 0) | (family["ci_high"] < 0)))).all()
    # Ablation rows trained one seed: paired on seed 0; the seeds needed cannot be estimated, and it says so.
    ablation = comparisons[comparisons["table"] == "negatives"]
    assert set(ablation["seeds"]) == {"0"} and ablation["seeds_needed"].isna().all()
    assert ablation["seeds_note"].str.contains("cannot be estimated").all()
    noise = ablation[(ablation["run"] == "cddgan-no-neggen") & (ablation["metric"] == "psnr")
                     & (ablation["dataset"] == "synthetic")]
    assert not noise["holds"].any()  # the same level as CDD-GAN: noise (on this test set of the fixture)
    assert (main["seeds_needed"] >= 2).all()


def scipy_wilcoxon(differences: np.ndarray) -> float:
    import scipy.stats

    return float(scipy.stats.wilcoxon(differences).pvalue)


def test_the_report_states_the_paired_findings_in_words(built):
    _, _, index = built
    html = index.read_text()
    assert re.search(r"CUT vs CDD-GAN: PSNR -\d\.\d\d dB \[-\d\.\d\d, -\d\.\d\d\], P\(better\) 0\.\d\d, holds", html)
    assert re.search(r"No negative generators vs CDD-GAN: PSNR [-+]\d\.\d\d dB \[[^]]+\], P\(better\) [\d.]+, "
                     r"does not hold", html)
    ids = re.findall(r'<table class="sortable" id="([^"]+)"', html)
    assert f"comparisons-main-{EXPERIMENT}-synthetic" in ids and f"comparisons-negatives-{EXPERIMENT}-synthetic" in ids
    # Every table that shows an interval says how it was made (a bootstrap, or the OLS slope's t interval).
    tables = index.parent / "tables"
    shown = 0
    for table_id in ids:
        markdown = (tables / f"{table_id}.md").read_text()
        if re.search(r"\d \[[-+\d.]+, [-+\d.]+\]", markdown):
            shown += 1
            method = "t(0.975, n − 2)" if table_id.startswith("convergence") else "hierarchical bootstrap"
            assert "95 % interval" in markdown and method in markdown, table_id
    assert shown >= 3 * 4 + 2  # per test set: main, its tests, the ablation and its tests; robustness, convergence


def test_robustness_on_a_shifted_test_set(fresh):
    from report_fixtures import SHIFT_DROP, SHIFTED

    _config, results = fresh
    robustness, rows = pd.read_csv(results / "tables" / "robustness.csv"), _rows(results)
    assert set(robustness["shift"]) == {SHIFTED} and set(robustness["base"]) == {"synthetic"}
    assert set(robustness["metric"]) == {"psnr", "ssim"}
    hazy = robustness[(robustness["run"] == "identity") & (robustness["metric"] == "psnr")].iloc[0]
    assert hazy["reference_floor"] and hazy["drop"] == pytest.approx(SHIFT_DROP["psnr"])
    cut = robustness[(robustness["run"] == "cut") & (robustness["metric"] == "psnr")].iloc[0]
    base = rows[(rows["dataset"] == "synthetic") & (rows["run"] == "cut")].set_index(["seed", "image_id"])["psnr"]
    shifted = rows[(rows["dataset"] == SHIFTED) & (rows["run"] == "cut")].set_index(["seed", "image_id"])["psnr"]
    assert cut["drop"] == pytest.approx((base - shifted.loc[base.index]).mean())
    assert cut["drop"] == pytest.approx(cut["base_mean"] - cut["shift_mean"])
    assert cut["ci_low"] < SHIFT_DROP["psnr"] < cut["ci_high"] and cut["n_seeds"] == 2
    assert FAILED_RUN not in set(robustness["run"])


def test_convergence_verdicts_and_the_kept_iteration(fresh):
    _config, results = fresh
    convergence = pd.read_csv(results / "tables" / "convergence.csv").set_index("run")
    assert convergence.loc["cut", "verdict"] == "still improving"
    assert convergence.loc["cddgan", "verdict"] == "plateaued"
    assert convergence.loc["cddgan-k64", "verdict"] == "getting worse"
    assert convergence.loc[FAILED_RUN, "verdict"] == "failed"
    assert convergence.loc["cut", "slope_per_1k"] == pytest.approx(6 / 200 * 1000, rel=0.05)  # 6 dB over 200 it.
    assert (convergence.loc["cut", "window_start"], convergence.loc["cut", "window_end"]) == (140, 200)
    validation = pd.read_csv(results / "tables" / "validation.csv")
    cddgan = validation[validation["run"] == "cddgan"]
    best = cddgan.loc[cddgan.groupby("seed")["psnr"].idxmax()]
    expected = "; ".join(f"seed {s}: {i}" for s, i in zip(best["seed"], best["iteration"], strict=True))
    assert convergence.loc["cddgan", "select"] == "best_val"
    assert convergence.loc["cddgan", "selected_iterations"] == expected
    from cddgan.report.statstables import convergence_table

    table = convergence_table(convergence.reset_index(), _config, EXPERIMENT)
    assert "selected: " + expected == _cells(table, "cddgan")[-1].sub
    # Runs that score no validation images (eval_every: 0) give no table rather than rows that say nothing.
    silent = convergence.reset_index().assign(verdict="no validation curve", evaluations=0)
    assert convergence_table(silent, _config, EXPERIMENT) is None


def test_runs_and_their_machines(fresh):
    from cddgan.report.statstables import machines_table

    config, results = fresh
    runs = pd.read_csv(results / "tables" / "runs.csv")
    assert len(runs) == sum(len(s["seeds"]) for s in config["runs"].values() if s["trainable"])
    assert {"selected_iteration", "select", "elapsed_s", "failed", "machine_cpu_capability", "machine_mkl_version",
            "machine_gpus"} <= set(runs.columns)
    table = machines_table(runs, config)
    assert [r.cells[1].text for r in table.rows()] == ["AVX512", "AVX2"]
    assert "CUT seed 1" in table.rows()[1].cells[-1].sub
    assert any("AVX-512" in note and "17.22" in note for note in table.notes)


def test_the_training_records_are_read_as_declared(fresh):
    """Every trained seed's validation curve and run record is a declared input of the aggregate job: each
    one is read, and a missing one is an error naming it."""
    from cddgan.report.aggregate import train_files
    from cddgan.report.results import read_run_info, read_validation

    config, _results = fresh
    layout = Layout.of(config)
    job = plan.train_jobs(config)[0]
    assert [path for _, path in train_files(config, layout, "validation")] == plan.validation_files(config, layout)
    assert plan.aggregate_inputs(config, layout)["validation"] == plan.validation_files(config, layout)
    Path(layout.validation(*job)).unlink()
    with pytest.raises(HarnessError, match=r"validation\.csv: validation curve not found"):
        read_validation(train_files(config, layout, "validation"))
    Path(layout.validation(*job)).write_text("")  # a run that scored nothing: no rows, no error
    assert read_validation(train_files(config, layout, "validation"))["run"].ne(job.run).sum() > 0
    Path(layout.run_info(*job)).write_text("[1, 2]")
    with pytest.raises(HarnessError, match=r"run\.json: expected a JSON object"):
        read_run_info([(job, layout.run_info(*job))])


def test_the_jobs_table_never_sums_overlapping_wall_times(fresh):
    from cddgan.report.provenance import benchmark_table

    config, _ = fresh
    layout = Layout.of(config)
    table = benchmark_table(plan.job_benchmarks(config, layout), layout.benchmarks_dir())
    cpu = table.frame["cpu_time_s"].sum()
    assert [c.name for c in table.columns][1:3] == ["Wall time (s)", "CPU time (s)"]
    assert f"CPU time in total {cpu:,.1f} s" in table.notes[0]
    assert "not added up" in table.notes[1]
    assert f"{table.frame['seconds'].sum():,.1f}" not in " ".join(table.notes)


def test_the_datasets_table_counts_the_manifests(fresh):
    from report_fixtures import SHIFTED

    config, _results = fresh
    layout = Layout.of(config)
    from cddgan.report.results import read_manifest_info
    from cddgan.report.tables import manifest_table

    infos = {d: read_manifest_info(layout, d) for d in config["datasets"]}
    manifests = {d: pd.read_csv(layout.manifest(d), dtype=str, keep_default_na=False) for d in config["datasets"]}
    table = manifest_table(infos, manifests, {SHIFTED: "synthetic"})
    frame = table.frame.set_index("dataset")
    for dataset, manifest in manifests.items():
        hazy = manifest[(manifest["split"] == "test") & (manifest["domain"] == "hazy")]
        assert frame.loc[dataset, "test/hazy"] == len(hazy)
        assert frame.loc[dataset, "test/ground_truths"] == hazy["pair_id"].nunique()
        for key in ("train/hazy", "val/hazy", "val/clear"):
            split, domain = key.split("/")
            assert frame.loc[dataset, key] == ((manifest["split"] == split) & (manifest["domain"] == domain)).sum()
    assert frame.loc["sots-indoor", "test/hazy"] == 12 and frame.loc["sots-indoor", "test/ground_truths"] == 6
    assert frame.loc["synthetic", "val/hazy"] == 2 and frame.loc[SHIFTED, "train/hazy"] == 0
    assert any(note.startswith(f"{SHIFTED}: a shift of synthetic") for note in table.notes)
    # A sidecar that disagrees with its manifest is named.
    infos["synthetic"] = {**infos["synthetic"], "counts": {**infos["synthetic"]["counts"], "test/hazy": 99}}
    assert any("synthetic: its manifest.json says test/hazy 99 (manifest: 12)" in n
               for n in manifest_table(infos, manifests).notes)
