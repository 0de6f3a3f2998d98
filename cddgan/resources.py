"""What each job asks the scheduler for (GPUs, CPUs, memory, wall time), estimated from the config.

Why estimate: on a cluster a job states its memory and wall time up front. Too little and SLURM kills
it; too much and it waits longer in the queue. A GAN's cost grows with the crop, the batch, the width
(`ngf`) and depth (`n_blocks`) of its generators and the number of iterations, so the request follows
them. Precedence, lowest first: this estimate, the config's `resources.train` (or `resources.light`),
the run's own `resources:`. On the command line `--set-resources train:mem_mb=...` beats all of them.

Where a run computes decides the GPU request: a trained run asks for one GPU per training, test and
efficiency job unless its `training.device` is `cpu` (config-wide or the run's own), which asks for none
and is sized for the CPU (`runs_on_cpu`). A `gpus` set in `resources` still wins: a run on the CPU whose
jobs are told `gpus: 1` gets the GPU it asked for, and its memory and time stay those of the CPU, where it
computes.

The estimate (constants below; measured on the CPU, peak RSS of `cddgan.training.loop.Trainer`, see
docs/cluster.md; `bytes_per_unit` is the method's own fact, `cddgan.methods.base.Method.bytes_per_unit`):

    units     = batch_size * crop**2 * ngf * (n_blocks + 20)      # activation volume of one iteration
    train_mb  = 300 + bytes_per_unit * units / 2**20              # activations, gradients, Adam state
    host_mb   = framework (1000; 3000 with CUDA) + image cache (2048) + train_mb on the CPU
    mem_mb    = host_mb * 1.25, rounded up to 500 MB; multiplied by the attempt on retries
    s_per_it  = 0.02 + bytes_per_unit * units * (GPU_S | CPU_S / cpus)
    runtime   = 2 * (2 min + iterations * s_per_it), in minutes, rounded up to 5, at least 10

Dehaze and evaluate jobs also follow the size of their test images, once `make_data` has recorded it
(`sized_by_test_images`): memory grows with the largest image, wall time with the split's megapixels,
never below the figures above. A multi-megapixel set such as O-HAZE would otherwise be killed for its
memory on every attempt.

`units` grows linearly in each factor because a ResNet generator's activations are dominated by its
full- and half-resolution layers (the `+ 20`) plus one quarter-resolution block per `n_blocks`. The GPU
speed is that of a V100-class card (paper-scale CycleGAN: 0.25 s per iteration), so newer cards finish
early; a job that outlives its wall time is retried and resumes from its checkpoint.
"""

from __future__ import annotations

import errno
import json
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cddgan.data import AUTO_CACHE_BYTES
from cddgan.data.manifest import sidecar_path
from cddgan.errors import ConfigError

FIXED_TRAIN_MB = 300  # networks' buffers, optimiser bookkeeping, the sampler
FRAMEWORK_MB = {"cpu": 1000, "cuda": 3000}  # Python + torch (+ CUDA libraries and context) resident memory
CACHE_MB = AUTO_CACHE_BYTES // 2**20  # `cache_images: auto` caches training sets under this size
HEADROOM = 1.25
MEM_STEP_MB = 500
INFERENCE_MB = 2000  # one full-size test image through a generator, plus the metric inputs

# Seconds per (byte-per-unit x unit): GPU anchored at paper-scale CycleGAN = 0.25 s/iteration on a V100-class
# card; CPU at about 40 s/iteration on one core for the same (about 2 TFLOP per iteration).
GPU_S_PER_COST = 0.25 / (25.0 * 256**2 * 64 * 29)
CPU_S_PER_COST = 40.0 / (25.0 * 256**2 * 64 * 29)
ITERATION_OVERHEAD_S = 0.02
STARTUP_S = 120
RUNTIME_SAFETY = 2.0
RUNTIME_STEP_MIN = 5
MIN_RUNTIME_MIN = 10

# One test image through a method, or through the metrics, per megapixel of the largest test image: peak
# memory growth on the CPU, and seconds on one thread per megapixel of the whole test split. Measured with
# benchmarks/bench_test_size.py (docs/benchmarks.md, "One full-size test image"; two threads there, so the
# seconds are doubled here). Generators: keyed by the method's `full_resolution_upsampling` fact (CUT's
# layout upsamples at full size, CycleGAN's does not), at ngf 64; memory scales with ngf, time with ngf^2.
GENERATOR_MB_PER_MP = {True: 1750.0, False: 900.0}
GENERATOR_S_PER_MP = {True: 34.0, False: 24.0}
TRAINING_FREE_MB_PER_MP = 200.0  # DCP: 120-160
TRAINING_FREE_S_PER_MP = 1.0  # DCP: 0.4 with two threads
EVALUATE_MB_PER_MP = 350.0  # PSNR, SSIM, CIEDE2000 (float64 Lab) and FADE: 317-336
EVALUATE_S_PER_MP = 3.0  # 1.5 with two threads
# A dehaze job on a GPU holds only the image, its tensor and the output on the host: an estimate (about
# 12-36 bytes per pixel for the float32 and 8-bit copies, with room), not measured.
IMAGE_MB_PER_MP = 60.0

# Generator shape when a method has no `ngf` / `n_blocks` setting (a plugin): paper scale, to be safe.
DEFAULT_NGF = 64
DEFAULT_N_BLOCKS = 9

TRAIN_DEFAULTS: dict[str, Any] = {"gpus": 1}
LIGHT_DEFAULTS: dict[str, Any] = {"gpus": 0, "gpu_slots": 0, "mem_mb": 2000, "cpus": 1, "runtime": 60}
SLURM_KEYS = ("slurm_partition", "slurm_extra")
# Where the SLURM profile takes a partition from (workflow/profiles/slurm/config.yaml). A rule that sets
# its own slurm_partition hides the profile's default, so its runs without one fall back to these.
PARTITION_ENV = ("SLURM_PARTITION", "SBATCH_PARTITION")
KINDS = ("train", "inference", "light")


def _round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)


def activation_units(settings: Mapping[str, Any], training: Mapping[str, Any]) -> int:
    """batch_size * crop^2 * ngf * (n_blocks + 20): what training memory and time scale with."""
    ngf = int(settings.get("ngf", DEFAULT_NGF))
    n_blocks = int(settings.get("n_blocks", DEFAULT_N_BLOCKS))
    return int(training["batch_size"]) * int(training["crop"]) ** 2 * ngf * (n_blocks + 20)


def run_facts(run: Mapping[str, Any]) -> Mapping[str, Any]:
    """What a run's method says about itself (`cddgan.methods.base.Method.facts`): carried by every run of a
    resolved config; a hand-written run without them asks its method's class."""
    if "facts" in run:
        return run["facts"]
    from cddgan.methods.registry import method_class  # here: importing the methods imports torch

    cls = method_class(run["method"])
    return cls.facts({**cls.defaults, **(run.get("settings") or {})})


def training_cost(run: Mapping[str, Any]) -> float:
    """Relative compute of one training job of a resolved run (bytes per unit x activation units x
    iterations): what its wall time scales with on any one device. Orders the jobs (`priority`)."""
    training = run["training"]
    per_unit = float(run_facts(run)["bytes_per_unit"])
    return per_unit * activation_units(run["settings"], training) * int(training["iterations"])


def runs_on_cpu(run: Mapping[str, Any]) -> bool:
    """Whether a resolved run computes on the CPU whatever its jobs are granted: its `training.device`
    (the config-wide one, or the run's own on top) is `cpu`. `auto` and `cuda[:N]` use a GPU when given one."""
    return (run.get("training") or {}).get("device") == "cpu"


def estimate_train(run: Mapping[str, Any], gpus: int) -> dict[str, int]:
    """mem_mb, cpus, runtime (minutes) and gpu_mem_mb of one training job of a resolved run.

    `gpus` says where the networks live: with 0, or on a run whose `training.device` is `cpu` (it
    computes there even when granted a GPU), activations and Adam state count against host memory and
    the CPU speed applies.
    """
    if not run.get("trainable") or "training" not in run:
        raise ConfigError(f"run with method {run.get('method')!r} is not trainable; it has no training job")
    training = run["training"]
    gpus = 0 if runs_on_cpu(run) else gpus
    per_unit = float(run_facts(run)["bytes_per_unit"])
    cost = per_unit * activation_units(run["settings"], training)
    train_mb = FIXED_TRAIN_MB + cost / 2**20

    threads = training.get("threads")
    workers = int(training.get("workers", 0))
    cpus = int(threads or (2 if gpus else 4)) + workers

    device = "cuda" if gpus else "cpu"
    cache_mb = CACHE_MB if training.get("cache_images", "auto") else 0
    host_mb = FRAMEWORK_MB[device] + cache_mb + (0 if gpus else train_mb)
    s_per_cost = GPU_S_PER_COST if gpus else CPU_S_PER_COST / max(1, int(threads or cpus))
    seconds = STARTUP_S + int(training["iterations"]) * (ITERATION_OVERHEAD_S + cost * s_per_cost)
    runtime = max(MIN_RUNTIME_MIN, _round_up(RUNTIME_SAFETY * seconds / 60, RUNTIME_STEP_MIN))
    return {
        "mem_mb": _round_up(HEADROOM * host_mb, MEM_STEP_MB),
        "cpus": cpus,
        "runtime": runtime,
        "gpu_mem_mb": _round_up(HEADROOM * (train_mb + 600), MEM_STEP_MB) if gpus else 0,
    }


def _run(config: Mapping[str, Any], run: str) -> Mapping[str, Any]:
    runs = config.get("runs", {})
    if run not in runs:
        known = ", ".join(sorted(runs)) or "(none)"
        raise ConfigError(f"runs.{run}: unknown run; runs in the config: {known}")
    return runs[run]


def _defaults(config: Mapping[str, Any], kind: str) -> dict[str, Any]:
    resources = config.get("resources") or {}
    if not isinstance(resources, Mapping):
        raise ConfigError("resources: expected a mapping with `train` and/or `light`")
    return dict(resources.get(kind) or {})


def light_resources(config: Mapping[str, Any]) -> dict[str, Any]:
    """Data preparation, scoring, aggregation, report: one CPU, little memory; `resources.light` overrides."""
    return {**LIGHT_DEFAULTS, **_defaults(config, "light")}


def train_resources(config: Mapping[str, Any], run: str) -> dict[str, Any]:
    """Resources of the training job of `run` in a resolved config.

    Keys: gpus (SLURM `--gpus`), gpu_slots (share of one local GPU, see docs/cluster.md), mem_mb, cpus,
    runtime (minutes), gpu_mem_mb (estimate, for choosing gpu_slots), and any slurm_partition/slurm_extra
    set in the config.
    """
    spec = _run(config, run)
    chosen = {**_defaults(config, "train"), **dict(spec.get("resources") or {})}
    # `training.device: cpu` asks for no GPU (a CPU-only cluster rejects every job that asks for one);
    # a `gpus` written in the config is kept as written
    default_gpus = 0 if runs_on_cpu(spec) else TRAIN_DEFAULTS["gpus"]
    gpus = int(chosen.get("gpus", default_gpus))
    merged = {**TRAIN_DEFAULTS, "gpus": gpus, "gpu_slots": 1 if gpus else 0, **estimate_train(spec, gpus), **chosen}
    return merged


def inference_resources(config: Mapping[str, Any], run: str) -> dict[str, Any]:
    """Dehazing a test set and measuring efficiency: on the run's GPU if it trains on one, else the CPU.

    Efficiency timings are only meaningful on the device the paper reports, hence the GPU request; a run
    whose `training.device` is `cpu` asks for none (unless its `resources` pin `gpus`) and is sized for
    the CPU.
    """
    spec = _run(config, run)
    light = light_resources(config)
    if not spec.get("trainable"):
        return {**light, "mem_mb": max(light["mem_mb"], FRAMEWORK_MB["cpu"] + INFERENCE_MB)}
    train = train_resources(config, run)
    device = "cuda" if train["gpus"] and not runs_on_cpu(spec) else "cpu"
    out = {
        **light,
        "gpus": train["gpus"],
        "gpu_slots": train["gpu_slots"],
        "mem_mb": _round_up(HEADROOM * (FRAMEWORK_MB[device] + INFERENCE_MB), MEM_STEP_MB),
    }
    out.update({key: train[key] for key in SLURM_KEYS if key in train})
    return out


def read_test_megapixels(manifest: str | os.PathLike) -> tuple[float, float] | None:
    """(largest, total) megapixels of a dataset's hazy test images, from its manifest's sidecar.

    A manifest that is not built yet raises FileNotFoundError naming it: Snakemake then leaves the
    resource "to be determined" and evaluates it again once `make_data` has written the manifest. A
    sidecar without the figure (written before it was recorded) gives None: the fixed figures apply.
    """
    path = Path(manifest)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "manifest not built yet", str(manifest))
    try:
        meta = json.loads(sidecar_path(path).read_text())
        figures = meta["test_megapixels"]
        return float(figures["largest"]), float(figures["total"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_test_sets_megapixels(manifests: Sequence[str | os.PathLike]) -> tuple[float, float] | None:
    """(largest, total) megapixels over several test sets (a test job dehazes and scores them all): memory
    follows the largest image of any set, wall time the sum; None when a sidecar lacks the figures."""
    figures = [read_test_megapixels(m) for m in manifests]
    if not figures or any(f is None for f in figures):
        return None
    return max(f[0] for f in figures), sum(f[1] for f in figures)


def sized_by_test_images(
    config: Mapping[str, Any], kind: str, run: str | None, largest: float, total: float, scored: bool = False
) -> dict[str, Any]:
    """A dehaze (`inference`) or scoring (`light`) job's resources for test images of this size; with
    `scored`, an `inference` job that also scores its outputs (the `test` job): the larger memory of the
    two phases, the time of both.

    Memory follows the largest image (one is in flight at a time), wall time the whole split. The result
    never asks for less than the fixed figures of `job_resources`, which it starts from, and a `mem_mb` or
    `runtime` set in the config's `resources.light` stays as set (a partition's time limit, say).
    """
    base = job_resources(config, kind, run)
    framework = FRAMEWORK_MB["cpu"]
    spec = _run(config, run) if kind == "inference" and run else {}
    on_gpu = bool(base.get("gpus")) and not runs_on_cpu(spec)
    if kind == "light":
        mb_per_mp, s_per_mp = EVALUATE_MB_PER_MP, EVALUATE_S_PER_MP
    elif kind == "inference" and on_gpu:
        framework, mb_per_mp, s_per_mp = FRAMEWORK_MB["cuda"], IMAGE_MB_PER_MP, 0.0
    elif kind == "inference" and spec.get("trainable"):
        settings = spec.get("settings") or {}
        layout = bool(run_facts(spec)["full_resolution_upsampling"])
        scale = int(settings.get("ngf", DEFAULT_NGF)) / DEFAULT_NGF
        mb_per_mp, s_per_mp = GENERATOR_MB_PER_MP[layout] * scale, GENERATOR_S_PER_MP[layout] * scale**2
    elif kind == "inference":
        mb_per_mp, s_per_mp = TRAINING_FREE_MB_PER_MP, TRAINING_FREE_S_PER_MP
    else:
        raise ConfigError(f"a {kind} job is not sized by its test images; only inference and light jobs are")
    need_mb = framework + mb_per_mp * largest
    if scored and kind == "inference":
        need_mb = max(need_mb, FRAMEWORK_MB["cpu"] + EVALUATE_MB_PER_MP * largest)
        s_per_mp += EVALUATE_S_PER_MP
    mem_mb = _round_up(HEADROOM * need_mb, MEM_STEP_MB)
    runtime = _round_up(RUNTIME_SAFETY * (STARTUP_S + s_per_mp * total) / 60, RUNTIME_STEP_MIN)
    pinned = _defaults(config, "light") if kind == "light" else {}
    return {
        **base,
        "mem_mb": int(pinned.get("mem_mb", max(int(base["mem_mb"]), mem_mb))),
        "runtime": int(pinned.get("runtime", max(int(base["runtime"]), runtime))),
    }


def job_resources(config: Mapping[str, Any], kind: str, run: str | None = None) -> dict[str, Any]:
    """Resources of one job of `kind` (train, inference, light); `run` is needed for train and inference."""
    if kind == "light":
        return light_resources(config)
    if kind not in KINDS:
        raise ConfigError(f"unknown job kind {kind!r}; one of {', '.join(KINDS)}")
    if run is None:
        raise ConfigError(f"a {kind} job needs a run name")
    return train_resources(config, run) if kind == "train" else inference_resources(config, run)


def _slurm_keys(config: Mapping[str, Any], kind: str) -> list[str]:
    """SLURM keys the config sets anywhere for this kind of job.

    Only these become rule resources: a rule-level resource replaces the profile's default-resources
    (where $SLURM_PARTITION comes in), so a key nobody set in the config must stay out of the rule; for
    a partition set on some runs only, the others fall back to the environment (`env_partition`).
    """
    scopes = [_defaults(config, "light")]
    if kind != "light":
        scopes.append(_defaults(config, "train"))
        scopes += [dict(run.get("resources") or {}) for run in config["runs"].values()]
    return [key for key in SLURM_KEYS if any(key in scope for scope in scopes)]


def rule_resources(config: Mapping[str, Any], kind: str, sized: bool = False) -> dict[str, Any]:
    """The `resources:` of a Snakemake rule of `kind`: functions of the wildcards (and the attempt).

    `gpu` is what snakemake-executor-plugin-slurm turns into `--gpus`; `gpu_slots` only matters locally,
    with `--resources gpu_slots=N`; memory grows with the attempt so a retried job gets more. With `sized`
    (a rule whose `input.manifests` are its test sets: test, evaluate) memory and wall time also follow the
    size of its test images (`sized_by_test_images`), known once the manifest is built.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown job kind {kind!r}; one of {', '.join(KINDS)}")

    def job(wildcards: Any) -> dict[str, Any]:  # Snakemake's Wildcards
        return job_resources(config, kind, getattr(wildcards, "run", None))

    def field(key: str) -> Callable:
        return lambda wildcards: job(wildcards).get(key)

    def sized_job(wildcards: Any, input: Any) -> dict[str, Any]:
        figures = read_test_sets_megapixels(list(input.manifests))
        if figures is None:
            return job(wildcards)
        # an inference job sized by its test sets is a test job: it dehazes, then scores
        return sized_by_test_images(config, kind, getattr(wildcards, "run", None), *figures, scored=True)

    out: dict[str, Any] = {
        "mem_mb": lambda wildcards, attempt: int(job(wildcards)["mem_mb"]) * int(attempt),
        "runtime": field("runtime"),
    }
    if sized:
        # Snakemake passes the job's input files by the parameter name `input`
        out["mem_mb"] = lambda wildcards, input, attempt: (
            int(sized_job(wildcards, input)["mem_mb"]) * int(attempt)
        )
        out["runtime"] = lambda wildcards, input: sized_job(wildcards, input)["runtime"]
    if kind != "light":
        out["gpu"] = field("gpus")
        out["gpu_slots"] = field("gpu_slots")
    for key in _slurm_keys(config, kind):
        out[key] = field(key)
    if "slurm_partition" in out:
        out["slurm_partition"] = lambda wildcards: job(wildcards).get("slurm_partition") or env_partition()
    return out


def env_partition() -> str | None:
    """The partition named by $SLURM_PARTITION (or sbatch's own $SBATCH_PARTITION), if any."""
    return next((os.environ[name] for name in PARTITION_ENV if os.environ.get(name)), None)


def rule_threads(config: Mapping[str, Any], kind: str) -> Callable:
    """`threads:` of a rule of `kind`: the job's CPUs (SLURM's --cpus-per-task)."""
    if kind not in KINDS:
        raise ConfigError(f"unknown job kind {kind!r}; one of {', '.join(KINDS)}")
    return lambda wildcards: int(job_resources(config, kind, getattr(wildcards, "run", None))["cpus"])


def summary(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per run trained by the shared loop: what its training job asks for.

    Runs of external commands are left out: their jobs ask for what their own `resources:` say.
    """
    runs = config["runs"].items()
    return [{"run": name, **train_resources(config, name)} for name, run in runs if "training" in run]


def main(argv: list[str] | None = None) -> int:
    """`python -m cddgan.resources CONFIG [MORE.yaml ...]`: print each training job's request (before
    submitting a sweep). Further files are merged over the first in order, as Snakemake merges several
    `--configfile`s (e.g. one that says `training: {device: cpu}`)."""
    from cddgan.config import load, load_yaml, merge
    from cddgan.errors import HarnessError

    argv = sys.argv[1:] if argv is None else argv
    if not argv or any(arg.startswith("-") for arg in argv):
        print("usage: python -m cddgan.resources CONFIG.yaml [MORE.yaml ...]", file=sys.stderr)
        return 2
    try:
        overrides: dict[str, Any] = {}
        for extra in argv[1:]:
            overrides = merge(overrides, load_yaml(extra))
        rows = summary(load(argv[0], overrides))
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    columns = ["run", "gpus", "gpu_slots", "cpus", "mem_mb", "runtime", "gpu_mem_mb"]
    print("\t".join(columns))
    for row in rows:
        print("\t".join(str(row.get(c, "")) for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
