"""One training iteration of a GAN method, with its optimisers and learning-rate schedule.

Shared by the training loop (`cddgan.train.Trainer`), the efficiency measurement and the benchmarks, so
that what is timed is exactly what is trained. The method yields `(group, loss, logs)` per update; this
class zeroes that group's gradients, back-propagates, steps its Adam, and finally runs the method's
post-step hook and the schedule.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from typing import Any

import torch

from cddgan.methods import GANMethod

Record = Callable[[str, Any], None]


def linear_decay(iterations: int, decay_start: float) -> Callable[[int], float]:
    """LR factor: 1 until `decay_start * iterations`, then linearly to 0 at the last iteration."""
    n_const = round(iterations * decay_start)
    n_decay = max(1, iterations - n_const)

    def factor(iteration: int) -> float:
        return 1.0 - max(0, iteration - n_const) / n_decay

    return factor


def compile_networks(method: GANMethod) -> bool:
    """`torch.compile` each top-level network in place (state-dict keys unchanged); False if unavailable.

    The generator-based `step` itself is Python control flow and stays eager; the networks are where the
    time goes. Any failure to set up compilation falls back to eager mode with a warning.
    """
    try:
        for module in method.children():
            if any(True for _ in module.parameters()):
                module.compile()
    except Exception as exc:  # compilation is an optimisation, never a reason to stop a run
        warnings.warn(f"torch.compile unavailable ({exc}); running eagerly", stacklevel=2)
        return False
    return True


class TrainStep:
    """Optimisers + schedule + one iteration for a `GANMethod` under the shared training settings."""

    def __init__(self, method: GANMethod, cfg: Mapping[str, Any], device: torch.device) -> None:
        self.method = method
        self.cfg = cfg
        self.device = device
        fused = bool(cfg.get("fused_adam")) and device.type == "cuda"
        self.optimizers = {
            name: torch.optim.Adam(
                params,
                lr=float(cfg["lr"]),
                betas=(float(cfg["beta1"]), float(cfg["beta2"])),
                fused=fused or None,
            )
            for name, params in method.optim_groups().items()
        }
        factor = linear_decay(int(cfg["iterations"]), float(cfg["decay_start"]))
        self.schedulers = {
            name: torch.optim.lr_scheduler.LambdaLR(opt, factor) for name, opt in self.optimizers.items()
        }
        self.channels_last = bool(cfg.get("channels_last")) and device.type == "cuda"
        # bf16 autocast: meant for CUDA, but honoured on the CPU too so that its numerics can be tested there.
        self.amp = bool(cfg.get("amp"))
        if cfg.get("compile"):
            compile_networks(method)

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.amp else nullcontext()

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Move a batch to the device (and to channels_last when asked)."""
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def __call__(self, hazy: torch.Tensor, clear: torch.Tensor, record: Record | None = None) -> None:
        steps = self.method.step(self.prepare(hazy), self.prepare(clear))
        while True:
            with self._autocast():
                try:
                    group, loss, logs = next(steps)
                except StopIteration:
                    break
            optimizer = self.optimizers[group]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if record is not None:
                if group not in logs:  # the group's total loss, unless the method logs it itself
                    record(group, loss)
                for name, value in logs.items():
                    record(name, value)
        self.method.after_step()
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
        for name, sched in self.schedulers.items():
            sched.load_state_dict(state["schedulers"][name])
