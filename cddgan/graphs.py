"""CUDA-graph mechanics of the training step: capture one iteration of one or several `TrainStep`s and
replay it, and run eager warm-up iterations on a side stream as a capture requires.

Why a module of its own: `cddgan.step` says what an iteration is (optimisers, schedule, precision);
this says how an iteration is recorded once and replayed, the part that only CUDA has.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from cddgan.step import TrainStep

Record = Callable[[str, Any], None]


def on_side_stream(device: torch.device, work: Callable[[], None]) -> None:
    """Run `work` on a fresh stream ordered after (and before) the current one: how eager warm-up
    iterations must run before a CUDA graph capture."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        work()
    torch.cuda.current_stream(device).wait_stream(side)


class CapturedStep:
    """One iteration of one or several `TrainStep`s as a CUDA graph, with its static inputs and logged
    tensors."""

    def __init__(
        self,
        graph: torch.cuda.CUDAGraph,
        inputs: list[tuple[torch.Tensor, torch.Tensor]],
        logs: list[list[tuple[str, Any]]],
    ) -> None:
        self.graph, self.inputs, self.logs = graph, inputs, logs

    @classmethod
    def capture_group(
        cls,
        steps: list[TrainStep],
        batches: list[tuple[torch.Tensor, torch.Tensor]],
        decisions: list[Mapping[str, Hashable]],
    ) -> CapturedStep:
        """Capture one iteration of every step in one graph; with several, each on its own stream, so that
        their kernels may overlap on the GPU. Capturing records work without running it."""
        device = steps[0].device
        inputs = [(h.clone(), c.clone()) for h, c in batches]
        logs: list[list[tuple[str, Any]]] = [[] for _ in steps]
        streams = [torch.cuda.Stream(device) for _ in steps] if len(steps) > 1 else []
        for step in steps:
            for optimizer in step.optimizers.values():
                optimizer.zero_grad(set_to_none=True)  # gradients then live in the graph's memory pool
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            origin = torch.cuda.current_stream(device)
            for i, step in enumerate(steps):
                collect = logs[i].append
                run = partial(step.run, *inputs[i], decisions[i], lambda name, value, c=collect: c((name, value)))
                if streams:
                    streams[i].wait_stream(origin)
                    with torch.cuda.stream(streams[i]):
                        run()
                else:
                    run()
            for stream in streams:
                origin.wait_stream(stream)
        return cls(graph, inputs, logs)

    def replay_group(
        self, batches: list[tuple[torch.Tensor, torch.Tensor]], records: list[Record | None]
    ) -> None:
        """Copy the batches into the captured inputs, replay, and hand the logged tensors to `records`."""
        for (static_h, static_c), (hazy, clear) in zip(self.inputs, batches, strict=True):
            static_h.copy_(hazy, non_blocking=True)
            static_c.copy_(clear, non_blocking=True)
        self.graph.replay()
        for logs, record in zip(self.logs, records, strict=True):
            if record is not None:
                for name, value in logs:
                    record(name, value)
