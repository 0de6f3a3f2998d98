"""Training-step time and peak memory per method and crop size: the harness's step vs a faithful one.

The faithful step is the plain float32 reference: the method's reference-work variant from
`benchmarks/faithful.py` (CUT and FastCUT: keys recomputed with autograd in separate encoder passes;
CycleGAN: six separate generator passes), or the method itself where it has none, and none of the speed
options. The harness step uses the method's defaults plus the options given (--amp, --channels-last,
--fused-adam, --compile, --cuda-graph). Both run through `cddgan.training.step.TrainStep`, exactly what
the training loop runs. Each measurement runs in a fresh process so that its peak memory is its own. The
batch lives on the device (compute only, as the reference measurement).

    python benchmarks/bench_train_step.py                       # CPU-sized nets, 64/128/256 px
    python benchmarks/bench_train_step.py --paper-scale --sizes 256 \
        --amp --channels-last --fused-adam --cuda-graph --check 20 --sweep 1 2 4 8 --sweep-processes 4

Prints a Markdown table: ms per iteration (median of per-iteration times, each ended by a device sync),
iterations per second, peak memory (`cddgan.measure`, as the efficiency table: CUDA max reserved, which
includes a CUDA graph's private pool; the first GPU numbers in docs/benchmarks.md are max allocated; CPU:
peak resident set of the measuring process) and faithful / harness time. `--check N` trains the plain
float32 step and the harness step from the same weights on the same batch for N iterations and prints how
far the harness's losses (mean of the last five iterations) are from the plain ones, beside two floors (a
plain rerun, and plain runs from weights perturbed once by bf16-sized amounts, `--check-floors`: see
`check`). `--sweep` trains that many seeds of the first method in one process
(`cddgan.training.step.StepGroup`, one CUDA graph with a stream per seed) and prints their total
iterations per second; `--sweep-processes` runs that many single-seed processes side by side.
`--set KEY=VALUE` (repeatable, VALUE read as YAML) overrides a method setting, e.g. `--methods cddgan
--set queue_size=0` times an ablation.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(job: dict) -> dict:
    """One (method, size, variant) measurement in this process."""
    import torch

    from cddgan.measure import peak_memory_mb

    if job["threads"]:
        torch.set_num_threads(job["threads"])
    with warnings.catch_warnings(record=True) as seen:  # e.g. a failed capture: shown under the table
        warnings.simplefilter("always")
        step, times = _timed_steps(job)
    device = step.device
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    return {
        **job,
        "ms": statistics.median(times),
        "peak_mb": peak_memory_mb(device),
        "device_name": name,
        "torch": torch.__version__,
        "has_flag": _faithful_class(job["method"]) is not None,
        "graph": bool(step.graphs),
        "warnings": sorted({str(w.message)[:300] for w in seen}),
    }


def _timed_steps(job: dict):
    """Build, warm up (past a capture), then time `repeats` iterations, each ended by a device sync; the
    peak memory is that of the timed iterations."""
    from cddgan.measure import reset_peak_memory, timings

    _, step = build_step(job, job["variant"])
    device = step.device
    hazy, clear = random_batch(job["size"], device)
    warmup = job["warmup"] + step.calls_before_replay  # with graphs: time replays, not warm-up and capture
    for _ in range(warmup):
        step(hazy, clear)
    reset_peak_memory(device)
    times = [t.wall_ms for t in timings(lambda: step(hazy, clear), device, job["repeats"], warmup=0)]
    return step, times


def random_batch(size: int, device):
    """One fixed (hazy, clear) pair in [-1, 1] on the device: the measurements are compute only."""
    import torch

    hazy = torch.rand(1, 3, size, size, device=device) * 2 - 1
    return hazy, torch.rand(1, 3, size, size, device=device) * 2 - 1


def build_step(job: dict, variant: str, seed: int = 0):
    """A method and its TrainStep for `variant` ("faithful": plain float32 reference; else the harness)."""
    import torch

    from cddgan.config import TRAINING_DEFAULTS
    from cddgan.methods import load_plugins, method_class
    from cddgan.training.loop import resolve_device, seed_everything
    from cddgan.training.step import TrainStep

    device = resolve_device(job["device"])
    load_plugins()
    cls = method_class(job["method"])
    settings = {k: v for k, v in job["settings"].items() if k in cls.defaults}
    if variant == "faithful":
        cls = _faithful_class(job["method"]) or cls
    seed_everything(seed)
    method = cls(settings, device).to(device)
    options = {} if variant == "faithful" else job["training"]
    return method, TrainStep(method, {**TRAINING_DEFAULTS, **options, "iterations": 10**6}, torch.device(device))


def _faithful_class(method: str):
    """The method's reference-work variant (benchmarks/faithful.py), or None if its step is the reference's."""
    from faithful import FAITHFUL  # this folder is on sys.path when run as a script

    return FAITHFUL.get(method)


def check(job: dict) -> dict:
    """Plain float32 vs harness from the same weights, batches and seeds for `check` iterations: per loss,
    the relative difference of the means over the last five iterations, and whether every loss is finite.

    Two floors say what "the same" can mean for an adversarial run. A second plain float32 run: on a GPU,
    Adam's first, sign-like updates turn the nondeterministic atomics of some backward kernels into
    percent-level differences between two runs of the very same step (on the CPU it is 0). Plain float32
    runs from initial weights perturbed once by bf16-sized amounts (the first rounded to bf16, the others
    times 1 + u 2^-8, u uniform in [-1, 1]: bf16's largest rounding error): the smallest perturbation
    that bf16 implies (the harness rounds weights and activations at every op of every iteration), so
    their drift, the median over `floors` such runs, is what the training dynamics make of bf16-sized
    noise: the tolerance that bf16 allows, measured rather than guessed."""
    import math
    import statistics

    import torch

    if job["threads"]:
        torch.set_num_threads(job["threads"])
    floors = int(job.get("floors", 1))
    runs = [("faithful", "plain", None), ("faithful", "plain again", None)]
    runs += [("faithful", f"plain, perturbed start {k}", k) for k in range(floors)]
    runs.append(("harness", "harness", None))
    means = {}
    finite = True
    for variant, label, perturbation in runs:
        method, step = build_step(job, variant)
        if perturbation is not None:
            perturb_like_bf16(method, perturbation)
        gen = torch.Generator().manual_seed(1)
        size = job["size"]
        history: list[dict[str, torch.Tensor]] = []
        for i in range(job["check"]):
            hazy, clear = ((torch.rand(1, 3, size, size, generator=gen) * 2 - 1).to(step.device) for _ in range(2))
            torch.manual_seed(i)
            history.append({})
            step(hazy, clear, lambda name, value, h=history: h[-1].__setitem__(name, value.detach().float().clone()))
        last = history[-5:]
        means[label] = {k: float(torch.stack([h[k] for h in last]).mean()) for k in last[-1]}
        if variant == "harness":
            finite = all(math.isfinite(float(v)) for h in history for v in h.values())
        del method, step

    def rel(a: dict, b: dict) -> dict:
        return {k: abs(b[k] - a[k]) / max(abs(a[k]), 1e-3) for k in a if k in b}

    perturbed = [rel(means["plain"], means[f"plain, perturbed start {k}"]) for k in range(floors)]
    return {
        **job,
        "rel": rel(means["plain"], means["harness"]),
        "floor": rel(means["plain"], means["plain again"]),
        "bf16_floor": {k: statistics.median(r[k] for r in perturbed) for k in perturbed[0]},
        "bf16_floor_runs": perturbed,
        "finite": finite,
        "means": means,
    }


def perturb_like_bf16(method, k: int) -> None:
    """Perturb every weight of `method` in place by a bf16-sized amount (they stay float32): k = 0 rounds
    to the nearest bf16 value; k > 0 multiplies by 1 + u 2^-8, u uniform in [-1, 1] drawn from seed k."""
    import torch

    gen = torch.Generator().manual_seed(k)
    with torch.no_grad():
        for p in method.parameters():
            if k == 0:
                p.copy_(p.to(torch.bfloat16).to(p.dtype))
            else:
                u = torch.rand(p.shape, generator=gen, dtype=p.dtype) * 2 - 1
                p.mul_(1 + u.to(p.device) * 2**-8)


def sweep(job: dict) -> dict:
    """`runs` seeds of one method trained in this process by one StepGroup: total iterations per second."""
    import torch

    from cddgan.measure import peak_memory_mb, reset_peak_memory, time_ms
    from cddgan.training.step import StepGroup

    if job["threads"]:
        torch.set_num_threads(job["threads"])
    pairs = [build_step(job, "harness", seed) for seed in range(job["runs"])]
    group = StepGroup([step for _, step in pairs])
    device = pairs[0][1].device
    batches = [random_batch(job["size"], device) for _ in pairs]
    warm = max(s.warmup_calls for _, s in pairs) + 1 + job["warmup"]
    for _ in range(warm):
        group(batches)
    reset_peak_memory(device)

    def block() -> None:  # `repeats` iterations, synced once at the end: the runs' overlap is the point
        for _ in range(job["repeats"]):
            group(batches)

    seconds = time_ms(block, device, repeats=1, warmup=0) / 1000
    total = job["runs"] * job["repeats"] / seconds
    return {**job, "total_its": total, "graph": bool(group.graphs), "peak_mb": peak_memory_mb(device)}


def throughput(job: dict) -> dict:
    """One run's iterations per second over `seconds`, started when every process of the side-by-side
    measurement is warm (each touches `barrier/<index>` and waits for all `processes` files)."""
    import torch

    from cddgan.measure import sync

    if job["threads"]:
        torch.set_num_threads(job["threads"])
    _, step = build_step(job, "harness", job["index"])
    device = step.device
    hazy, clear = random_batch(job["size"], device)
    for _ in range(step.warmup_calls + 1 + job["warmup"]):
        step(hazy, clear)
    sync(device)
    barrier = Path(job["barrier"])
    (barrier / str(job["index"])).touch()
    deadline = time.time() + 300
    while len(list(barrier.iterdir())) < job["processes"] and time.time() < deadline:
        time.sleep(0.005)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < job["seconds"]:
        for _ in range(10):
            step(hazy, clear)
        count += 10
        sync(device)
    return {**job, "its": count / (time.perf_counter() - start), "graph": bool(step.graphs)}


def profile(job: dict) -> dict:
    """Where one harness iteration's time goes: torch.profiler over `profile` iterations after the warm-up.

    On CUDA the ranking is by kernel time on the GPU (what bounds a seed sweep once the GPU is busy); on
    the CPU by the ops' own CPU time. Profile eager steps: kernels replayed inside a CUDA graph may not be
    traced one by one.
    """
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from cddgan.measure import sync

    if job["threads"]:
        torch.set_num_threads(job["threads"])
    _, step = build_step(job, "harness")
    device = step.device
    hazy, clear = random_batch(job["size"], device)
    for _ in range(job["warmup"] + step.calls_before_replay):
        step(hazy, clear)
    sync(device)
    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if cuda else [])]
    iterations = job["profile"]
    with torch_profile(activities=activities) as prof:
        for _ in range(iterations):
            step(hazy, clear)
        sync(device)
    key = "self_device_time_total" if cuda else "self_cpu_time_total"
    events = [e for e in prof.key_averages() if getattr(e, key) > 0]
    events.sort(key=lambda e: getattr(e, key), reverse=True)
    per_iteration = 1000.0 * iterations  # profiler times are in microseconds
    top = [
        {"name": e.key, "ms": getattr(e, key) / per_iteration, "calls": e.count / iterations}
        for e in events[: job["top"]]
    ]
    busy = sum(getattr(e, key) for e in events) / per_iteration
    return {**job, "busy_ms": busy, "top": top, "clock": "GPU kernels" if cuda else "CPU ops (self)"}


WORKERS = {"measure": measure, "check": check, "sweep": sweep, "throughput": throughput, "profile": profile}


def check_cells(r: dict) -> list[str]:
    """The table cells of one `check` result: harness drift, rerun floor, bf16 floor (median and range over
    the perturbed runs) and the harness's D drift over the median bf16 floor."""

    def pct(value: float) -> str:
        return f"{100 * value:.2f} %"

    def spread(key: str) -> str:
        runs = [run[key] for run in r["bf16_floor_runs"] if key in run]
        if not runs:
            return "–"
        median = pct(r["bf16_floor"][key])
        return median if len(runs) == 1 else f"{median} ({100 * min(runs):.2f}-{100 * max(runs):.2f})"

    harness, rerun, bf16 = r["rel"], r["floor"], r["bf16_floor"]
    worst = max(harness, key=harness.get)
    ratio = f"{harness['D'] / bf16['D']:.2f}" if bf16.get("D") else "–"
    return [
        *(pct(harness[k]) if k in harness else "–" for k in ("G", "D")),
        f"{100 * harness[worst]:.1f} % ({worst})",
        *(pct(rerun[k]) if k in rerun else "–" for k in ("G", "D")),
        spread("G"),
        spread("D"),
        ratio,
    ]


def parse_overrides(items: list[str], methods: list[str]) -> dict:
    """`--set KEY=VALUE` items as a settings dict; a key that some listed method lacks stops the run by
    name, since a silently dropped override would time the wrong model."""
    import yaml

    sys.path.insert(0, str(REPO))
    from cddgan.methods import load_plugins, method_class

    load_plugins()
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE, e.g. --set queue_size=0")
        overrides[key] = yaml.safe_load(value)
    for method in methods:
        unknown = sorted(set(overrides) - set(method_class(method).defaults))
        if unknown:
            raise SystemExit(f"--set: {method} has no setting(s) {unknown}; see `cddgan methods`")
    return overrides


def run_isolated(job: dict, kind: str = "measure") -> dict:
    """Run one worker (`kind`) on `job` in a fresh interpreter and return its result."""
    done = subprocess.run(
        [sys.executable, __file__, "--worker", kind, json.dumps(job)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    if done.returncode != 0:
        return {**job, "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_side_by_side(jobs: list[dict]) -> list[dict]:
    """Start one `throughput` worker per job at once and collect their results."""
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", "throughput", json.dumps(job)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for job in jobs
    ]
    results = []
    for job, proc in zip(jobs, procs, strict=True):
        out, err = proc.communicate()
        if proc.returncode != 0:
            results.append({**job, "error": err.strip().splitlines()[-1] if err.strip() else "failed"})
        else:
            results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def build_parser() -> argparse.ArgumentParser:
    """The command line (its own function, so tests/test_doc_commands.py can parse documented commands)."""
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
    parser.add_argument(
        "--compile",
        nargs="?",
        const=True,
        default=False,
        metavar="MODE",
        help="torch.compile the networks (optionally in inductor mode MODE, e.g. max-autotune-no-cudagraphs)",
    )
    parser.add_argument("--cuda-graph", action="store_true", help="capture and replay the step (CUDA)")
    parser.add_argument(
        "--no-cudnn-benchmark",
        action="store_true",
        help="harness: cuDNN's heuristic algorithms instead of timed ones (the plain step keeps the reference's)",
    )
    parser.add_argument("--no-faithful", action="store_true", help="skip the faithful step")
    parser.add_argument("--no-table", action="store_true", help="skip the per-method table (e.g. sweep only)")
    parser.add_argument("--check", type=int, default=0, help="numerics check over N iterations per method")
    parser.add_argument(
        "--check-floors", type=int, default=1, help="bf16-perturbed float32 runs whose median is the bf16 floor"
    )
    parser.add_argument("--sweep", nargs="*", type=int, default=[], help="seeds per process (StepGroup)")
    parser.add_argument("--sweep-processes", nargs="*", type=int, default=[], help="single-seed processes side by side")
    parser.add_argument("--sweep-seconds", type=float, default=5.0, help="measuring window of --sweep-processes")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="profile N harness iterations per method: top ops/kernels"
    )
    parser.add_argument("--top", type=int, default=15, help="rows of the --profile ranking")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a method setting (repeatable)"
    )
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.worker:
        sys.path.insert(0, str(REPO))
        kind, job = args.worker
        print(json.dumps(WORKERS[kind](json.loads(job))))
        return

    if args.paper_scale:
        args.ngf, args.n_blocks, args.ndf = 64, 9, 64
    settings = {"ngf": args.ngf, "n_blocks": args.n_blocks, "ndf": args.ndf}
    settings.update(parse_overrides(args.set, args.methods))
    training = {
        "amp": args.amp,
        "channels_last": args.channels_last,
        "fused_adam": args.fused_adam,
        "compile": args.compile,
        "cuda_graph": args.cuda_graph,
        "cudnn_benchmark": not args.no_cudnn_benchmark,
    }
    base = {
        "settings": settings,
        "training": training,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "device": args.device,
        "threads": args.threads,
    }
    variants = ["harness"] if args.no_faithful else ["harness", "faithful"]
    results = []
    print(
        f"# training step, ngf {args.ngf}, {args.n_blocks} blocks, ndf {args.ndf}, batch 1, "
        f"median of {args.repeats} after {args.warmup} warm-up; options {training}"
        + (f"; settings {settings}" if args.set else ""),
        flush=True,
    )
    if not args.no_table:
        print(
            "| method | crop | harness ms/it | it/s | peak MB | faithful ms/it | faithful / harness | graph | device |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for method in args.methods if not args.no_table else []:
        for size in args.sizes:
            row = {v: run_isolated({**base, "method": method, "size": size, "variant": v}) for v in variants}
            results.extend(row.values())
            h = row["harness"]
            if "error" in h:
                print(f"| {method} | {size} | error: {h['error']} | | | | | | |", flush=True)
                continue
            f = row.get("faithful", {})
            faithful = f"{f['ms']:.1f}" if f.get("has_flag") and "ms" in f else "–"
            ratio = f"{f['ms'] / h['ms']:.2f}" if f.get("has_flag") and "ms" in f else "–"
            if "ms" in f and not f.get("has_flag"):  # no reference-work variant: faithful = plain float32
                faithful, ratio = f"{f['ms']:.1f}", f"{f['ms'] / h['ms']:.2f}"
            print(
                f"| {method} | {size} | {h['ms']:.1f} | {1000 / h['ms']:.2f} | {h['peak_mb']:.0f} | "
                f"{faithful} | {ratio} | {'yes' if h['graph'] else 'no'} | {h['device_name']} |",
                flush=True,
            )
            for text in h.get("warnings", []):
                print(f"<!-- {method} {size}: warning: {text} -->", flush=True)
    if args.check:
        print(f"\n# numerics: harness vs plain float32, {args.check} iterations, |mean of last 5| relative")
        print(
            f"(floors: a second plain float32 run; the median of {args.check_floors} plain float32 run(s) from the"
            " weights perturbed once by bf16-sized amounts, the first rounded to bf16, with their range;"
        )
        print(" D / bf16 floor: the harness's D drift in units of the median bf16 floor)")
        print(
            "| method | crop | G | D | largest (loss) | rerun floor G | D | bf16 floor G | D | D / bf16 floor "
            "| harness finite |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
        for method in args.methods:
            size = args.sizes[-1]
            job = {**base, "method": method, "size": size, "check": args.check, "floors": args.check_floors}
            r = run_isolated(job, "check")
            results.append(r)
            if "error" in r:
                print(f"| {method} | {size} | error: {r['error']} |" + " |" * 8, flush=True)
                continue
            print(f"| {method} | {size} | {' | '.join(check_cells(r))} | {r['finite']} |", flush=True)
    if args.profile:
        size = args.sizes[-1]
        print(f"\n# profile: harness step at {size} px, {args.profile} iterations; time per iteration")
        print("| method | clock | op or kernel | ms/it | share | calls/it |")
        print("| --- | --- | --- | --- | --- | --- |", flush=True)
        for method in args.methods:
            job = {**base, "method": method, "size": size, "profile": args.profile, "top": args.top}
            r = run_isolated(job, "profile")
            results.append(r)
            if "error" in r:
                print(f"| {method} | error: {r['error']} | | | | |", flush=True)
                continue
            print(f"| {method} | {r['clock']} | (all) | {r['busy_ms']:.2f} | 100 % | |")
            for row in r["top"]:
                name = row["name"].replace("|", "/")
                name = name if len(name) <= 90 else name[:87] + "..."
                share = 100 * row["ms"] / r["busy_ms"]
                print(f"| {method} | | `{name}` | {row['ms']:.3f} | {share:.1f} % | {row['calls']:g} |")
            sys.stdout.flush()
    if args.sweep or args.sweep_processes:
        method, size = args.methods[0], args.sizes[-1]
        print(f"\n# seed sweep: {method} at {size} px, total iterations per second on one device")
        print("| mechanism | runs | total it/s | per run ms/it | peak MB | graph |")
        print("| --- | --- | --- | --- | --- | --- |", flush=True)
        for runs in args.sweep:
            r = run_isolated({**base, "method": method, "size": size, "runs": runs}, "sweep")
            results.append(r)
            if "error" in r:
                print(f"| one process, StepGroup | {runs} | error: {r['error']} | | | |", flush=True)
                continue
            print(
                f"| one process, StepGroup | {runs} | {r['total_its']:.1f} | {1000 * runs / r['total_its']:.1f} | "
                f"{r['peak_mb']:.0f} | {'yes' if r['graph'] else 'no'} |",
                flush=True,
            )
        for processes in args.sweep_processes:
            with tempfile.TemporaryDirectory() as barrier:
                jobs = [
                    {
                        **base,
                        "method": method,
                        "size": size,
                        "index": i,
                        "processes": processes,
                        "barrier": barrier,
                        "seconds": args.sweep_seconds,
                    }
                    for i in range(processes)
                ]
                rs = run_side_by_side(jobs)
            results.extend(rs)
            errors = [r["error"] for r in rs if "error" in r]
            if errors:
                print(f"| processes side by side | {processes} | error: {errors[0]} | | | |", flush=True)
                continue
            total = sum(r["its"] for r in rs)
            print(
                f"| processes side by side | {processes} | {total:.1f} | {1000 * processes / total:.1f} | – | "
                f"{'yes' if all(r['graph'] for r in rs) else 'no'} |",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
