"""Several seeds of a run trained in one process (`training.seeds_per_job`, `cddgan train-group`):
the loop (each seed its own weights, data, checkpoint and outputs; a diverged seed is recorded and the
others go on; a killed group resumes) and the DAG (group jobs, then each seed's outputs where a
single-seed job would put them)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import torch
import toy_method  # noqa: F401  (registers toy-gan)
from smoke import run_snakemake, write_config
from test_train import spec

from cddgan.errors import HarnessError
from cddgan.training.group import GroupTrainer
from cddgan.training.loop import Trainer


def outputs(tmp_path, n: int) -> list[tuple]:
    return [(tmp_path / f"s{i}" / "model.pt", tmp_path / f"s{i}" / "losses.csv") for i in range(n)]


def make_dirs(pairs) -> None:
    for model, _ in pairs:
        model.parent.mkdir(parents=True, exist_ok=True)


def test_group_trains_each_seed_to_its_own_outputs(tmp_path, tiny_synthetic):
    specs = [spec(seed=0), spec(seed=1)]
    pairs = outputs(tmp_path, 2)
    make_dirs(pairs)
    group = GroupTrainer(specs, tiny_synthetic, [tmp_path / "c0", tmp_path / "c1"], log=lambda m: None, progress=False)
    assert group.run(pairs) == {}
    models = [torch.load(m, weights_only=False) for m, _ in pairs]
    losses = [pd.read_csv(loss) for _, loss in pairs]
    assert [m["iterations"] for m in models] == [12, 12]
    assert all(list(frame["iteration"]) == [2, 4, 6, 8, 10, 12] for frame in losses)
    a, b = (m["state_dict"] for m in models)
    assert any(not torch.equal(a[k], b[k]) for k in a)  # different seeds, different runs
    assert not (tmp_path / "c0" / "last.pt").exists()  # finished: checkpoints dropped


def test_a_diverging_seed_is_recorded_and_the_others_finish(tmp_path, tiny_synthetic):
    specs = [spec(seed=0, nan_after=5), spec(seed=1)]
    pairs = outputs(tmp_path, 2)
    make_dirs(pairs)
    messages: list[str] = []
    group = GroupTrainer(specs, tiny_synthetic, [tmp_path / "c0", tmp_path / "c1"], log=messages.append, progress=False)
    failed = group.run(pairs)
    assert list(failed) == [0] and "NaN" in str(failed[0])
    assert any(m.startswith("[seed 0] FAILED") for m in messages)
    assert not pairs[0][0].exists()  # the caller records the failure (cddgan train-group writes the marker)
    assert torch.load(pairs[1][0], weights_only=False)["iterations"] == 12


def test_a_killed_group_resumes_every_seed_from_its_checkpoint(tmp_path, tiny_synthetic):
    """Seed 1 crashes once at update 7 (after the checkpoint at 4); the rerun resumes both seeds at 4."""
    marker = tmp_path / "crashed"
    specs = [spec(seed=0), spec(seed=1, crash_at=7, crash_marker=str(marker))]
    pairs = outputs(tmp_path, 2)
    make_dirs(pairs)
    ckpts = [tmp_path / "c0", tmp_path / "c1"]
    with pytest.raises(RuntimeError):
        GroupTrainer(specs, tiny_synthetic, ckpts, log=lambda m: None, progress=False).run(pairs)
    assert marker.exists() and all((c / "last.pt").exists() for c in ckpts)
    messages: list[str] = []
    assert GroupTrainer(specs, tiny_synthetic, ckpts, log=messages.append, progress=False).run(pairs) == {}
    assert sum("resumed from checkpoint" in m and "iteration 4" in m for m in messages) == 2
    assert all(torch.load(m, weights_only=False)["iterations"] == 12 for m, _ in pairs)
    # the same group never killed (its crash marker already there): the resumed weights are these, exactly
    (tmp_path / "ref").mkdir()
    done = tmp_path / "ref" / "crashed"
    done.touch()
    reference = outputs(tmp_path / "ref", 2)
    make_dirs(reference)
    ref_specs = [spec(seed=0), spec(seed=1, crash_at=7, crash_marker=str(done))]
    ref_ckpts = [tmp_path / "ref" / "c0", tmp_path / "ref" / "c1"]
    assert GroupTrainer(ref_specs, tiny_synthetic, ref_ckpts, log=lambda m: None, progress=False).run(reference) == {}
    for (resumed, _), (straight, _) in zip(pairs, reference, strict=True):
        a = torch.load(resumed, weights_only=False)["state_dict"]
        b = torch.load(straight, weights_only=False)["state_dict"]
        assert all(torch.equal(a[k], b[k]) for k in a), resumed


def test_seeds_of_a_group_must_share_the_schedule(tmp_path, tiny_synthetic):
    with pytest.raises(HarnessError, match=r"training\.iterations"):
        GroupTrainer([spec(seed=0), spec(seed=1, iterations=8)], tiny_synthetic, [tmp_path / "a", tmp_path / "b"])


def test_a_group_of_one_trains_what_the_single_seed_trainer_trains(tmp_path, tiny_synthetic):
    """The loop was split into start / end_iteration / finish for the group: one seed alone is unchanged."""
    single = tmp_path / "single"
    single.mkdir()
    Trainer(spec(seed=3), tiny_synthetic, single / "ckpt", log=lambda m: None, progress=False).run(
        single / "model.pt", single / "losses.csv"
    )
    pairs = outputs(tmp_path, 1)
    make_dirs(pairs)
    assert GroupTrainer([spec(seed=3)], tiny_synthetic, [tmp_path / "c0"], log=lambda m: None, progress=False).run(
        pairs
    ) == {}
    a = torch.load(single / "model.pt", weights_only=False)["state_dict"]
    b = torch.load(pairs[0][0], weights_only=False)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def grouped_config(tmp_path, seeds=(0, 1, 2)):
    return write_config(
        tmp_path / "grouped.yaml",
        {
            "seeds": list(seeds),
            "training": {"seeds_per_job": 2},
            "runs": {
                "identity": {"method": "identity", "label": "Hazy input"},
                "cut": {
                    "method": "cut",
                    "label": "CUT",
                    "settings": {"ngf": 8, "n_blocks": 2, "ndf": 8, "num_patches": 32, "nce_layers": [0, 4, 8, 12]},
                },
            },
        },
        merge=("training",),
    )


@pytest.mark.slow
def test_dry_run_plans_one_job_per_group_and_a_copy_per_seed(tmp_path):
    result = run_snakemake(tmp_path, "-n", "all", configfile=grouped_config(tmp_path))
    counts = dict(re.findall(r"^(train\w*)\s+(\d+)$", result.stdout, flags=re.M))
    assert counts == {"train_group": "2", "train_member": "3"}  # seeds 0-1 and 2; no single-seed train jobs


@pytest.mark.slow
def test_grouped_sweep_runs_through_the_dag_to_the_report(tmp_path):
    config = grouped_config(tmp_path, seeds=(0, 1))
    run_snakemake(tmp_path, "--cores", "2", "all", configfile=config)
    runs = tmp_path / "results" / "runs" / "synthetic" / "cut"
    models = [torch.load(runs / f"seed{s}" / "model.pt", weights_only=False) for s in (0, 1)]
    assert all(m["failed"] is None and m["spec"]["training"]["seeds_per_job"] == 2 for m in models)
    assert [m["spec"]["seed"] for m in models] == [0, 1]
    log = (tmp_path / "results" / "logs" / "train_group" / "synthetic" / "cut" / "seeds0-1.log").read_text()
    assert "[seed 0] finished" in log and "[seed 1] finished" in log
    assert (tmp_path / "reports" / "index.html").exists()
    again = run_snakemake(tmp_path, "-n", "all", configfile=config)
    assert "Nothing to be done" in again.stdout + again.stderr
