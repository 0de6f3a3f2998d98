"""Reruns are exact: after a finished sweep, a config change plans exactly the jobs it affects (Snakemake's
parameter and mtime tracking, checked with --dry-run), and no change plans nothing.

The sweep is tiny but has the shape that matters: two datasets (`synthetic` trains and tests, `synth-b` only
tests), a training-free run and two trained runs, so "only this run" and "only downstream of this dataset"
can be told apart from "everything".
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from smoke import TESTS_DIR, job_stats, run_snakemake, snakemake_env, write_config

pytestmark = pytest.mark.slow

RAW = {
    "plugins": ["toy_method"],
    "datasets": {
        "synthetic": {"adapter": "synthetic", "seed": 0, "size": 48, "n_train_clear": 8, "n_train_hazy": 8,
                      "n_test": 2, "protocol": "rgb"},
        "synth-b": {"adapter": "synthetic", "seed": 1, "size": 32, "n_train_clear": 1, "n_train_hazy": 1,
                    "n_test": 2, "protocol": "rgb"},
    },
    "experiments": {"synthetic": {"train": "synthetic", "test": ["synthetic", "synth-b"]}},
    "training": {"iterations": 4, "crop": 32, "checkpoint_every": 2, "log_every": 2, "threads": 1,
                 "efficiency_iterations": 1},
    "runs": {
        "identity": {"method": "identity", "label": "Hazy input"},
        "toy-a": {"method": "toy-gan", "label": "Toy A", "settings": {"width": 4}},
        "toy-b": {"method": "toy-gan", "label": "Toy B", "settings": {"width": 2}},
    },
    "report": {"visual_images": 1},
}
EXPERIMENT = "synthetic"
TRAIN_SET = "synthetic"
RUNS = ("identity", "toy-a", "toy-b")
TRAINED = ("toy-a", "toy-b")
# Jobs that depend on everything: any change that reaches a metric, or the resolved config, replans them.
# The aggregate job writes the tables and the config snapshot together (flagged update(): kept if it fails).
SHARED = {("aggregate", "results/tables/scores.csv (update)"), ("report", "reports/index.html")}


def run_jobs(run: str, train=True) -> set[tuple[str, str]]:
    """The (rule, first output) of every job of one run: training, efficiency, and its test job (which
    dehazes and scores every test set of the experiment in one process)."""
    jobs = {("efficiency", f"results/efficiency/{EXPERIMENT}/{run}.json")} if train else set()
    if train and run in TRAINED:
        jobs.add(("train", f"results/runs/{EXPERIMENT}/{run}/seed0/model.pt"))
    jobs.add(("test", f"results/outputs/{EXPERIMENT}/{run}/seed0"))
    return jobs


BLOCK = re.compile(r"^(?:local)?rule (\S+):\n(.*?)(?=^\S|\Z)", re.M | re.S)


def planned(output: str) -> set[tuple[str, str]]:
    """(rule, first output) of every job a dry run plans, the `all` target excepted."""
    jobs = set()
    for rule, body in BLOCK.findall(output):
        if rule == "all":
            continue
        outputs = re.search(r"^\s+output: ([^,\n]+)", body, re.M)
        jobs.add((rule, outputs.group(1).strip() if outputs else ""))
    return jobs


def changed(**edits) -> dict:
    """RAW with dotted-path edits, e.g. changed(**{"runs.toy-a.settings.width": 3})."""
    raw = copy.deepcopy(RAW)
    for dotted, value in edits.items():
        node = raw
        *parents, last = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return raw


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished sweep of RAW; the tests only dry-run against it, so they can share it."""
    workdir = tmp_path_factory.mktemp("rerun_exact")
    config = write_config(workdir / "config.yaml", RAW)
    run_snakemake(workdir, "--cores", "2", "all", configfile=config, env=snakemake_env(str(TESTS_DIR)))
    return workdir


def dry_run(workdir: Path, raw: dict, name: str) -> str:
    config = write_config(workdir / f"{name}.yaml", raw)
    result = run_snakemake(workdir, "--cores", "1", "all", "--dry-run", configfile=config,
                           env=snakemake_env(str(TESTS_DIR)))
    return result.stdout + result.stderr


def assert_plan(output: str, expected: set[tuple[str, str]]) -> None:
    jobs = planned(output)
    assert jobs == expected, f"unexpected: {sorted(jobs - expected)}; missing: {sorted(expected - jobs)}"
    counts: dict[str, int] = {}
    for rule, _ in expected:
        counts[rule] = counts.get(rule, 0) + 1
    assert {rule: n for rule, n in job_stats(output).items() if rule != "all"} == counts


def test_no_change_plans_nothing(finished):
    output = dry_run(finished, RAW, "same")
    assert "Nothing to be done" in output
    assert planned(output) == set()


@pytest.mark.parametrize(
    ("edit", "run"),
    [
        ({"runs.toy-a.settings.width": 3}, "toy-a"),
        ({"runs.toy-b.training": {"iterations": 6}}, "toy-b"),
        ({"runs.identity.method": "dcp"}, "identity"),
    ],
    ids=["settings", "training", "method"],
)
def test_changing_one_run_replans_only_that_run(finished, edit, run):
    output = dry_run(finished, changed(**edit), "one-run")
    assert_plan(output, run_jobs(run) | SHARED)


def test_changing_a_label_replans_only_the_snapshot_and_report(finished):
    """The snapshot is written with the tables, by the aggregate job: it reruns (cheap), nothing else."""
    output = dry_run(finished, changed(**{"runs.toy-b.label": "Toy B (renamed)"}), "label")
    assert_plan(output, SHARED)


def test_changing_how_runs_execute_retrains_nothing(finished):
    """Execution keys (cddgan.config.EXECUTION_KEYS) reach the jobs as an untracked param: no training,
    dehazing or scoring is redone. Only the efficiency jobs, which measure these choices, are."""
    execution = {"log_every": 1, "checkpoint_every": 3, "threads": 2, "cache_images": False, "cuda_graph": True,
                 "fused_adam": True, "device": "cpu"}
    raw = changed(training={**RAW["training"], **execution})
    expected = {("efficiency", f"results/efficiency/{EXPERIMENT}/{run}.json") for run in RUNS}
    expected |= SHARED
    assert_plan(dry_run(finished, raw, "execution"), expected)


def test_changing_amp_retrains(finished):
    """bf16 changes what a run computes: unlike the execution keys, it is part of the tracked spec."""
    output = dry_run(finished, changed(**{"runs.toy-a.training": {"amp": True}}), "amp")
    assert_plan(output, run_jobs("toy-a") | SHARED)


def test_changing_a_test_only_dataset_replans_what_reads_it(finished):
    output = dry_run(finished, changed(**{"datasets.synth-b.n_test": 3}), "test-set")
    expected = {("make_data", "results/data/synth-b/manifest.csv")} | SHARED
    for run in RUNS:  # each run's test job (all its test sets in one job); no training, no efficiency
        expected |= run_jobs(run, train=False)
    assert_plan(output, expected)


def test_changing_the_training_dataset_replans_everything_downstream_of_it(finished):
    output = dry_run(finished, changed(**{"datasets.synthetic.n_train_hazy": 7}), "train-set")
    # Trained runs are redone (new weights); the training-free run's test job (its `synthetic` images changed)
    # and its efficiency job (which reads the training manifest). synth-b's data stays.
    expected = {("make_data", "results/data/synthetic/manifest.csv")} | SHARED
    expected |= run_jobs("toy-a") | run_jobs("toy-b")
    expected |= run_jobs("identity")
    assert_plan(output, expected)
