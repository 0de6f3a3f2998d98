"""The whole DAG on the smoke config: tables, report, and the sanity ordering DCP > hazy input."""

from __future__ import annotations

import pandas as pd
import pytest
from smoke import SMOKE, run_snakemake, snakemake_env, write_config

pytestmark = pytest.mark.slow


def test_smoke_dag_writes_tables_and_report(smoke_run):
    scores = pd.read_csv(smoke_run / "results" / "tables" / "scores.csv")
    comparison = pd.read_csv(smoke_run / "results" / "tables" / "comparison.csv")
    assert {"experiment", "dataset", "run", "seed", "metric", "value"} <= set(scores.columns)
    assert {"mean", "std", "n_seeds", "protocol"} <= set(comparison.columns)
    assert set(comparison["run"]) == {"identity", "dcp", "cyclegan", "cut"}
    assert set(comparison["metric"]) >= {"psnr", "ssim", "ciede2000"}
    in_distribution = comparison[comparison["dataset"] == "synthetic"]  # the smoke config tests a shift too
    psnr = in_distribution[in_distribution["metric"] == "psnr"].set_index("run")["mean"]
    assert psnr["dcp"] > psnr["identity"]
    html = (smoke_run / "reports" / "index.html").read_text()
    for label in ("DCP", "CUT", "CycleGAN", "Hazy input"):
        assert label in html
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html


def test_rerun_is_a_no_op(smoke_run):
    result = run_snakemake(smoke_run, "--cores", "1", "all", "--dry-run")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_planning_a_finished_run_does_not_import_torch(smoke_run, tmp_path):
    """Parsing the Snakefile and planning the DAG never import torch: a `torch` that refuses to import,
    first on the path, changes nothing (the resolved config comes from the cache under .snakemake/)."""
    fake = tmp_path / "fake" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('torch was imported while planning')\n")
    result = run_snakemake(smoke_run, "--cores", "1", "all", "--dry-run", env=snakemake_env(str(fake.parent)))
    assert "Nothing to be done" in result.stdout + result.stderr


def test_snakemakes_own_report_is_written(smoke_run, tmp_path):
    """The README's `snakemake --report report.zip` (needs pygments: snakemake's `reports` extra)."""
    import zipfile

    out = tmp_path / "report.zip"
    run_snakemake(smoke_run, "--report", str(out))
    names = zipfile.ZipFile(out).namelist()
    assert any(name.endswith("report.html") for name in names)
    assert any(name.endswith("comparison.csv") for name in names)  # the tables flagged for the report


def test_config_error_names_the_key_and_runs_nothing(tmp_path):
    bad = write_config(tmp_path / "bad.yaml", {"training": {"crop": -3}}, merge=("training",))
    result = run_snakemake(tmp_path, "--cores", "1", "all", configfile=bad, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "training.crop" in output and "Traceback" not in output
    assert not (tmp_path / "results").exists()


def test_lint_is_clean(tmp_path):
    result = run_snakemake(tmp_path, "--lint", configfile=SMOKE)
    assert "good condition" in result.stdout + result.stderr
