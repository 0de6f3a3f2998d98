"""Throughput of the DCP baseline and of the metrics, to size the dehaze and evaluate jobs.

Prints markdown tables: DCP megapixels per second by image size, and images per second for the full-reference
metrics (per protocol) and FADE. Each timing is the fastest of `--repeats` runs after one warm-up run (which
also pays numba's FADE compilation), measured twice: wall-clock time, and the process's CPU time. On a shared
machine the wall time depends on the neighbours; the CPU time (with `--threads 1`) does not, and it is what
sizes a job: images per CPU-second.

    python benchmarks/bench_dcp_metrics.py [--repeats 5] [--threads N] [--dcp-sizes 128 256 512 1024]
        [--metric-sizes 256 512]
"""

from __future__ import annotations

import argparse
import functools
import platform
from collections.abc import Callable

import numpy as np
import torch

from baselines.dcp import DarkChannelPrior, effective_radius
from cddgan.measure import timings
from cddgan.metrics import PROTOCOLS, full_reference, no_reference


def best_seconds(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Fastest (wall, CPU) seconds of `fn` over `repeats` calls, after one untimed warm-up call."""
    runs = timings(fn, torch.device("cpu"), repeats, warmup=1)
    return min(t.wall_ms for t in runs) / 1000, min(t.cpu_ms for t in runs) / 1000


def scene(size: int, seed: int = 0) -> np.ndarray:
    """A hazy-looking test image: random 8-px colour blocks, blended towards grey-white, as HxWx3 in [0, 1]."""
    rng = np.random.default_rng(seed)
    blocks = rng.random((max(1, size // 8), max(1, size // 8), 3))
    image = np.kron(blocks, np.ones((8, 8, 1)))[:size, :size]
    return (0.6 * image + 0.35).astype(np.float32)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def bench_dcp(sizes: list[int], repeats: int) -> list[str]:
    method = DarkChannelPrior()
    lines = [
        "| DCP input (px) | guided-filter radius | wall ms / image | CPU ms / image | MP/s (wall) | MP per CPU-s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for size in sizes:
        hazy = torch.from_numpy(scene(size).transpose(2, 0, 1).copy())[None]
        wall, cpu = best_seconds(functools.partial(method.dehaze, hazy), repeats)
        radius = effective_radius(method.settings["radius"], size, size)
        mp = size * size / 1e6
        lines.append(
            f"| {size}x{size} | {radius} | {wall * 1e3:.1f} | {cpu * 1e3:.1f} | {mp / wall:.2f} | {mp / cpu:.2f} |"
        )
    return lines


def bench_metrics(sizes: list[int], repeats: int) -> list[str]:
    lines = [
        "| metric | protocol | size (px) | wall ms / image | CPU ms / image | images/s (wall) | images per CPU-s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for size in sizes:
        pred, gt = scene(size, 1), scene(size, 2)
        for key in ("rgb", "rgb-nods", "y"):
            protocol = PROTOCOLS[key]
            times = best_seconds(functools.partial(full_reference, pred, gt, protocol), repeats)
            lines.append(_metric_line("PSNR+SSIM+CIEDE2000", protocol.name, size, *times))
        times = best_seconds(functools.partial(no_reference, pred, PROTOCOLS["rgb"]), repeats)
        lines.append(_metric_line("FADE", "any", size, *times))
    return lines


def _metric_line(metric: str, protocol: str, size: int, wall: float, cpu: float) -> str:
    return (
        f"| {metric} | {protocol} | {size}x{size} | {wall * 1e3:.1f} | {cpu * 1e3:.1f} | {1 / wall:.1f} "
        f"| {1 / cpu:.1f} |"
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line (its own function, so tests/test_doc_commands.py can parse documented commands)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dcp-sizes", type=int, nargs="+", default=[128, 256, 512, 1024])
    parser.add_argument("--metric-sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads (0: torch's default); 1 is steadier on a busy machine"
    )
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    print(f"CPU: {cpu_name()}; torch {torch.__version__}, {threads} threads; fastest of {args.repeats} runs\n")
    print("\n".join(bench_dcp(args.dcp_sizes, args.repeats)))
    print()
    print("\n".join(bench_metrics(args.metric_sizes, args.repeats)))


if __name__ == "__main__":
    main()
