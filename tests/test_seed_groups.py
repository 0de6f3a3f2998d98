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


TINY_NETS = {"ngf": 4, "n_blocks": 1, "ndf": 4, "num_patches": 16, "nce_layers": [0, 4, 8, 12]}
# CUT draws patch positions (torch CPU), FastCUT adds its flip coin, CDD-GAN noise and image pools (python)
METHODS = {
    "cut": TINY_NETS,
    "fastcut": TINY_NETS,
    "cddgan": {**TINY_NETS, "netF_nc": 16, "num_negatives": 8, "queue_size": 2},
}


def method_spec(method: str, seed: int) -> dict:
    run = spec(seed=seed, iterations=6)
    run.update(method=method, settings=METHODS[method], plugins=[])
    run["training"]["crop"] = 32
    return run


@pytest.mark.parametrize("method", list(METHODS))
def test_a_seed_trained_in_a_group_gives_the_numbers_it_gives_alone(tmp_path, tiny_synthetic, method):
    """Seed 1 trained beside seed 0 equals seed 1 trained alone: each seed draws from its own streams.
    Observed on the CPU (torch 2.14): bit for bit, max difference 0 for all three methods."""
    alone = tmp_path / "alone"
    Trainer(method_spec(method, 1), tiny_synthetic, alone / "ckpt", log=lambda m: None, progress=False).run(
        alone / "model.pt", alone / "losses.csv"
    )
    pairs = outputs(tmp_path, 2)
    make_dirs(pairs)
    specs = [method_spec(method, 0), method_spec(method, 1)]
    group = GroupTrainer(specs, tiny_synthetic, [tmp_path / "c0", tmp_path / "c1"], log=lambda m: None, progress=False)
    assert group.run(pairs) == {}
    solo = torch.load(alone / "model.pt", weights_only=False)["state_dict"]
    grouped = torch.load(pairs[1][0], weights_only=False)["state_dict"]
    assert solo.keys() == grouped.keys()
    for key in solo:
        torch.testing.assert_close(grouped[key], solo[key], msg=key)
    diff = max(float((grouped[k].double() - solo[k].double()).abs().max()) for k in solo if solo[k].numel())
    print(f"{method}: max |group - alone| = {diff:.3g}")
    losses = [pd.read_csv(path).drop(columns="time_s") for path in (alone / "losses.csv", pairs[1][1])]
    pd.testing.assert_frame_equal(*losses, check_exact=False, rtol=1e-5)


def test_seeds_in_one_cuda_graph_are_refused_before_training(tmp_path, tiny_synthetic, monkeypatch):
    """One CUDA graph gives all its seeds one stream of random offsets: refused, naming both keys and the
    ways out, before any seed is built. The CPU checks it by pretending the device is a GPU."""
    from cddgan.training import group as group_module

    built: list[dict] = []

    class Member:  # stands in for a Trainer: records that a seed was built
        device = torch.device("cpu")

        def __init__(self, spec, *args, **kwargs) -> None:
            built.append(spec)

    monkeypatch.setattr(group_module, "resolve_device", lambda name: torch.device("cuda"))
    monkeypatch.setattr(group_module, "Trainer", Member)
    want = r"training\.cuda_graph with training\.seeds_per_job.*seeds_per_job: 1.*cuda_graph: false"
    ckpts = [tmp_path / "a", tmp_path / "b"]
    with pytest.raises(HarnessError, match=want):
        GroupTrainer([spec(seed=0), spec(seed=1)], tiny_synthetic, ckpts, execution={"cuda_graph": True})
    last = spec(seed=2)  # the last group of an odd number of seeds holds one: refused all the same
    last["training"]["seeds_per_job"] = 2
    with pytest.raises(HarnessError, match=want):
        GroupTrainer([last], tiny_synthetic, ckpts[:1], execution={"cuda_graph": True})
    assert not built
    GroupTrainer([spec(seed=0), spec(seed=1)], tiny_synthetic, ckpts, execution={"cuda_graph": False})
    assert len(built) == 2  # eager seeds on the GPU train together


def test_on_the_cpu_the_graph_flag_captures_nothing_and_a_group_trains(tmp_path, tiny_synthetic):
    pairs = outputs(tmp_path, 2)
    make_dirs(pairs)
    specs, ckpts = [spec(seed=0), spec(seed=1)], [tmp_path / "c0", tmp_path / "c1"]
    execution = {"cuda_graph": True}
    group = GroupTrainer(specs, tiny_synthetic, ckpts, log=lambda m: None, progress=False, execution=execution)
    assert group.run(pairs) == {}


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
    # seeds_per_job says how the job ran (an execution key: a seed trains what it trains alone)
    assert all(m["failed"] is None and m["execution"]["seeds_per_job"] == 2 for m in models)
    assert all("seeds_per_job" not in m["spec"]["training"] for m in models)
    assert [m["spec"]["seed"] for m in models] == [0, 1]
    log = (tmp_path / "results" / "logs" / "train_group" / "synthetic" / "cut" / "seeds0-1.log").read_text()
    assert "[seed 0] finished" in log and "[seed 1] finished" in log
    assert (tmp_path / "reports" / "index.html").exists()
    again = run_snakemake(tmp_path, "-n", "all", configfile=config)
    assert "Nothing to be done" in again.stdout + again.stderr
