"""CUDA-graph mechanics of the training step: capture one iteration of one or several runs and replay
it, and run eager warm-up iterations on a side stream as a capture requires.

Why a module of its own: `cddgan.training.step` says what an iteration is (optimisers, schedule,
precision); this says how an iteration is recorded once and replayed, the part that only CUDA has. It is
a leaf: the caller hands it each run's iteration as a callable and a way to zero the gradients, so it
needs nothing of the step's insides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

Record = Callable[[str, Any], None]
Batch = tuple[torch.Tensor, torch.Tensor]
# One run's iteration on (hazy, clear), handing each logged (name, value) to the record.
Iteration = Callable[[torch.Tensor, torch.Tensor, Record], None]


def on_side_stream(device: torch.device, work: Callable[[], None]) -> None:
    """Run `work` on a fresh stream ordered after (and before) the current one: how eager warm-up
    iterations must run before a CUDA graph capture."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        work()
    torch.cuda.current_stream(device).wait_stream(side)


class CapturedStep:
    """One iteration of one or several runs as a CUDA graph, with its static inputs and logged tensors."""

    def __init__(self, graph: torch.cuda.CUDAGraph, inputs: list[Batch], logs: list[list[tuple[str, Any]]]) -> None:
        self.graph, self.inputs, self.logs = graph, inputs, logs

    @classmethod
    def capture_group(
        cls,
        device: torch.device,
        iterations: list[Iteration],
        batches: list[Batch],
        zero_grads: Callable[[], None],
    ) -> CapturedStep:
        """Capture one call of every iteration in one graph; with several, each on its own stream, so that
        their kernels may overlap on the GPU. Capturing records work without running it. `zero_grads`
        runs first, outside the graph, so that the gradients are then allocated in the graph's pool."""
        inputs = [(h.clone(), c.clone()) for h, c in batches]
        logs: list[list[tuple[str, Any]]] = [[] for _ in iterations]
        streams = [torch.cuda.Stream(device) for _ in iterations] if len(iterations) > 1 else []
        zero_grads()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            origin = torch.cuda.current_stream(device)
            for i, iteration in enumerate(iterations):
                collect = logs[i].append
                hazy, clear = inputs[i]

                def record(name: str, value: Any, collect: Callable = collect) -> None:
                    collect((name, value))

                if streams:
                    streams[i].wait_stream(origin)
                    with torch.cuda.stream(streams[i]):
                        iteration(hazy, clear, record)
                else:
                    iteration(hazy, clear, record)
            for stream in streams:
                origin.wait_stream(stream)
        return cls(graph, inputs, logs)

    def replay_group(self, batches: list[Batch], records: list[Record | None]) -> None:
        """Copy the batches into the captured inputs, replay, and hand the logged tensors to `records`."""
        for (static_h, static_c), (hazy, clear) in zip(self.inputs, batches, strict=True):
            static_h.copy_(hazy, non_blocking=True)
            static_c.copy_(clear, non_blocking=True)
        self.graph.replay()
        for logs, record in zip(self.logs, records, strict=True):
            if record is not None:
                for name, value in logs:
                    record(name, value)
