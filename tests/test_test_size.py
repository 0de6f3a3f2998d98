"""`test_max_side` through the whole DAG: a large real-layout test set is shrunk once, every method and
metric sees the shrunk pixels, the report says so, and changing the key rebuilds only what depends on it."""

from __future__ import annotations

import fake_trees as ft
import pandas as pd
import pytest
from smoke import job_stats, run_snakemake, write_config

from cddgan.io import read_image

pytestmark = pytest.mark.slow

LARGE = (96, 64)  # width, height of the fake O-HAZE photographs


def o_haze_config(tmp_path, max_side: int | None):
    """The smoke config, training-free runs only, tested on the synthetic set and a fake O-HAZE."""
    folder = tmp_path / "O-HAZE" / ft.O_HAZE_FOLDER
    for i in (1, 2):
        ft.save(folder / "hazy" / f"{i:02d}_outdoor_hazy.png", size=LARGE)
        ft.save(folder / "GT" / f"{i:02d}_outdoor_GT.png", size=LARGE)
    return write_config(
        tmp_path / "config.yaml",
        {
            "datasets": {"o-haze": {"adapter": "o-haze", "root": str(tmp_path / "O-HAZE"), "test_max_side": max_side}},
            "experiments": {"synthetic": {"train": "synthetic", "test": ["synthetic", "o-haze"]}},
            "runs": {"identity": {"method": "identity", "label": "Hazy input"},
                     "dcp": {"method": "dcp", "label": "DCP", "settings": {"radius": 8}}},
        },
        merge=("datasets",),
    )


def test_shrunk_test_set_runs_through_the_dag_and_the_report_says_so(tmp_path):
    work = tmp_path / "work"
    configfile = o_haze_config(tmp_path, max_side=48)
    run_snakemake(work, "--cores", "2", "all", configfile=configfile)
    outputs = work / "results" / "outputs" / "synthetic"
    for run in ("identity", "dcp"):
        images = sorted((outputs / run / "seed0" / "o-haze").glob("*.png"))
        assert len(images) == 2 and all(read_image(p).shape == (32, 48, 3) for p in images)
    metrics = pd.read_csv(work / "results" / "metrics" / "synthetic" / "identity" / "seed0.csv")
    metrics = metrics[metrics["dataset"] == "o-haze"]
    assert len(metrics) == 2 and (metrics["psnr"] > 10).all()  # the shrunk input against the shrunk GT
    html = (work / "reports" / "index.html").read_text()
    assert "4 test images (hazy and ground truth) larger than 48 px on a side were shrunk to fit" in html
    assert "shrunk so the longer side is at most 48 px" in html

    # Back to full size: the manifest is rebuilt and each run's test job (both test sets in one job) runs
    # again; the synthetic manifest is not rebuilt.
    configfile = o_haze_config(tmp_path, max_side=None)
    plan = job_stats(run_snakemake(work, "-n", "all", configfile=configfile).stdout)
    assert plan["make_data"] == 1 and plan["test"] == 2
    run_snakemake(work, "--cores", "2", "all", configfile=configfile)
    images = sorted((outputs / "dcp" / "seed0" / "o-haze").glob("*.png"))
    assert all(read_image(p).shape == (LARGE[1], LARGE[0], 3) for p in images)
    html = (work / "reports" / "index.html").read_text()
    assert "were shrunk to fit" not in html and "shrunk so the longer side" not in html
