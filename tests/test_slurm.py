"""Scheduler resources, the Snakemake profiles, and the DAG on a real single-node SLURM cluster.

Three layers, cheapest first:
- cddgan/resources.py against hand computations of its documented formula, and its precedence rules;
- the profiles in dry runs: what every job would ask SLURM for (GPU, memory, wall time, partition from
  the environment) and, locally, that `gpu_slots` keeps training jobs off a shared GPU;
- marker `slurm`: a real cluster (tests/slurm_cluster.py) runs the smoke DAG plus a toy run that crashes
  once mid-way. The crash is reported with its log paths, the rest of the sweep finishes (--keep-going),
  the rerun resumes the toy run from its checkpoint, and the tables equal the local run's exactly (the
  same commands on the same CPU give bit-identical numbers). Skipped only where a cluster cannot be
  started (not root, no apt, another SLURM on the machine).
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

from cddgan import config as cddgan_config
from cddgan import resources
from cddgan.errors import ConfigError

SLURM_PROFILE = REPO / "workflow" / "profiles" / "slurm"
DEFAULT_PROFILE = REPO / "workflow" / "profiles" / "default"
SMOKE_RUNS = {"identity", "dcp", "cyclegan", "cut"}


# ---- cddgan/resources.py -----------------------------------------------------------------------------


def _run(method="cyclegan", crop=256, ngf=64, n_blocks=9, batch=1, iterations=1000, threads=None, **training):
    return {
        "method": method,
        "trainable": True,
        "settings": {"ngf": ngf, "n_blocks": n_blocks},
        "training": {
            "crop": crop,
            "batch_size": batch,
            "iterations": iterations,
            "threads": threads,
            "workers": 0,
            "cache_images": "auto",
            **training,
        },
    }


def test_cpu_estimate_matches_a_hand_computation():
    # units = 256^2 * 64 * (9 + 20) = 121,634,816; cost = 25 B/unit * units = 3,040,870,400 B = 2900 MiB
    # host = 1000 (framework) + 2048 (image cache) + 300 + 2900 (training) = 6248 MB; * 1.25 = 7810 -> 8000
    # s/it = 0.02 + 40 s / 4 threads = 10.02; (120 + 1000 * 10.02) * 2 / 60 = 338 min -> 340
    got = resources.estimate_train(_run(threads=4), gpus=0)
    assert (got["mem_mb"], got["runtime"], got["cpus"], got["gpu_mem_mb"]) == (8000, 340, 4, 0)


def test_gpu_estimate_matches_a_hand_computation():
    # host = 3000 (torch + CUDA) + 2048 (cache) = 5048 MB; * 1.25 = 6310 -> 6500 (activations live on the GPU)
    # s/it = 0.02 + 0.25 = 0.27; (120 + 1000 * 0.27) * 2 / 60 = 13 min -> 15; CPUs: 2 when threads unset
    # GPU memory: (300 + 2900 + 600 context) * 1.25 = 4750 -> 5000
    got = resources.estimate_train(_run(), gpus=1)
    assert (got["mem_mb"], got["runtime"], got["cpus"], got["gpu_mem_mb"]) == (6500, 15, 2, 5000)


@pytest.mark.parametrize(
    "bigger",
    [{"crop": 512}, {"ngf": 128}, {"n_blocks": 18}, {"batch": 4}, {"method": "cddgan"}],
    ids=lambda change: next(iter(change)),
)
def test_a_bigger_model_or_crop_asks_for_more(bigger):
    small_cpu, big_cpu = resources.estimate_train(_run(), 0), resources.estimate_train(_run(**bigger), 0)
    assert big_cpu["mem_mb"] > small_cpu["mem_mb"] and big_cpu["runtime"] > small_cpu["runtime"]
    small_gpu, big_gpu = resources.estimate_train(_run(), 1), resources.estimate_train(_run(**bigger), 1)
    assert big_gpu["gpu_mem_mb"] > small_gpu["gpu_mem_mb"] and big_gpu["runtime"] > small_gpu["runtime"]


def test_runtime_grows_with_iterations_and_never_drops_below_the_floor():
    short = resources.estimate_train(_run(iterations=1), 1)["runtime"]
    long = resources.estimate_train(_run(iterations=100_000), 1)["runtime"]
    assert short == resources.MIN_RUNTIME_MIN
    # (120 + 1e5 * 0.27) * 2 / 60 = 904 min -> 905
    assert long == 905


def _config(**changes) -> dict:
    raw = yaml.safe_load(SMOKE.read_text())
    for key, value in changes.items():
        raw[key] = value
    return cddgan_config.resolve(raw)


def test_config_and_run_resources_override_the_estimate_in_that_order():
    raw = yaml.safe_load(SMOKE.read_text())
    raw["resources"] = {"train": {"mem_mb": 7000, "runtime": 30}}
    raw["runs"]["cut"]["resources"] = {"mem_mb": 1234, "gpus": 2}
    config = cddgan_config.resolve(raw)
    estimate = resources.estimate_train(config["runs"]["cyclegan"], gpus=1)
    cyclegan = resources.train_resources(config, "cyclegan")
    cut = resources.train_resources(config, "cut")
    assert (cyclegan["mem_mb"], cyclegan["runtime"], cyclegan["cpus"]) == (7000, 30, estimate["cpus"])
    assert (cut["mem_mb"], cut["runtime"], cut["gpus"]) == (1234, 30, 2)


def test_cpu_only_training_counts_activations_in_host_memory_and_takes_no_gpu_slot():
    raw = yaml.safe_load(SMOKE.read_text())
    raw["resources"] = {"train": {"gpus": 0}}
    config = cddgan_config.resolve(raw)
    cpu = resources.train_resources(config, "cyclegan")
    gpu = resources.train_resources(_config(), "cyclegan")
    assert (cpu["gpus"], cpu["gpu_slots"], gpu["gpus"], gpu["gpu_slots"]) == (0, 0, 1, 1)
    expected = resources.estimate_train(config["runs"]["cyclegan"], gpus=0)["mem_mb"]
    assert cpu["mem_mb"] == expected


def test_inference_follows_the_run_light_jobs_ask_for_little():
    config = _config()
    assert resources.inference_resources(config, "cyclegan")["gpus"] == 1
    assert resources.inference_resources(config, "dcp")["gpus"] == 0
    light = resources.light_resources(config)
    assert (light["gpus"], light["cpus"]) == (0, 1)
    assert light["mem_mb"] < resources.train_resources(config, "cyclegan")["mem_mb"]


def test_memory_grows_with_the_attempt_and_slurm_keys_appear_only_when_configured(monkeypatch):
    monkeypatch.delenv("SLURM_PARTITION", raising=False)
    monkeypatch.delenv("SBATCH_PARTITION", raising=False)
    config = _config()
    rule = resources.rule_resources(config, "train")
    wildcards = type("W", (), {"run": "cut"})()
    base = resources.train_resources(config, "cut")["mem_mb"]
    assert [rule["mem_mb"](wildcards, attempt) for attempt in (1, 2, 3)] == [base, 2 * base, 3 * base]
    assert rule["gpu"](wildcards) == 1 and "slurm_partition" not in rule
    assert "gpu" not in resources.rule_resources(config, "light")

    raw = yaml.safe_load(SMOKE.read_text())
    raw["runs"]["cut"]["resources"] = {"slurm_partition": "long"}
    rule = resources.rule_resources(cddgan_config.resolve(raw), "train")
    other = type("W", (), {"run": "cyclegan"})()
    assert rule["slurm_partition"](wildcards) == "long" and rule["slurm_partition"](other) is None
    monkeypatch.setenv("SLURM_PARTITION", "from-env")
    assert rule["slurm_partition"](wildcards) == "long" and rule["slurm_partition"](other) == "from-env"


def _sidecar(tmp_path: Path, figures: dict | None) -> Path:
    """A built manifest whose sidecar records these test megapixels (None: an older sidecar without them)."""
    manifest = tmp_path / "manifest.csv"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text("dataset,split,domain,image_id,pair_id,scene_id,path,beta,airlight,depth\n")
    meta = {"dataset": "ds", "counts": {}} | ({"test_megapixels": figures} if figures else {})
    manifest.with_suffix(".json").write_text(json.dumps(meta))
    return manifest


def test_test_images_size_the_dehaze_and_evaluate_jobs():
    raw = yaml.safe_load(SMOKE.read_text())
    raw["resources"] = {"train": {"gpus": 0}}  # dehaze on the CPU: the generator's activations count
    raw["runs"]["cut"]["settings"] = {**raw["runs"]["cut"]["settings"], "ngf": 64}
    raw["runs"]["cyclegan"]["settings"] = {**raw["runs"]["cyclegan"]["settings"], "ngf": 32}
    cpu = cddgan_config.resolve(raw)
    big = (12.0, 540.0)  # 45 images of 12 MP
    # evaluate: 1.25 * (1000 + 350 * 12) = 6500; 2 * (120 + 3 * 540) / 60 = 58 -> 60 (the fixed 60 stays)
    assert _pick(resources.sized_by_test_images(cpu, "light", None, *big)) == (6500, 60)
    # DCP: 1.25 * (1000 + 200 * 12) = 4250 -> 4500; 2 * (120 + 540) / 60 = 22 -> 60 (fixed)
    assert _pick(resources.sized_by_test_images(cpu, "inference", "dcp", *big)) == (4500, 60)
    # CUT's layout at ngf 64 on the CPU: 1.25 * (1000 + 1750 * 12) = 27,500; 2 * (120 + 34 * 540) / 60 = 616 -> 620
    assert _pick(resources.sized_by_test_images(cpu, "inference", "cut", *big)) == (27500, 620)
    # CycleGAN's plain layout at ngf 32: 1.25 * (1000 + 900 / 2 * 12) = 8000; 2 * (120 + 24 / 4 * 540) / 60 = 112 -> 115
    assert _pick(resources.sized_by_test_images(cpu, "inference", "cyclegan", *big)) == (8000, 115)
    # on a GPU the host holds the image only: 1.25 * (3000 + 60 * 12) = 4650 -> 5000, below the fixed 6500
    gpu = _config()
    assert _pick(resources.sized_by_test_images(gpu, "inference", "cut", *big)) == (
        resources.inference_resources(gpu, "cut")["mem_mb"], 60)
    # small images never lower the fixed figures
    assert resources.sized_by_test_images(cpu, "light", None, 0.01, 0.3) == resources.light_resources(cpu)
    # a run pinned to the CPU dehazes there even where the config asks its jobs for a GPU
    raw_pinned = copy.deepcopy(raw)
    raw_pinned["resources"] = {}
    raw_pinned["runs"]["cut"]["training"] = {"device": "cpu"}
    pinned = cddgan_config.resolve(raw_pinned)
    assert resources.inference_resources(pinned, "cut")["gpus"] == 1
    assert resources.sized_by_test_images(pinned, "inference", "cut", *big)["mem_mb"] == 27500
    # memory or time set in resources.light stay as set (e.g. a partition's time limit)
    raw_light = copy.deepcopy(raw)
    raw_light["resources"] = {"light": {"runtime": 30}}
    light = cddgan_config.resolve(raw_light)
    assert _pick(resources.sized_by_test_images(light, "light", None, 12.0, 2000.0)) == (6500, 30)
    assert _pick(resources.sized_by_test_images(cpu, "light", None, 12.0, 2000.0)) == (6500, 205)
    with pytest.raises(ConfigError, match="train job is not sized"):
        resources.sized_by_test_images(cpu, "train", "cut", *big)


def _pick(job: dict) -> tuple[int, int]:
    return job["mem_mb"], job["runtime"]


def test_sized_rules_read_the_manifest_and_wait_for_it(tmp_path):
    config = _config()
    rule = resources.rule_resources(config, "light", sized=True)
    wildcards = type("W", (), {"run": "dcp"})()
    missing = type("I", (), {"manifest": str(tmp_path / "nope" / "manifest.csv")})()
    with pytest.raises(FileNotFoundError) as info:  # Snakemake's cue to evaluate it once the file exists
        rule["mem_mb"](wildcards, missing, 1)
    assert info.value.filename == missing.manifest
    built = type("I", (), {"manifest": str(_sidecar(tmp_path, {"largest": 12.0, "total": 540.0}))})()
    assert [rule["mem_mb"](wildcards, built, attempt) for attempt in (1, 2)] == [6500, 13000]
    assert rule["runtime"](wildcards, built) == 60
    old = type("I", (), {"manifest": str(_sidecar(tmp_path / "old", None))})()
    assert rule["mem_mb"](wildcards, old, 1) == resources.light_resources(config)["mem_mb"]
    assert resources.read_test_megapixels(old.manifest) is None


def test_bad_requests_name_what_is_wrong():
    config = _config()
    with pytest.raises(ConfigError, match=r"runs\.nope: unknown run.*cut"):
        resources.train_resources(config, "nope")
    with pytest.raises(ConfigError, match="not trainable"):
        resources.train_resources(config, "dcp")
    with pytest.raises(ConfigError, match="unknown job kind 'gpu'"):
        resources.rule_resources(config, "gpu")


def test_summary_command_lists_training_jobs(capsys, tmp_path):
    assert resources.main([str(SMOKE)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t")[:3] == ["run", "gpus", "gpu_slots"]
    assert sorted(line.split("\t")[0] for line in lines[1:]) == ["cut", "cyclegan"]
    assert resources.main([str(tmp_path / "missing.yaml")]) == 1
    assert "config file not found" in capsys.readouterr().err


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
    assert rules >= {"make_data", "train", "dehaze", "evaluate", "aggregate", "report"}
    return jobs


def test_slurm_profile_takes_partition_and_account_from_the_environment(tmp_path):
    jobs = _dry_run(tmp_path / "set", _clean_env(SLURM_PARTITION="gpu-x", SLURM_ACCOUNT="lab-y"))
    asked = {(res.get("slurm_partition"), res.get("slurm_account")) for *_, res in jobs}
    assert asked == {("gpu-x", "lab-y")}
    # Unset: nothing hard-coded; the plugin then uses the cluster's default partition and guesses the account.
    jobs = _dry_run(tmp_path / "unset", _clean_env())
    assert not any("slurm_partition" in res or "slurm_account" in res for _, _, res in jobs)


def test_slurm_profile_asks_one_gpu_for_training_and_the_estimate(tmp_path):
    config = _config()
    jobs = _dry_run(tmp_path, _clean_env())
    for rule, wildcards, res in jobs:
        if rule == "train":
            expected = resources.train_resources(config, wildcards["run"])
            assert (res["gpu"], res["gpu_slots"]) == ("1", "1")
            assert (int(res["mem_mb"]), int(res["runtime"])) == (expected["mem_mb"], expected["runtime"])
        elif rule in ("dehaze", "efficiency"):
            assert res["gpu"] == ("1" if config["runs"][wildcards["run"]]["trainable"] else "0")
            # dehaze waits for the manifest to learn the size of its test images
            assert res["mem_mb"] == ("<TBD>" if rule == "dehaze" else res["mem_mb"])
        elif rule == "evaluate":
            assert "gpu" not in res and res["mem_mb"] == res["runtime"] == "<TBD>"
        elif rule != "all":
            assert "gpu" not in res and int(res["mem_mb"]) == resources.LIGHT_DEFAULTS["mem_mb"]


def test_a_run_can_pin_its_own_partition_and_memory(tmp_path):
    raw = yaml.safe_load(SMOKE.read_text())
    raw["runs"]["cut"]["resources"] = {"slurm_partition": "long", "mem_mb": 1234}
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(raw))
    jobs = _dry_run(tmp_path, _clean_env(SLURM_PARTITION="gpu-x"), configfile)
    train = {wildcards["run"]: res for rule, wildcards, res in jobs if rule == "train"}
    assert (train["cut"]["slurm_partition"], train["cut"]["mem_mb"]) == ("long", "1234")
    assert train["cyclegan"]["slurm_partition"] == "gpu-x"


def test_dehaze_and_evaluate_ask_for_what_the_built_test_set_needs(tmp_path):
    env = _clean_env()
    run_snakemake(tmp_path, "--cores", "1", "results/data/synthetic/manifest.csv", env=env)
    sidecar = tmp_path / "results" / "data" / "synthetic" / "manifest.json"
    meta = json.loads(sidecar.read_text())
    assert meta["test_megapixels"]["largest"] > 0  # recorded by make_data
    sidecar.write_text(json.dumps({**meta, "test_megapixels": {"largest": 12.0, "total": 540.0}}))
    result = run_snakemake(tmp_path, "--profile", str(SLURM_PROFILE), "-n", "all", env=env)
    jobs = dry_run_jobs(result.stdout + result.stderr)
    config = _config()
    asked = {(rule, wildcards.get("run")): (int(res["mem_mb"]), int(res["runtime"]))
             for rule, wildcards, res in jobs if rule in ("dehaze", "evaluate")}
    assert asked[("evaluate", "cut")] == (6500, 60)  # 1.25 * (1000 + 350 * 12)
    assert asked[("dehaze", "dcp")] == (4500, 60)  # 1.25 * (1000 + 200 * 12) -> 4500
    assert asked[("dehaze", "cut")] == (resources.inference_resources(config, "cut")["mem_mb"], 60)  # on a GPU


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
def cluster(tmp_path_factory):
    """A single-node cluster for this module; every daemon is stopped by its PID however the tests end."""
    _cluster_or_skip()
    with slurm_cluster.single_node_cluster(tmp_path_factory.mktemp("slurm")) as running:
        yield running


class Sweep:
    """The smoke DAG plus a toy run that crashes once, on the cluster: first try, then the rerun."""

    def __init__(self, workdir: Path, cluster: slurm_cluster.Cluster) -> None:
        self.workdir = workdir
        self.marker = workdir / "toy-crash.marker"
        crash = {"crash_at": 12, "crash_marker": str(self.marker)}
        toy = {"method": "toy-gan", "label": "Toy", "settings": crash}
        self.config = write_config(
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
def sweep(smoke_run, cluster, tmp_path_factory):
    """Runs the sweep twice (the first without retries, so the crash is final) and records what it saw."""
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
    scored = {path.parent.parent.name for path in sweep.metrics_after_first}
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
    # evaluate's memory was to be determined until make_data had run: it reached SLURM as a number
    evaluate = [job for job in sweep.jobs if job["comment"].startswith("rule_evaluate")]
    assert evaluate and {job["memory"] for job in evaluate} == {f"{resources.LIGHT_DEFAULTS['mem_mb']}M"}
    assert {job["state"] for job in train} == {"COMPLETED", "FAILED"}
