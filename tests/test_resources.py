"""cddgan/resources.py: what each job asks the scheduler for, against hand computations of the documented
formula, its precedence rules (config, then run, over the estimate), the requests sized by the built test
set, the rule callables Snakemake evaluates, and the summary command. No Snakemake and no SLURM here: the
profiles and the real cluster are in tests/test_slurm.py."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from smoke import SMOKE

from cddgan import config as cddgan_config
from cddgan import resources
from cddgan.errors import ConfigError


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


DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"


def _default_on_cpu(**changes) -> dict:
    """config/config.yaml with `training: {device: cpu}` merged in, plus top-level `changes`."""
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["training"] = {**raw["training"], "device": "cpu"}
    raw.update(changes)
    return cddgan_config.resolve(raw)


def test_explicit_cpu_device_sizes_a_job_for_the_cpu_even_with_a_gpu():
    # the same run as test_cpu_estimate_matches_a_hand_computation, told to train on the CPU: granted a
    # GPU it still computes on the CPU, so host memory, CPU speed and no GPU memory
    on_cpu = _run(threads=4, device="cpu")
    assert resources.runs_on_cpu(on_cpu) and not resources.runs_on_cpu(_run(device="auto"))
    got = resources.estimate_train(on_cpu, gpus=1)
    assert (got["mem_mb"], got["runtime"], got["cpus"], got["gpu_mem_mb"]) == (8000, 340, 4, 0)
    # threads unset: 4 CPUs, as for any CPU training (2 on a GPU)
    assert resources.estimate_train(_run(device="cpu"), gpus=1)["cpus"] == 4


def _wildcards(run: str):
    return type("W", (), {"run": run, "seeds": "0-1"})()


def test_device_cpu_alone_asks_no_gpu_for_any_job_of_the_run():
    """config/config.yaml with `training.device: cpu`: the numbers docs/cluster.md quotes for CPU nodes."""
    config = _default_on_cpu()
    # cddgan: units = 1 * 64^2 * 16 * (4 + 20) = 1,572,864; cost = 40 B/unit * units = 62,914,560 B = 60 MiB
    # host = 1000 + 2048 + 300 + 60 = 3408 MB; * 1.25 = 4260 -> 4500
    # s/it = 0.02 + 62,914,560 * 40 s / (25 * 256^2 * 64 * 29) / 1 thread = 0.8476; (120 + 1000 * 0.8476) * 2
    # / 60 = 32.3 min -> 35
    cddgan = resources.train_resources(config, "cddgan")
    assert {k: cddgan[k] for k in ("gpus", "gpu_slots", "cpus", "mem_mb", "runtime", "gpu_mem_mb")} == {
        "gpus": 0, "gpu_slots": 0, "cpus": 1, "mem_mb": 4500, "runtime": 35, "gpu_mem_mb": 0}
    # cyclegan: 25 B/unit: 37.5 MiB; 1.25 * (3048 + 337.5) -> 4500; s/it = 0.02 + 0.5172; 657 s * 2 -> 25 min
    # cut and fastcut: 20 B/unit -> 20 min; negcut: 30 B/unit -> 30 min
    asked = {run: _pick(resources.train_resources(config, run)) for run in ("cyclegan", "cut", "fastcut", "negcut")}
    assert asked == {"cyclegan": (4500, 25), "cut": (4500, 20), "fastcut": (4500, 20), "negcut": (4500, 30)}
    # the same run with `device: auto` asks for a GPU: 1.25 * (3000 + 2048) -> 6500 MB, the 10 min floor
    gpu = resources.train_resources(cddgan_config.load(DEFAULT_CONFIG), "cddgan")
    assert (gpu["gpus"], gpu["gpu_slots"], gpu["mem_mb"], gpu["runtime"]) == (1, 1, 6500, 10)
    # test and efficiency jobs: on the CPU, 1.25 * (1000 + 2000) = 3750 -> 4000 MB
    test = resources.inference_resources(config, "cddgan")
    assert (test["gpus"], test["gpu_slots"], test["mem_mb"], test["runtime"]) == (0, 0, 4000, 60)
    # the rules' callables: train, train_group (two seeds), efficiency and the sized test job
    from cddgan.layout import Layout
    from cddgan.wiring import Wiring

    w = _wildcards("cddgan")
    sized = type("I", (), {"manifests": []})()  # no sidecar figures: the fixed figures apply
    for kind, rule in [
        ("train", resources.rule_resources(config, "train")),
        ("train_group", Wiring(config, Layout.of(config)).group_resources()),
        ("efficiency", resources.rule_resources(config, "inference")),
        ("test", resources.rule_resources(config, "inference", sized=True)),
    ]:
        assert (rule["gpu"](w), rule["gpu_slots"](w)) == (0, 0), kind
    assert Wiring(config, Layout.of(config)).group_resources()["mem_mb"](w, 1) == 2 * 4500
    test_rule = resources.rule_resources(config, "inference", sized=True)
    # a test job of 40 + 5 * 40 images of 96 px (0.0092 MP each): the CPU floors, no GPU
    assert (test_rule["mem_mb"](w, sized, 1), test_rule["runtime"](w, sized)) == (4000, 60)
    mp = 96 * 96 / 1e6
    sized_test = resources.sized_by_test_images(config, "inference", "cddgan", mp, 240 * mp, scored=True)
    assert (sized_test["gpus"], sized_test["gpu_slots"], _pick(sized_test)) == (0, 0, (4000, 60))
    # training-free runs never asked for a GPU
    assert resources.inference_resources(config, "dcp")["gpus"] == 0


def test_a_runs_own_device_decides_for_its_jobs():
    raw = yaml.safe_load(SMOKE.read_text())
    raw["runs"]["cut"]["training"] = {"device": "cpu"}
    config = cddgan_config.resolve(raw)
    # smoke cut: units = 32^2 * 8 * (2 + 20) = 180,224; 20 B/unit = 3.4 MiB; 1.25 * (3048 + 303.4) -> 4500;
    # s/it = 0.02 + 3,604,480 * 40 / 3,040,870,400 = 0.0674; (120 + 16 * 0.0674) * 2 / 60 = 4.04 -> 10 (floor)
    cut, cyclegan = resources.train_resources(config, "cut"), resources.train_resources(config, "cyclegan")
    assert (cut["gpus"], cut["gpu_slots"], cut["mem_mb"], cut["runtime"], cut["gpu_mem_mb"]) == (0, 0, 4500, 10, 0)
    assert (cyclegan["gpus"], cyclegan["gpu_slots"], cyclegan["mem_mb"]) == (1, 1, 6500)
    assert resources.inference_resources(config, "cut")["gpus"] == 0
    assert resources.inference_resources(config, "cyclegan")["gpus"] == 1
    # the other way round: the config says cpu, one run says cuda
    raw = yaml.safe_load(SMOKE.read_text())
    raw["training"] = {**raw["training"], "device": "cpu"}
    raw["runs"]["cut"]["training"] = {"device": "cuda"}
    config = cddgan_config.resolve(raw)
    assert resources.train_resources(config, "cut")["gpus"] == 1
    assert resources.train_resources(config, "cyclegan")["gpus"] == 0


@pytest.mark.parametrize("where", ["config", "run"])
def test_an_explicit_gpu_request_wins_over_device_cpu(where):
    """`device: cpu` plus `gpus: 1` written by hand: the job gets the GPU it asked for (the user wrote it),
    and is sized for the CPU, where it computes."""
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["training"] = {**raw["training"], "device": "cpu"}
    if where == "config":
        raw["resources"] = {"train": {"gpus": 1}}
    else:
        raw["runs"]["cddgan"]["resources"] = {"gpus": 1}
    config = cddgan_config.resolve(raw)
    train = resources.train_resources(config, "cddgan")
    assert (train["gpus"], train["gpu_slots"], train["mem_mb"], train["runtime"], train["gpu_mem_mb"]) == (
        1, 1, 4500, 35, 0)
    test = resources.inference_resources(config, "cddgan")
    assert (test["gpus"], test["gpu_slots"], test["mem_mb"]) == (1, 1, 4000)
    # and `gpus: 0` by hand still means the CPU under `device: auto` (the old way, unchanged)
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["resources"] = {"train": {"gpus": 0}}
    old_way = resources.train_resources(cddgan_config.resolve(raw), "cddgan")
    assert old_way == resources.train_resources(_default_on_cpu(), "cddgan")


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
    # a run pinned to the CPU dehazes there even where the config asks its jobs for a GPU (now only by
    # writing `gpus: 1`: `device: cpu` alone asks for none, test_device_cpu_alone_asks_no_gpu_...)
    raw_pinned = copy.deepcopy(raw)
    raw_pinned["resources"] = {"train": {"gpus": 1}}
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


def test_sized_rules_read_the_manifests_and_wait_for_them(tmp_path):
    config = _config()
    rule = resources.rule_resources(config, "light", sized=True)
    wildcards = type("W", (), {"run": "dcp"})()
    missing = type("I", (), {"manifests": [str(tmp_path / "nope" / "manifest.csv")]})()
    with pytest.raises(FileNotFoundError) as info:  # Snakemake's cue to evaluate it once the file exists
        rule["mem_mb"](wildcards, missing, 1)
    assert info.value.filename == missing.manifests[0]
    built = type("I", (), {"manifests": [str(_sidecar(tmp_path, {"largest": 12.0, "total": 540.0}))]})()
    assert [rule["mem_mb"](wildcards, built, attempt) for attempt in (1, 2)] == [6500, 13000]
    assert rule["runtime"](wildcards, built) == 60
    old = type("I", (), {"manifests": [str(_sidecar(tmp_path / "old", None))]})()
    assert rule["mem_mb"](wildcards, old, 1) == resources.light_resources(config)["mem_mb"]
    assert resources.read_test_megapixels(old.manifests[0]) is None
    # a test job's sets: memory follows the largest image of any set, time the sum of all of them
    two = [str(_sidecar(tmp_path / "a", {"largest": 12.0, "total": 540.0})),
           str(_sidecar(tmp_path / "b", {"largest": 2.0, "total": 1460.0}))]
    assert resources.read_test_sets_megapixels(two) == (12.0, 2000.0)
    assert resources.read_test_sets_megapixels([*two, old.manifests[0]]) is None
    # ... and a test job (inference, sized) dehazes, then scores: DCP's 1.25 * (1000 + 350 * 12) = 6500 MB
    # (scoring needs more than DCP's 4500), 2 * (120 + (1.0 + 3.0) * 2000) / 60 = 270.7 min -> 275
    test = resources.rule_resources(config, "inference", sized=True)  # DCP is training-free: the CPU
    both = type("I", (), {"manifests": two})()
    assert (test["mem_mb"](wildcards, both, 1), test["runtime"](wildcards, both)) == (6500, 275)


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
    # further files are merged over the first, as Snakemake merges several --configfile
    cpu = tmp_path / "cpu.yaml"
    cpu.write_text("training: {device: cpu}\n")
    assert resources.main([str(SMOKE), str(cpu)]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()[1:]]
    assert {(row[0], row[1], row[2]) for row in rows} == {("cut", "0", "0"), ("cyclegan", "0", "0")}
    assert resources.main([]) == 2

