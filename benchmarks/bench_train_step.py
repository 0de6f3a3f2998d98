"""Training-step time and peak memory per method and crop size: the harness's step vs a faithful one.

The faithful step is the plain float32 reference: the same method with its reference-work flag
(`reuse_features: false` for the PatchNCE methods: keys recomputed with autograd in separate encoder
passes; `batched: false` for CycleGAN: six separate generator passes) and none of the speed options. The
harness step uses the method's defaults plus the options given (--amp, --channels-last, --fused-adam,
--compile). Both run through `cddgan.step.TrainStep`, exactly what the training loop runs. Each
measurement runs in a fresh process so that its peak memory is its own.

    python benchmarks/bench_train_step.py                       # CPU-sized nets, 64/128/256 px
    python benchmarks/bench_train_step.py --paper-scale         # ngf 64, 9 blocks, ndf 64 (for GPUs)
    python benchmarks/bench_train_step.py --amp --channels-last --fused-adam   # CUDA options

Prints a Markdown table: ms per iteration (median), iterations per second, peak memory (CUDA: max
allocated; CPU: peak resident set of the measuring process) and faithful / harness time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FAITHFUL_FLAGS = {"reuse_features": False, "batched": False}


def measure(job: dict) -> dict:
    """One (method, size, variant) measurement in this process."""
    import resource

    import torch

    from cddgan.config import TRAINING_DEFAULTS
    from cddgan.methods import load_plugins, method_class
    from cddgan.step import TrainStep
    from cddgan.train import resolve_device, seed_everything

    if job["threads"]:
        torch.set_num_threads(job["threads"])
    device = resolve_device(job["device"])
    load_plugins()
    cls = method_class(job["method"])
    settings = {k: v for k, v in job["settings"].items() if k in cls.defaults}
    if job["variant"] == "faithful":
        settings.update({k: v for k, v in FAITHFUL_FLAGS.items() if k in cls.defaults})
    seed_everything(0)
    method = cls(settings, device).to(device)
    # The faithful step is the plain float32 reference: none of the speed options apply to it.
    options = {} if job["variant"] == "faithful" else job["training"]
    cfg = {**TRAINING_DEFAULTS, **options, "iterations": 10**6}
    step = TrainStep(method, cfg, device)
    size = job["size"]
    hazy = torch.rand(1, 3, size, size) * 2 - 1
    clear = torch.rand(1, 3, size, size) * 2 - 1

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(job["warmup"]):
        step(hazy, clear)
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(job["repeats"]):
        start = time.perf_counter()
        step(hazy, clear)
        sync()
        times.append((time.perf_counter() - start) * 1000)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
        name = torch.cuda.get_device_name(device)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        name = f"CPU, {torch.get_num_threads()} threads"
    return {
        **job,
        "ms": statistics.median(times),
        "peak_mb": peak,
        "device_name": name,
        "torch": torch.__version__,
        "has_flag": any(k in cls.defaults for k in FAITHFUL_FLAGS),
    }


def run_isolated(job: dict) -> dict:
    """Run `measure(job)` in a fresh interpreter and return its result."""
    done = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    if done.returncode != 0:
        return {**job, "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["cyclegan", "cut", "fastcut", "negcut", "cddgan"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[64, 128, 256])
    parser.add_argument("--ngf", type=int, default=16)
    parser.add_argument("--n-blocks", type=int, default=6)
    parser.add_argument("--ndf", type=int, default=16)
    parser.add_argument("--paper-scale", action="store_true", help="ngf 64, 9 blocks, ndf 64")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast (CUDA)")
    parser.add_argument("--channels-last", action="store_true", help="channels_last (CUDA)")
    parser.add_argument("--fused-adam", action="store_true", help="fused Adam (CUDA)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the networks")
    parser.add_argument("--no-faithful", action="store_true", help="skip the faithful step")
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sys.path.insert(0, str(REPO))
        print(json.dumps(measure(json.loads(args.worker))))
        return

    if args.paper_scale:
        args.ngf, args.n_blocks, args.ndf = 64, 9, 64
    settings = {"ngf": args.ngf, "n_blocks": args.n_blocks, "ndf": args.ndf}
    training = {
        "amp": args.amp,
        "channels_last": args.channels_last,
        "fused_adam": args.fused_adam,
        "compile": args.compile,
    }
    variants = ["harness"] if args.no_faithful else ["harness", "faithful"]
    results = []
    print(
        f"# training step, ngf {args.ngf}, {args.n_blocks} blocks, ndf {args.ndf}, batch 1, "
        f"median of {args.repeats} after {args.warmup} warm-up; options {training}",
        flush=True,
    )
    print("| method | crop | harness ms/it | it/s | peak MB | faithful ms/it | faithful / harness | device |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for method in args.methods:
        for size in args.sizes:
            row = {}
            for variant in variants:
                job = {
                    "method": method,
                    "size": size,
                    "variant": variant,
                    "settings": settings,
                    "training": training,
                    "repeats": args.repeats,
                    "warmup": args.warmup,
                    "device": args.device,
                    "threads": args.threads,
                }
                row[variant] = run_isolated(job)
                results.append(row[variant])
            h = row["harness"]
            if "error" in h:
                print(f"| {method} | {size} | error: {h['error']} | | | | | |", flush=True)
                continue
            f = row.get("faithful", {})
            faithful = f"{f['ms']:.1f}" if f.get("has_flag") and "ms" in f else "–"
            ratio = f"{f['ms'] / h['ms']:.2f}" if f.get("has_flag") and "ms" in f else "–"
            print(
                f"| {method} | {size} | {h['ms']:.1f} | {1000 / h['ms']:.2f} | {h['peak_mb']:.0f} | "
                f"{faithful} | {ratio} | {h['device_name']} |",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
