"""The Snakemake profiles and the DAG on a real single-node SLURM cluster (the resource model they read,
cddgan/resources.py, is tested without Snakemake in tests/test_resources.py).

Two layers, cheapest first, both marked `slow` (each runs Snakemake):
- the profiles in dry runs: what every job would ask SLURM for (GPU, memory, wall time, partition from
  the environment) and, locally, that `gpu_slots` keeps training jobs off a shared GPU;
- marker `slurm`: a real cluster (tests/slurm_cluster.py) runs the smoke DAG plus a toy run that crashes
  once mid-way. The crash is reported with its log paths, the rest of the sweep finishes (--keep-going),
  the rerun resumes the toy run from its checkpoint, and the tables equal the local run's exactly (the
  same commands on the same CPU give bit-identical numbers). Skipped only where a cluster cannot be
  started (not root, no apt, another SLURM on the machine);
- marker `slurm`, on a CPU-only cluster (no generic resources configured, so sbatch rejects any job that
  asks for a GPU): the smoke DAG with `training: {device: cpu}` finishes, no job asked for a GPU, and its
  tables equal a local run of the same config. One cluster runs at a time (`clusters`).
"""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path

import pandas as pd
import pytest
import slurm_cluster
import yaml
from smoke import REPO, SMOKE, TESTS_DIR, run_snakemake, snakemake_env, write_config
from test_resources import _config

from cddgan import config as cddgan_config
from cddgan import resources

SLURM_PROFILE = REPO / "workflow" / "profiles" / "slurm"
DEFAULT_PROFILE = REPO / "workflow" / "profiles" / "default"
SMOKE_RUNS = {"identity", "dcp", "cyclegan", "cut"}


# ---- profiles, in dry runs --------------------------------------------------------------------------


def _clean_env(**extra: str) -> dict[str, str]:
    """Snakemake's environment without any SLURM settings of the caller's shell, plus `extra`."""
    env = snakemake_env(str(TESTS_DIR))
    for name in list(env):
        if name.startswith(("SLURM_", "SBATCH_", "SRUN_")):
            del env[name]
    env.update(extra)
    return env


def _pairs(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(", ") if "=" in item)


def dry_run_jobs(output: str) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """(rule, wildcards, resources) of every job a `snakemake -n` printed."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        head = re.match(r"(?:local)?rule (\w+):", block)
        found = re.search(r"^\s+resources: (.*)$", block, re.M)
        if not head or not found:
            continue
        wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.M)
        jobs.append((head.group(1), _pairs(wildcards.group(1)) if wildcards else {}, _pairs(found.group(1))))
    return jobs


def _dry_run(tmp_path: Path, env: dict[str, str], configfile: Path = SMOKE):
    args = ("--profile", str(SLURM_PROFILE), "-n", "all")
    result = run_snakemake(tmp_path, *args, configfile=configfile, env=env)
    jobs = dry_run_jobs(result.stdout + result.stderr)
    rules = {rule for rule, _, _ in jobs}
    assert rules >= {"make_data", "train", "test", "aggregate", "report"}
    return jobs


@pytest.mark.slow
def test_slurm_profile_takes_partition_and_account_from_the_environment(tmp_path):
    jobs = _dry_run(tmp_path / "set", _clean_env(SLURM_PARTITION="gpu-x", SLURM_ACCOUNT="lab-y"))
    asked = {(res.get("slurm_partition"), res.get("slurm_account")) for *_, res in jobs}
    assert asked == {("gpu-x", "lab-y")}
    # Unset: nothing hard-coded; the plugin then uses the cluster's default partition and guesses the account.
    jobs = _dry_run(tmp_path / "unset", _clean_env())
    assert not any("slurm_partition" in res or "slurm_account" in res for _, _, res in jobs)


@pytest.mark.slow
def test_slurm_profile_asks_one_gpu_for_training_and_the_estimate(tmp_path):
    config = _config()
    jobs = _dry_run(tmp_path, _clean_env())
    for rule, wildcards, res in jobs:
        if rule == "train":
            expected = resources.train_resources(config, wildcards["run"])
            assert (res["gpu"], res["gpu_slots"]) == ("1", "1")
            assert (int(res["mem_mb"]), int(res["runtime"])) == (expected["mem_mb"], expected["runtime"])
        elif rule in ("test", "efficiency"):
            assert res["gpu"] == ("1" if config["runs"][wildcards["run"]]["trainable"] else "0")
            # a test job waits for the manifests to learn the size of its test images
            assert res["mem_mb"] == ("<TBD>" if rule == "test" else res["mem_mb"])
        elif rule == "evaluate":
            assert "gpu" not in res and res["mem_mb"] == res["runtime"] == "<TBD>"
        elif rule != "all":
            assert "gpu" not in res and int(res["mem_mb"]) == resources.LIGHT_DEFAULTS["mem_mb"]


@pytest.mark.slow
def test_a_run_can_pin_its_own_partition_and_memory(tmp_path):
    raw = yaml.safe_load(SMOKE.read_text())
    raw["runs"]["cut"]["resources"] = {"slurm_partition": "long", "mem_mb": 1234}
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(raw))
    jobs = _dry_run(tmp_path, _clean_env(SLURM_PARTITION="gpu-x"), configfile)
    train = {wildcards["run"]: res for rule, wildcards, res in jobs if rule == "train"}
    assert (train["cut"]["slurm_partition"], train["cut"]["mem_mb"]) == ("long", "1234")
    assert train["cyclegan"]["slurm_partition"] == "gpu-x"


@pytest.mark.slow
def test_test_jobs_ask_for_what_the_built_test_sets_need(tmp_path):
    env = _clean_env()
    # a test job reads the manifests of all its test sets (the smoke experiment's: synthetic and a shifted
    # one); between them: 12 MP the largest image, 540 MP in all
    sets = ("synthetic", "synthetic-dense")
    run_snakemake(tmp_path, "--cores", "1", *(f"results/data/{name}/manifest.csv" for name in sets), env=env)
    for name in sets:
        sidecar = tmp_path / "results" / "data" / name / "manifest.json"
        meta = json.loads(sidecar.read_text())
        assert meta["test_megapixels"]["largest"] > 0  # recorded by make_data
        sidecar.write_text(json.dumps({**meta, "test_megapixels": {"largest": 12.0, "total": 270.0}}))
    result = run_snakemake(tmp_path, "--profile", str(SLURM_PROFILE), "-n", "all", env=env)
    jobs = dry_run_jobs(result.stdout + result.stderr)
    config = _config()
    asked = {(rule, wildcards.get("run")): (int(res["mem_mb"]), int(res["runtime"]))
             for rule, wildcards, res in jobs if rule == "test"}
    # A test job dehazes, then scores: the larger memory of the two phases, the time of both. Scoring a
    # 12 MP image needs 1.25 * (1000 + 350 * 12) = 6500 MB, more than DCP (1.25 * (1000 + 200 * 12) -> 4500)
    # or CUT on a GPU; DCP's time is 2 * (120 s + (1.0 + 3.0) s/MP * 540 MP) = 76 min -> 80, CUT's on the GPU
    # scoring only, 2 * (120 + 3.0 * 540) = 58 min -> 60.
    assert asked[("test", "dcp")] == (6500, 80)
    assert asked[("test", "cut")] == (6500, 60)
    assert resources.inference_resources(config, "cut")["gpus"] == 1  # the cut row was sized for a GPU


@pytest.mark.slow
@pytest.mark.parametrize("slots", [1, 2])
def test_gpu_slots_limit_how_many_training_jobs_share_the_gpu(tmp_path, slots):
    """Two quick toy runs, --cores 2: with one slot they train one after the other, with two side by side."""
    toy = {"method": "toy-gan", "settings": {"width": 4}}
    runs = {"toy_a": toy, "toy_b": copy.deepcopy(toy)}
    configfile = write_config(tmp_path / "config.yaml", {"plugins": ["toy_method"], "runs": runs})
    targets = [f"results/runs/synthetic/{run}/seed0/model.pt" for run in ("toy_a", "toy_b")]
    result = run_snakemake(
        tmp_path,
        "--profile",
        str(DEFAULT_PROFILE),
        "--cores",
        "2",
        f"--resources=gpu_slots={slots}",  # one value: the targets after it stay targets
        *targets,
        configfile=configfile,
        env=_clean_env(),
    )
    output = result.stdout + result.stderr
    events = re.findall(r"^(?:(?:local)?rule train:|Finished jobid: \d+ \(Rule: train\))", output, re.M)
    starts = ["end" if event.startswith("Finished") else "start" for event in events]
    assert starts == (["start", "end", "start", "end"] if slots == 1 else ["start", "start", "end", "end"])


# ---- a real SLURM cluster --------------------------------------------------------------------------


def _cluster_or_skip() -> None:
    """Skip with the reason where a real cluster cannot run; install SLURM and munge when missing."""
    reason = slurm_cluster.why_not_runnable()
    if reason:
        pytest.skip(reason)
    try:
        slurm_cluster.ensure_installed()
    except slurm_cluster.ClusterError as exc:
        pytest.skip(f"cannot install {' and '.join(slurm_cluster.PACKAGES)} with apt-get: {exc}")


@pytest.mark.slurm
def test_a_cluster_stops_its_daemons_and_restores_the_system_config(tmp_path):
    """Runs before the module's cluster starts: a short-lived cluster comes up, takes a job and goes away."""
    _cluster_or_skip()
    before = slurm_cluster.SYSTEM_CONF.read_bytes() if slurm_cluster.SYSTEM_CONF.exists() else None
    if before is not None and slurm_cluster.CONF_MARKER in before:
        before = None  # the leftover of a killed test run is removed, not restored
    with slurm_cluster.single_node_cluster(tmp_path / "c") as running:
        assert slurm_cluster.SYSTEM_CONF.read_bytes() == running.conf.read_bytes()
        job = running.client(
            "sbatch", "--parsable", "--wait", "--gpus=1", "--mem=100", "--output=/dev/null", "--wrap", "true"
        )
        assert job.returncode == 0, job.stderr + running.logs()
        daemons = list(running.daemons)
    assert [d.name for d in daemons] == list(slurm_cluster.DAEMONS)
    assert all(d.process.returncode is not None for d in daemons)
    assert not slurm_cluster.running_slurm_daemons()
    after = slurm_cluster.SYSTEM_CONF.read_bytes() if slurm_cluster.SYSTEM_CONF.exists() else None
    assert after == before


@pytest.fixture(scope="module")
def clusters(tmp_path_factory):
    """`clusters(gpus)`: a running single-node cluster with that many fake GPUs (0: CPU-only). One at a time
    (a second would find the first's daemons): asking for the other kind stops the running one first.
    Every daemon is stopped by its PID however the tests end."""
    current: list[slurm_cluster.Cluster] = []

    def get(gpus: int) -> slurm_cluster.Cluster:
        if current and current[0].gpus == gpus:
            return current[0]
        if current:
            slurm_cluster.stop(current.pop())
        _cluster_or_skip()
        current.append(slurm_cluster.start(tmp_path_factory.mktemp(f"slurm{gpus}gpus"), gpus=gpus))
        return current[0]

    try:
        yield get
    finally:
        if current:
            slurm_cluster.stop(current.pop())


class Sweep:
    """The smoke DAG plus a toy run that crashes once, on the cluster: first try, then the rerun. With
    `config`, that config instead (no toy run)."""

    def __init__(self, workdir: Path, cluster: slurm_cluster.Cluster, config: Path | None = None) -> None:
        self.workdir = workdir
        self.marker = workdir / "toy-crash.marker"
        crash = {"crash_at": 12, "crash_marker": str(self.marker)}
        toy = {"method": "toy-gan", "label": "Toy", "settings": crash}
        self.config = config or write_config(
            workdir / "config.yaml", {"plugins": ["toy_method"], "runs": {"toy": toy}}, merge=("runs",)
        )
        self.env = _clean_env(**cluster.env, SLURM_PARTITION=slurm_cluster.PARTITION)
        self.train_log = workdir / "results" / "logs" / "train" / "synthetic" / "toy" / "seed0.log"

    def run(self, *extra: str):
        start = time.monotonic()
        result = run_snakemake(
            self.workdir,
            "--profile",
            str(SLURM_PROFILE),
            # no accounting database on the test cluster: poll squeue, and soon (jobs here take seconds)
            "--slurm-status-command",
            "squeue",
            "--slurm-init-seconds-before-status-checks",
            "1",
            "--keep-going",
            *extra,
            "all",
            configfile=self.config,
            env=self.env,
            check=False,
            timeout=1200,
        )
        return result, time.monotonic() - start


@pytest.fixture(scope="module")
def sweep(smoke_run, clusters, tmp_path_factory):
    """Runs the sweep twice (the first without retries, so the crash is final) and records what it saw."""
    cluster = clusters(slurm_cluster.GPUS)
    sweep = Sweep(tmp_path_factory.mktemp("slurm_sweep"), cluster)
    sweep.first, sweep.first_s = sweep.run("--retries", "0")
    sweep.first_train_log = sweep.train_log.read_text() if sweep.train_log.exists() else ""
    sweep.metrics_after_first = sorted((sweep.workdir / "results" / "metrics").rglob("*.csv"))
    sweep.second, sweep.second_s = sweep.run()
    sweep.jobs = cluster.jobs()
    sweep.smoke_run = smoke_run
    sweep.cluster = cluster
    print(f"\nSLURM sweep: first pass {sweep.first_s:.0f} s, rerun {sweep.second_s:.0f} s")
    return sweep


def _output(result) -> str:
    return result.stdout + result.stderr


@pytest.mark.slurm
@pytest.mark.slow
def test_failed_training_job_is_reported_with_its_logs(sweep):
    output = _output(sweep.first)
    assert sweep.first.returncode != 0, output[-3000:]
    error = output[output.index("Error in rule train:") :]
    assert "run=toy" in error or "toy/seed0" in error
    assert "results/logs/train/synthetic/toy/seed0.log" in error
    slurm_log = re.search(r"(\S+/\.snakemake/slurm_logs/rule_train/synthetic_toy_0/\d+\.log)", error)
    assert slurm_log, error[:3000]
    assert Path(slurm_log.group(1)).is_file()
    assert "deliberate crash at update 12" in sweep.first_train_log


@pytest.mark.slurm
@pytest.mark.slow
def test_rest_of_the_sweep_goes_on_after_a_failure(sweep):
    scored = {path.parent.name for path in sweep.metrics_after_first}  # metrics/<experiment>/<run>/seed<k>.csv
    assert scored == SMOKE_RUNS, _output(sweep.first)[-3000:]


@pytest.mark.slurm
@pytest.mark.slow
def test_rerun_resumes_the_failed_run_from_its_checkpoint(sweep):
    assert sweep.second.returncode == 0, _output(sweep.second)[-4000:]
    log = sweep.train_log.read_text()
    assert re.search(r"resumed from checkpoint .*seed0/last\.pt at iteration 8\b", log), log[-2000:]
    again = run_snakemake(sweep.workdir, "-n", "all", configfile=sweep.config, env=sweep.env)
    assert "Nothing to be done" in _output(again)


@pytest.mark.slurm
@pytest.mark.slow
def test_tables_equal_the_local_run(sweep):
    """Same commands, same CPU: the numbers are bit-identical, so the comparison is exact."""
    for table in ("scores.csv", "comparison.csv"):
        local = pd.read_csv(sweep.smoke_run / "results" / "tables" / table)
        remote = pd.read_csv(sweep.workdir / "results" / "tables" / table)
        assert set(remote["run"]) == SMOKE_RUNS | {"toy"}
        remote = remote[remote["run"].isin(SMOKE_RUNS)].reset_index(drop=True)
        pd.testing.assert_frame_equal(remote, local, check_exact=True)


def _minutes(limit: str) -> int:
    """SLURM's [days-]hours:minutes:seconds (or minutes:seconds) as minutes."""
    days, _, clock = limit.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    hours, minutes = (parts[0], parts[1]) if len(parts) == 3 else (0, parts[0])
    return int(days or 0) * 1440 + hours * 60 + minutes


@pytest.mark.slurm
@pytest.mark.slow
def test_jobs_got_the_partition_gpu_memory_and_time_they_asked_for(sweep):
    config = cddgan_config.resolve(yaml.safe_load(sweep.config.read_text()))
    train = [job for job in sweep.jobs if job["comment"].startswith("rule_train_")]
    light = [job for job in sweep.jobs if job["comment"].startswith(("rule_make_data", "rule_aggregate"))]
    assert len(train) == 4 and light, sweep.jobs  # cyclegan, cut, toy twice (crash, resume)
    assert {job["partition"] for job in sweep.jobs} == {slurm_cluster.PARTITION}  # from $SLURM_PARTITION
    for job in train:
        run = job["comment"].split("_wildcards_synthetic_")[1].rsplit("_", 1)[0]
        expected = resources.train_resources(config, run)
        assert job["tres"] == "gres:gpu:1", job
        assert (job["memory"], _minutes(job["time_limit"])) == (f"{expected['mem_mb']}M", expected["runtime"])
    assert all(job["tres"] == "N/A" and job["cpus"] == "1" for job in light)
    # a test job's memory was to be determined until make_data had run: it reached SLURM as a number (the
    # fixed figures: the smoke images are tiny); before one test job per run and seed, evaluate's did
    tests = [job for job in sweep.jobs if job["comment"].startswith("rule_test_")]
    assert tests, sweep.jobs
    for job in tests:
        run = job["comment"].split("_wildcards_synthetic_")[1].rsplit("_", 1)[0]
        assert job["memory"] == f"{resources.inference_resources(config, run)['mem_mb']}M", job
    assert {job["state"] for job in train} == {"COMPLETED", "FAILED"}


# ---- a CPU-only cluster ------------------------------------------------------------------------------

CPU_RULES = {"make_data", "train", "test", "efficiency", "report"}  # submitted (aggregate is a localrule)


@pytest.mark.slurm
@pytest.mark.slow
def test_device_cpu_runs_on_a_cluster_without_gpus(clusters, tmp_path_factory):
    """`training: {device: cpu}` alone: no job asks for a GPU, so a cluster without any accepts every one
    (before, sbatch rejected each train, test and efficiency job), and the tables equal a local run's."""
    start = time.monotonic()
    folder = tmp_path_factory.mktemp("cpu_only")
    config = write_config(folder / "config.yaml", {"training": {"device": "cpu"}}, merge=("training",))
    local = folder / "local"
    run_snakemake(local, "--cores", "2", "all", configfile=config, env=_clean_env())
    local_s = time.monotonic() - start

    cluster = clusters(0)
    # the premise: this cluster has no GPU to give, so a job asking for one is refused at submission
    refused = cluster.client("sbatch", "--gpus=1", "--mem=100", "--output=/dev/null", "--wrap", "true")
    assert refused.returncode != 0, refused.stdout
    cpu_sweep = Sweep(folder / "slurm", cluster, config=config)
    result, slurm_s = cpu_sweep.run()
    jobs = cluster.jobs()
    print(f"\nCPU-only SLURM sweep: local run {local_s:.0f} s, cluster run {slurm_s:.0f} s")

    assert result.returncode == 0, _output(result)[-4000:] + cluster.logs()
    rules = {job["comment"].removeprefix("rule_").split("_wildcards_")[0] for job in jobs}
    assert rules >= CPU_RULES, jobs
    assert [job for job in jobs if job["tres"] != "N/A"] == [], "a job asked for a GPU"
    assert {job["state"] for job in jobs} == {"COMPLETED"}, jobs
    assert {job["partition"] for job in jobs} == {slurm_cluster.PARTITION}
    # training jobs asked for the CPU estimate: host memory holds the networks, CPU speed
    resolved = cddgan_config.resolve(yaml.safe_load(config.read_text()))
    train = [job for job in jobs if job["comment"].startswith("rule_train_")]
    assert len(train) == 2, jobs  # cyclegan, cut
    for job in train:
        run = job["comment"].split("_wildcards_synthetic_")[1].rsplit("_", 1)[0]
        expected = resources.train_resources(resolved, run)
        assert expected["gpus"] == 0
        assert (job["memory"], _minutes(job["time_limit"])) == (f"{expected['mem_mb']}M", expected["runtime"])

    for table in ("comparison.csv", "scores.csv"):
        here = pd.read_csv(local / "results" / "tables" / table)
        there = pd.read_csv(cpu_sweep.workdir / "results" / "tables" / table)
        assert set(there["run"]) == SMOKE_RUNS
        pd.testing.assert_frame_equal(there, here, check_exact=True)
