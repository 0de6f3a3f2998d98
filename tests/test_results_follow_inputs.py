"""Through the whole DAG: what the tables and the report show follows the config and the data on disk.

- a dataset's manifest depends on its files (names, sizes, modification times) and the synthetic benchmark
  on its generator settings: a change rebuilds that dataset and everything downstream, nothing else;
- the tables and the config snapshot are written together: a run that fails leaves the last good pair;
- files of a seed that left the config never reach a table, count or figure.
"""

from __future__ import annotations

import os
import time

import fake_trees as ft
import pandas as pd
import pytest
import yaml
from smoke import TESTS_DIR, job_stats, run_snakemake, snakemake_env, toy_config, write_config

pytestmark = pytest.mark.slow


def folders_config(tmp_path, title: str = "follow", extra_runs: dict | None = None, size: int = 48):
    """Training-free runs tested on the synthetic set and a fake paired-folders set on disk."""
    root = tmp_path / "pairs"
    if not root.exists():
        ft.make_paired_folders(root, n=2)
    return write_config(
        tmp_path / f"config-{title}.yaml",
        {
            "title": title,
            "datasets": {
                "synthetic": {"adapter": "synthetic", "seed": 0, "size": size, "n_train_clear": 4, "n_train_hazy": 4,
                              "n_test": 2, "protocol": "rgb"},
                "pairs": {"adapter": "paired-folders", "root": str(root)},
            },
            "experiments": {"synthetic": {"train": "synthetic", "test": ["synthetic", "pairs"]}},
            "runs": {"identity": {"method": "identity", "label": "Hazy input"},
                     "dcp": {"method": "dcp", "label": "DCP", "settings": {"radius": 4}}, **(extra_runs or {})},
            "report": {"visual_images": 1},
        },
    )


def planned(work, configfile) -> dict[str, int]:
    return job_stats(run_snakemake(work, "-n", "all", configfile=configfile).stdout)


def test_a_changed_dataset_rebuilds_itself_and_what_follows_and_nothing_else(tmp_path):
    work = tmp_path / "work"
    configfile = folders_config(tmp_path)
    run_snakemake(work, "--cores", "2", "all", configfile=configfile)
    assert planned(work, configfile) == {}

    root = tmp_path / "pairs"
    hazy = sorted(p for p in root.rglob("*") if p.is_file() and "hazy" in str(p.relative_to(root)))
    downstream = {"make_data": 1, "test": 2, "aggregate": 1, "report": 1, "all": 1}

    # an edited image: new content and a later modification time
    ft.save(hazy[0], array=ft.pixels("something else"))
    later = time.time() + 5
    os.utime(hazy[0], (later, later))
    assert planned(work, configfile) == downstream
    run_snakemake(work, "--cores", "2", "all", configfile=configfile)
    assert planned(work, configfile) == {}

    # a file the OS adds (hidden) changes nothing; an added and a removed image each rebuild
    (root / ".DS_Store").write_text("x")
    assert planned(work, configfile) == {}
    extra = ft.save(hazy[0].with_name("zz-extra" + hazy[0].suffix))
    assert planned(work, configfile)["make_data"] == 1
    extra.unlink()
    assert planned(work, configfile) == {}  # back to the recorded files: nothing to rebuild

    # the synthetic benchmark (the training set: the efficiency jobs read it too) follows its settings
    resized = folders_config(tmp_path, size=40)
    assert planned(work, resized) == {**downstream, "efficiency": 2}


def test_tables_and_snapshot_are_replaced_together_or_not_at_all(tmp_path):
    work = tmp_path / "work"
    good = folders_config(tmp_path, title="first")
    run_snakemake(work, "--cores", "2", "all", configfile=good)
    results = work / "results"
    snapshot = results / "config.resolved.yaml"
    assert yaml.safe_load(snapshot.read_text())["title"] == "first"
    before = {p.name: p.read_bytes() for p in (results / "tables").iterdir()} | {"snapshot": snapshot.read_bytes()}

    def now() -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in (results / "tables").iterdir()} | {"snapshot": snapshot.read_bytes()}

    # a new config whose new run fails: the sweep stops before the tables; the old snapshot stays
    failing = folders_config(tmp_path, title="second", extra_runs={
        "broken": {"command": "exit 3 # {input_dir} {output_dir}", "label": "Broken"}})
    result = run_snakemake(work, "--cores", "1", "all", configfile=failing, check=False)
    assert result.returncode != 0
    assert now() == before

    # the aggregate job itself fails (an efficiency record it reads is broken): Snakemake restores the last
    # good tables and snapshot it had moved aside
    renamed = folders_config(tmp_path, title="third")
    (results / "efficiency" / "synthetic" / "dcp.json").write_text("{ not json")
    result = run_snakemake(work, "--cores", "1", "all", configfile=renamed, check=False)
    assert result.returncode != 0 and "not valid JSON" in (results / "logs" / "aggregate.log").read_text()
    assert now() == before


def test_a_dropped_seed_never_reaches_a_table_or_the_report(tmp_path):
    """The issue's case: a run trained with seeds 0, 1 and 2, then `seeds: [0, 1]`; Snakemake leaves seed 2's
    files on disk, and the main table used to count and average them."""
    env = snakemake_env(str(TESTS_DIR))
    three = toy_config(tmp_path / "three.yaml")
    config = yaml.safe_load(three.read_text())
    config["runs"]["toy"]["seeds"] = [0, 1, 2]
    config["training"]["iterations"] = 4
    three.write_text(yaml.safe_dump(config))
    run_snakemake(tmp_path, "--cores", "2", "all", configfile=three, env=env)
    config["runs"]["toy"]["seeds"] = [0, 1]
    two = tmp_path / "two.yaml"
    two.write_text(yaml.safe_dump(config))
    run_snakemake(tmp_path, "--cores", "2", "all", configfile=two, env=env)

    results = tmp_path / "results"
    assert (results / "metrics" / "synthetic" / "toy" / "seed2.csv").is_file()  # still on disk
    comparison = pd.read_csv(results / "tables" / "comparison.csv")
    comparison = comparison[comparison["dataset"] == "synthetic"]  # the smoke config tests a shift too
    toy = comparison[comparison["run"] == "toy"]
    assert set(toy["n_seeds"]) == {2}
    scores = pd.read_csv(results / "tables" / "scores.csv")
    scores = scores[scores["dataset"] == "synthetic"]
    two_seeds = scores[(scores["run"] == "toy") & (scores["metric"] == "psnr")]["value"]
    assert toy[toy["metric"] == "psnr"]["mean"].item() == pytest.approx(two_seeds.mean())
    main = pd.read_csv(tmp_path / "reports" / "tables" / "main-synthetic-synthetic.csv")
    row = main[main["run"] == "toy"].iloc[0]
    assert row["n_seeds"] == 2 and row["psnr_mean"] == pytest.approx(two_seeds.mean())
    losses = pd.read_csv(results / "tables" / "losses.csv")
    assert set(losses[losses["run"] == "toy"]["seed"]) == {0, 1}
