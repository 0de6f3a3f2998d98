"""One training iteration of a GAN method, with its optimisers and learning-rate schedule.

Shared by the training loop (`cddgan.training.loop.Trainer`), the efficiency measurement and the
benchmarks, so that what is timed is exactly what is trained. The method yields `(group, loss, logs)` per
update; this class zeroes that group's gradients, back-propagates, steps its Adam, and finally runs the
method's post-step hook and the schedule. On CUDA, `cuda_graph` replays a captured iteration (see
`TrainStep`; the capture itself is in `cddgan.training.graphs`, handed each run's iteration as a
callable), and `StepGroup` steps several runs in one process and one graph (what the benchmarks time;
the training loop's seed groups step each seed alone, in its own random streams: `cddgan.training.group`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Mapping
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from typing import Any

import torch

from cddgan.errors import ConfigError, HarnessError
from cddgan.methods.base import GANMethod
from cddgan.training.graphs import CapturedStep, Record, on_side_stream


def linear_decay(iterations: int, decay_start: float) -> Callable[[int], float]:
    """LR factor: 1 until `decay_start * iterations`, then linearly to 0 at the last iteration."""
    n_const = round(iterations * decay_start)
    n_decay = max(1, iterations - n_const)

    def factor(iteration: int) -> float:
        return 1.0 - max(0, iteration - n_const) / n_decay

    return factor


def uses_cuda_graph(cfg: Mapping[str, Any], device: torch.device) -> bool:
    """Whether a step with these settings captures its iteration in a CUDA graph (`cuda_graph` on CUDA)."""
    return bool(cfg.get("cuda_graph")) and device.type == "cuda"


def uses_channels_last(cfg: Mapping[str, Any], device: torch.device) -> bool:
    """Whether weights and batches go channels_last: `channels_last` on CUDA; refused on the CPU.

    Why refused rather than ignored or honoured there: torch's CPU InstanceNorm backward (2.14) returns
    wrong gradients when the incoming gradient is channels_last at batch size 1, which is what a
    channels_last generator hands it; `tests/test_gradients.py` catches it with a float64 gradient check
    of the generator. A CUDA option asked for on the CPU is a config meant for another machine: say so.
    """
    if not cfg.get("channels_last"):
        return False
    if device.type != "cuda":
        raise HarnessError(
            f"training.channels_last is a CUDA option, and on the CPU ({device}) torch's InstanceNorm computes "
            "wrong gradients for channels_last tensors; set training.channels_last: false for CPU runs "
            "(an execution key: changing it retrains nothing)"
        )
    return True


def compile_networks(method: GANMethod, mode: str = "default") -> bool:
    """`torch.compile` each top-level network in place (state-dict keys unchanged); False if unavailable.

    `mode` is inductor's ("default" or "max-autotune-no-cudagraphs": the latter benchmarks kernel choices
    at the first call, minutes per network, for faster kernels; the config schema refuses the modes that
    capture CUDA graphs of their own, as `TrainStep` captures the whole iteration).

    The generator-based `step` itself is Python control flow and stays eager; the networks are where the
    time goes. Any failure to set up compilation falls back to eager mode with a warning, and a network
    whose compilation fails at its first call runs eagerly (dynamo's `suppress_errors`). A compiled
    kernel that fails while running is not caught: with torch 2.14 on the CPU, inductor's code for the
    replication pad's backward (BlurUp) fails its own stride check, so `compile` is an option for CUDA.
    """
    try:
        import torch._dynamo

        torch._dynamo.config.suppress_errors = True
        for module in method.children():
            if any(True for _ in module.parameters()):
                module.compile(mode=mode)
    except Exception as exc:  # compilation is an optimisation, never a reason to stop a run
        warnings.warn(f"torch.compile unavailable ({exc}); running eagerly", stacklevel=2)
        return False
    return True


class TrainStep:
    """Optimisers + schedule + one iteration for a `GANMethod` under the shared training settings.

    With `cuda_graph` (CUDA only) the first iterations run eagerly on a side stream (Adam's state, cuDNN's
    choices and the method's warm-up settle), then one iteration is captured in a CUDA graph and every
    later iteration copies its batch into the graph's input tensors and replays it: the forward passes,
    all backward passes, every Adam step and `after_step`, as one launch. Adam is then `capturable` with
    the learning rate in a device tensor that the schedule fills between replays. One graph is kept per
    batch shape and per value of the method's `host_decisions()`. A capture that fails (a method that
    reads tensors on the host) warns and leaves the run eager.
    """

    #: eager iterations before a capture (on top of the method's own `graph_warmup()`)
    GRAPH_WARMUP = 3

    def __init__(self, method: GANMethod, cfg: Mapping[str, Any], device: torch.device) -> None:
        self.method = method
        self.cfg = cfg
        self.device = device
        self.use_graph = uses_cuda_graph(cfg, device)
        self.channels_last = uses_channels_last(cfg, device)
        if self.channels_last:  # before the optimisers: they see the parameters in their final layout
            method.to(memory_format=torch.channels_last)
        fused = bool(cfg.get("fused_adam")) and device.type == "cuda"
        lr = float(cfg["lr"])
        self.optimizers = {
            name: torch.optim.Adam(
                params,
                lr=torch.tensor(lr, device=device) if self.use_graph else lr,
                betas=(float(cfg["beta1"]), float(cfg["beta2"])),
                fused=fused or None,
                capturable=self.use_graph,
            )
            for name, params in method.optim_groups().items()
        }
        # null (a spec not resolved by cddgan.config, e.g. TRAINING_DEFAULTS): the method's reference schedule
        decay_start = cfg.get("decay_start")
        decay_start = type(method).decay_start if decay_start is None else decay_start
        factor = linear_decay(int(cfg["iterations"]), float(decay_start))
        self.schedulers = {
            name: torch.optim.lr_scheduler.LambdaLR(opt, factor) for name, opt in self.optimizers.items()
        }
        if device.type == "cuda":
            # process-wide, like the reference code: crops have one size, so cuDNN times its algorithms for
            # each layer's shape once (in the eager warm-up, before any capture) and keeps the fastest
            torch.backends.cudnn.benchmark = bool(cfg.get("cudnn_benchmark", True))
        # bf16 autocast: meant for CUDA, but honoured on the CPU too so that its numerics can be tested there.
        self.amp = bool(cfg.get("amp"))
        if cfg.get("compile"):
            compile_networks(method, "default" if cfg["compile"] is True else str(cfg["compile"]))
        self.group = StepGroup([self])  # warm-up, capture and replay of this step alone

    def _autocast(self) -> AbstractContextManager:
        if not self.amp:
            return nullcontext()
        # no weight-cast cache across a captured region: every replay must cast the updated weights
        return torch.autocast(self.device.type, dtype=torch.bfloat16, cache_enabled=not self.use_graph)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Move a batch to the device (and to channels_last when asked)."""
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def __call__(self, hazy: torch.Tensor, clear: torch.Tensor, record: Record | None = None) -> None:
        self.group([(hazy, clear)], [record])

    @property
    def graphs(self) -> dict[Hashable, CapturedStep]:
        """The captured iterations, one per batch shape and value of `host_decisions()` (empty if none)."""
        return self.group.graphs

    @property
    def warmup_calls(self) -> int:
        """Eager iterations before a capture: GRAPH_WARMUP plus the method's own `graph_warmup()`."""
        return self.GRAPH_WARMUP + self.method.graph_warmup()

    @property
    def calls_before_replay(self) -> int:
        """With graphs, the calls that warm up or capture (time the calls after them); 0 without."""
        return self.warmup_calls + 1 if self.use_graph else 0

    def run(
        self,
        hazy: torch.Tensor,
        clear: torch.Tensor,
        decisions: Mapping[str, Hashable],
        record: Record | None = None,
    ) -> None:
        """One eager iteration: every update the method yields, then its `after_step` (no schedule)."""
        steps = self.method.step(hazy, clear, **decisions)
        while True:
            with self._autocast():
                try:
                    group, loss, logs = next(steps)
                except StopIteration:
                    break
            optimizer = self.optimizers.get(group)
            if optimizer is None:
                raise ConfigError(
                    f"{self.method.name}: step() yielded the group {group!r}, but optim_groups() returns "
                    f"{sorted(self.optimizers)}; yield one of those names, or add {group!r} to optim_groups()"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if record is not None:
                if group not in logs:  # the group's total loss, unless the method logs it itself
                    record(group, loss)
                for name, value in logs.items():
                    record(name, value)
        self.method.after_step()

    def schedule(self) -> None:
        """Advance every learning-rate schedule by one iteration."""
        for scheduler in self.schedulers.values():
            scheduler.step()

    def state_dict(self) -> dict:
        return {
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
        }

    def load_state_dict(self, state: Mapping) -> None:
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
            for group in opt.param_groups:  # the saved run may have used the other mode: lr as a float/tensor
                lr = float(group["lr"])
                group["lr"] = torch.tensor(lr, device=self.device) if self.use_graph else lr
        for name, sched in self.schedulers.items():
            sched.load_state_dict(state["schedulers"][name])
        self.group.graphs.clear()  # the optimisers' state tensors were replaced: recapture


class StepGroup:
    """Several independent runs (e.g. the seeds of a sweep) trained in one process, one iteration each per
    call; `TrainStep` steps itself as a group of one. With CUDA graphs (every member's `use_graph`) the
    members' first `warmup_calls` iterations run eagerly on a side stream, then their iterations are
    captured in one graph, a stream per member so that the GPU overlaps their kernels, and replayed. One
    graph is kept per batch shape and value of the members' `host_decisions()`; a group of several with
    host decisions trains eagerly (it would need a graph per combination). A capture that fails (a method
    that reads tensors on the host) warns and leaves the members eager.

    One graph for all, rather than one per run replayed on several streams: each replay re-bases the
    device RNG's offset, so graphs replayed concurrently would race on it. In one graph every random op
    has its own offset; a run's random numbers then depend on the group it trains in (its weights'
    initialisation does not: that happens before, from its own seed). That is why the harness's seed
    groups (`GroupTrainer`) do not use a StepGroup of several runs, and refuse CUDA graphs; what remains
    here is the measurement of that overlap (benchmarks/bench_train_step.py) and each step's group of one.
    """

    def __init__(self, steps: list[TrainStep]) -> None:
        if not steps:
            raise ValueError("a StepGroup needs at least one TrainStep")
        self.steps = steps
        self.calls = 0
        self.graphs: dict[Hashable, CapturedStep] = {}

    @property
    def use_graph(self) -> bool:
        return all(s.use_graph for s in self.steps)

    def __call__(
        self, batches: list[tuple[torch.Tensor, torch.Tensor]], records: list[Record | None] | None = None
    ) -> None:
        records = records if records is not None else [None] * len(self.steps)
        prepared = [(s.prepare(h), s.prepare(c)) for s, (h, c) in zip(self.steps, batches, strict=True)]
        decisions = [s.method.host_decisions() for s in self.steps]
        self.calls += 1
        if self.use_graph and len(self.steps) > 1 and any(decisions):
            self._stop_graphs()
        warm = max(s.warmup_calls for s in self.steps)
        captured = self._graph_for(prepared, decisions) if self.use_graph and self.calls > warm else None
        if captured is not None:
            captured.replay_group(prepared, records)
        else:
            for step, (h, c), d, r in zip(self.steps, prepared, decisions, records, strict=True):
                work = partial(step.run, h, c, d, r)
                if self.use_graph:
                    on_side_stream(step.device, work)
                else:
                    work()
        for step in self.steps:
            step.schedule()

    def _graph_for(
        self, prepared: list[tuple[torch.Tensor, torch.Tensor]], decisions: list[Mapping[str, Hashable]]
    ) -> CapturedStep | None:
        """This iteration's graph, captured now if it is the first of its kind; None if capture failed."""
        key = tuple(
            (tuple(sorted(d.items())), tuple(h.shape), tuple(c.shape))
            for d, (h, c) in zip(decisions, prepared, strict=True)
        )
        if key not in self.graphs:
            iterations = [partial(_iteration, s, d) for s, d in zip(self.steps, decisions, strict=True)]
            try:
                self.graphs[key] = CapturedStep.capture_group(
                    self.steps[0].device, iterations, prepared, self._zero_grads
                )
            except Exception as exc:  # a graph is an optimisation, never a reason to stop a run
                names = ", ".join(type(s.method).__name__ for s in self.steps)
                warnings.warn(f"CUDA graph capture of {names}'s step failed ({exc}); training eagerly", stacklevel=4)
                self._stop_graphs()
                return None
        return self.graphs[key]

    def _zero_grads(self) -> None:
        """Drop every member's gradients before a capture: they are then allocated in the graph's pool."""
        for step in self.steps:
            for optimizer in step.optimizers.values():
                optimizer.zero_grad(set_to_none=True)

    def _stop_graphs(self) -> None:
        for step in self.steps:
            step.use_graph = False
        self.graphs.clear()


def _iteration(
    step: TrainStep, decisions: Mapping[str, Hashable], hazy: torch.Tensor, clear: torch.Tensor, record: Record
) -> None:
    """One member's iteration as `cddgan.training.graphs` captures it: the batch and the record vary."""
    step.run(hazy, clear, decisions, record)
