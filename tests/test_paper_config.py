"""config/paper.yaml plans the full paper DAG over dataset trees with the real file names, and every
adapter of that config reads its fake tree into a manifest."""

from __future__ import annotations

import fake_trees as ft
import pandas as pd
import pytest
from smoke import REPO, job_stats, run_snakemake

from cddgan import config as cfg

PAPER = REPO / "config" / "paper.yaml"
pytestmark = pytest.mark.slow


def make_paper_trees(work):
    data = work / "data"
    ft.make_its(data / "RESIDE" / "ITS", n_scenes=6, per_scene=3)
    ft.make_sots_indoor(data / "RESIDE" / "SOTS" / "indoor", n=2, per_gt=2, border=True)
    ft.make_sots_outdoor(data / "RESIDE" / "SOTS" / "outdoor", n=2, per_gt=1)
    ft.make_i_haze(data / "I-HAZE", n=2, parent=True)
    ft.make_o_haze(data / "O-HAZE", n=2, parent=True)
    ft.make_hsts(data / "RESIDE" / "HSTS", n=2, n_real=2)
    ft.make_rtts(data / "RESIDE" / "RTTS", n=3)


def expected_jobs(config) -> dict[str, int]:
    runs = config["runs"]
    n_exp = len(config["experiments"])
    trained = sum(len(r["seeds"]) for r in runs.values() if r["trainable"])
    run_seeds = sum(len(r["seeds"]) for r in runs.values())
    return {
        "make_data": len(config["datasets"]),
        "train": trained * n_exp,
        "test": run_seeds * n_exp,  # every test set of the experiment in one job
        "efficiency": len(runs) * n_exp,
        "aggregate": 1,
        "report": 1,
        "all": 1,
    }


def test_paper_config_plans_the_full_dag(tmp_path):
    make_paper_trees(tmp_path)
    plan = run_snakemake(tmp_path, "-n", "all", configfile=PAPER)
    stats = job_stats(plan.stdout)
    expected = expected_jobs(cfg.load(PAPER))
    assert stats == expected
    assert sum(stats.values()) == 84  # stated in docs/protocol.md


def test_paper_datasets_build_their_manifests(tmp_path):
    make_paper_trees(tmp_path)
    config = cfg.load(PAPER)
    targets = [f"results/data/{name}/manifest.csv" for name in config["datasets"]]
    run_snakemake(tmp_path, "--cores", "2", *targets, configfile=PAPER)
    its = pd.read_csv(tmp_path / "results" / "data" / "its" / "manifest.csv", dtype=str, keep_default_na=False)
    sides = its.groupby("domain")["scene_id"].apply(set)
    assert sides["hazy"] and sides["clear"] and not sides["hazy"] & sides["clear"]
    rtts = pd.read_csv(tmp_path / "results" / "data" / "rtts" / "manifest.csv", dtype=str, keep_default_na=False)
    assert set(rtts["domain"]) == {"hazy"} and set(rtts["pair_id"]) == {""}
    for name in ("sots-indoor", "sots-outdoor", "i-haze", "o-haze", "hsts"):
        frame = pd.read_csv(tmp_path / "results" / "data" / name / "manifest.csv", dtype=str, keep_default_na=False)
        assert (frame["domain"] == "hazy").sum() >= 2 and (frame["domain"] == "clear").sum() >= 2, name
