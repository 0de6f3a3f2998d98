"""Adding a baseline is one module plus one config entry: a toy method from this test folder runs
through the whole DAG and appears in the tables and the report, with no other change."""

from __future__ import annotations

import pandas as pd
import pytest
from smoke import TESTS_DIR, run_snakemake, snakemake_env, toy_config

pytestmark = pytest.mark.slow


def test_toy_method_runs_through_the_dag(tmp_path):
    config = toy_config(tmp_path / "toy.yaml")
    run_snakemake(tmp_path, "--cores", "2", "all", configfile=config, env=snakemake_env(str(TESTS_DIR)))
    comparison = pd.read_csv(tmp_path / "results" / "tables" / "comparison.csv")
    assert set(comparison["run"]) == {"identity", "toy"}
    assert (tmp_path / "results" / "runs" / "synthetic" / "toy" / "seed0" / "losses.csv").is_file()
    html = (tmp_path / "reports" / "index.html").read_text()
    assert "Toy GAN" in html
