"""A run whose loss becomes NaN stops with a clear message and its last good checkpoint; the rest of the
sweep finishes and the report marks the failed run instead of omitting it."""

from __future__ import annotations

import pandas as pd
import pytest
from smoke import TESTS_DIR, run_snakemake, snakemake_env, toy_config

pytestmark = pytest.mark.slow


def toy_nan(nan_after: int) -> dict:
    """A toy GAN whose loss becomes NaN after `nan_after` updates (0: never)."""
    return {"toy-nan": {"method": "toy-gan", "label": "Toy NaN", "settings": {"width": 4, "nan_after": nan_after}}}


def test_diverged_run_is_reported_failed_and_the_sweep_finishes(tmp_path):
    config = toy_config(tmp_path / "nan.yaml", toy_nan(nan_after=10))
    env = snakemake_env(str(TESTS_DIR))
    run_snakemake(tmp_path, "--cores", "2", "all", configfile=config, env=env)
    results = tmp_path / "results"
    comparison = pd.read_csv(results / "tables" / "comparison.csv")
    assert set(comparison["run"]) == {"identity", "toy"}
    status = results / "outputs" / "synthetic" / "toy-nan" / "seed0" / "synthetic" / "FAILED"  # the run's status
    assert "NaN or inf" in status.read_text()
    log = (results / "logs" / "train" / "synthetic" / "toy-nan" / "seed0.log").read_text()
    assert "run FAILED" in log and "last good checkpoint" in log
    assert (results / "checkpoints" / "synthetic" / "toy-nan" / "seed0" / "last.pt").is_file()
    html = (tmp_path / "reports" / "index.html").read_text()
    assert "Toy NaN" in html and "FAILED" in html

    # Deterministic divergence is a result, not a crash: a rerun has nothing to do ...
    again = run_snakemake(tmp_path, "--cores", "1", "all", "--dry-run", configfile=config, env=env)
    assert "Nothing to be done" in again.stdout + again.stderr
    # ... until the run's settings change; then only that run's jobs and the aggregation rerun.
    fixed = toy_config(tmp_path / "fixed.yaml", toy_nan(nan_after=0))
    plan = run_snakemake(tmp_path, "--cores", "1", "all", "--dry-run", configfile=fixed, env=env)
    text = plan.stdout
    assert "toy-nan" in text
    assert "runs/synthetic/toy/seed0" not in text.split("Job stats")[0].replace("toy-nan", "")
