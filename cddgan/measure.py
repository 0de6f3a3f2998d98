"""Timing and peak memory: one helper for the efficiency table and every benchmark script, so that their
figures mean the same thing.

Time: each timed call is ended by a device sync (CUDA kernels run asynchronously; without the sync a call
would be timed by its launches), after untimed warm-up calls (allocator, cuDNN's algorithm choice, lazy
initialisation). `time_ms` is the median wall time, robust to a neighbour's burst on a shared machine;
`timings` gives every call's wall and CPU time for scripts that report another statistic.

Peak memory on CUDA is the allocator's peak *reserved* memory, not its peak *allocated*: a replayed CUDA
graph's intermediates live in the graph's private memory pool, which counts as reserved but (after the
capture) not as allocated, so `max_memory_allocated` misses most of what a captured training step needs.
Reserved also holds the allocator's cached free blocks: it is what the device must have free for the job,
the figure that decides whether a job fits. On the CPU it is the process's peak resident set, which cannot
be reset: measure in a fresh process where the peak must be one stage's own (the benchmarks do).

torch is imported only where a CUDA device is in play, so that torch-free scripts can time with this too.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Timing:
    """One timed call: wall-clock and process CPU milliseconds."""

    wall_ms: float
    cpu_ms: float


def _on_cuda(device: torch.device | None) -> bool:
    return device is not None and device.type == "cuda"


def sync(device: torch.device | None) -> None:
    """Wait for the device's queued work (CUDA); nothing to wait for on the CPU."""
    if _on_cuda(device):
        import torch

        torch.cuda.synchronize(device)


def timings(fn: Callable[[], object], device: torch.device | None, repeats: int, warmup: int = 1) -> list[Timing]:
    """`repeats` calls of `fn` after `warmup` untimed ones, each ended by a device sync."""
    for _ in range(warmup):
        fn()
    sync(device)
    out = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        sync(device)
        out.append(Timing((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000))
    return out


def time_ms(fn: Callable[[], object], device: torch.device | None, repeats: int, warmup: int = 1) -> float:
    """Median wall time of `fn()` in milliseconds (see `timings`)."""
    return statistics.median(t.wall_ms for t in timings(fn, device, repeats, warmup))


def reset_peak_memory(device: torch.device | None) -> None:
    """Start a new peak on CUDA (after finishing queued work); the CPU's peak resident set cannot be reset."""
    if _on_cuda(device):
        import torch

        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def current_memory_mb(device: torch.device | None) -> float:
    """Memory held now: CUDA reserved memory, or the process's resident set (Linux /proc)."""
    if _on_cuda(device):
        import torch

        return torch.cuda.memory_reserved(device) / 2**20
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_memory_mb(device: torch.device | None) -> float:
    """Peak memory since the last reset: CUDA reserved memory (a graph's private pool included), or the
    process's peak resident set (Linux reports kB)."""
    if _on_cuda(device):
        import torch

        return torch.cuda.max_memory_reserved(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
