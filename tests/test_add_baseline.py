"""Adding a baseline is one module plus one config entry: a toy method from this test folder runs
through the whole DAG and appears in the tables and the report, with no other change."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from smoke import TESTS_DIR, job_stats, run_snakemake, snakemake_env, toy_config

pytestmark = pytest.mark.slow


def test_toy_method_runs_through_the_dag(tmp_path):
    config = toy_config(tmp_path / "toy.yaml")
    run_snakemake(tmp_path, "--cores", "2", "all", configfile=config, env=snakemake_env(str(TESTS_DIR)))
    comparison = pd.read_csv(tmp_path / "results" / "tables" / "comparison.csv")
    assert set(comparison["run"]) == {"identity", "toy"}
    assert (tmp_path / "results" / "runs" / "synthetic" / "toy" / "seed0" / "losses.csv").is_file()
    html = (tmp_path / "reports" / "index.html").read_text()
    assert "Toy GAN" in html


def test_editing_the_method_file_reruns_its_jobs_and_nothing_else(tmp_path):
    """Snakemake sees only the rules' code; a researcher who fixes their method expects it to rerun."""
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    shutil.copy(TESTS_DIR / "toy_method.py", plugin / "toy_method.py")
    env = snakemake_env(str(plugin))
    work = tmp_path / "work"
    work.mkdir()
    config = toy_config(tmp_path / "toy.yaml")
    run_snakemake(work, "--cores", "2", "all", configfile=config, env=env)
    assert "Nothing to be done" in run_snakemake(work, "-n", "all", configfile=config, env=env).stdout
    with (plugin / "toy_method.py").open("a") as source:
        source.write("\n# a fix to the method\n")
    counts = job_stats(run_snakemake(work, "-n", "all", configfile=config, env=env).stdout)
    assert counts["train"] == 1 and counts["test"] == 1  # the toy run's (all its test sets), not identity's
    assert counts["efficiency"] == 1
    # the upgrade recipe of docs/reliability.md: --touch records the new params, and changes are still
    # tracked afterwards (--cleanup-metadata, recommended before, silently stopped that)
    run_snakemake(work, "--touch", "--cores", "1", "all", configfile=config, env=env)
    assert "Nothing to be done" in run_snakemake(work, "-n", "all", configfile=config, env=env).stdout
    wider = toy_config(tmp_path / "wider.yaml")
    wider.write_text(wider.read_text().replace("width: 4", "width: 6"))
    assert job_stats(run_snakemake(work, "-n", "all", configfile=wider, env=env).stdout)["train"] == 1
