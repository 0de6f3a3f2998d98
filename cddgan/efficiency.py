"""Efficiency of a run: parameters, multiply-accumulates, training and inference time, peak memory.

Parameters are those of the modules the dehazing forward actually calls (found with forward hooks), so a
CycleGAN counts one generator, not both generators and discriminators, matching how papers report it.
MACs come from `torch.utils.flop_counter.FlopCounterMode` (FLOPs / 2) on one image of `image_size`:
convolutions and matrix products only, a transposed convolution counted on its input pixels (its true
cost). thop counts it on its output pixels, stride^2 times more: CycleGAN's generator at 256 px has two
transposed convolutions of 1.21 G each here (64^2 x 256 x 128 x 9 and 128^2 x 128 x 64 x 9), 4.83 G each
that way, so 49.55 G (tests/test_efficiency.py has the hand count) becomes 49.55 + 2 x 3.62 = 56.80 G,
which is why published tables list CycleGAN at 56.89 G and the same generator as CycleDehaze at 49.16 G.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from cddgan.measure import peak_memory_mb, reset_peak_memory, time_ms
from cddgan.methods.base import Method

EFFICIENCY_SIZE = (256, 256)


def called_parameters(method: Method, x: torch.Tensor) -> int:
    """Number of parameters in the modules that `method.dehaze(x)` calls."""
    if not isinstance(method, torch.nn.Module):
        return 0
    called: set[int] = set()
    hooks = [
        m.register_forward_hook(lambda mod, *_: called.add(id(mod))) for m in method.modules() if not list(m.children())
    ]
    try:
        with torch.inference_mode():
            method.dehaze(x)
    finally:
        for hook in hooks:
            hook.remove()
    seen: set[int] = set()
    total = 0
    for module in method.modules():
        if id(module) in called:
            for p in module.parameters(recurse=False):
                if id(p) not in seen:
                    seen.add(id(p))
                    total += p.numel()
    return total


def count_macs(method: Method, x: torch.Tensor) -> int | None:
    """Multiply-accumulates of one dehazing forward (None for methods without network layers)."""
    if not isinstance(method, torch.nn.Module):
        return None
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        method.dehaze(x)
    return int(counter.get_total_flops() // 2)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def measure(
    method: Method,
    device: torch.device,
    train_step: Callable[[], object] | None = None,
    repeats: int = 5,
    image_size: tuple[int, int] = EFFICIENCY_SIZE,
    train_warmup: int = 1,
) -> dict[str, Any]:
    """All efficiency figures of one method. `train_step` is a zero-argument callable or None; it runs
    `train_warmup` times before it is timed. Times and peak memory are `cddgan.measure`'s (the median of
    synced calls; CUDA: peak reserved memory, which counts a CUDA graph's private pool)."""
    reset_peak_memory(device)
    x = torch.rand(1, 3, *image_size, device=device)
    params = called_parameters(method, x)
    macs = count_macs(method, x)
    infer = time_ms(lambda: _infer(method, x), device, repeats)
    train = time_ms(train_step, device, repeats, train_warmup) if train_step is not None else None
    return {
        "params": params,
        "macs": macs,
        "image_size": list(image_size),
        "train_ms_per_iter": train,
        "infer_ms_per_image": infer,
        "peak_mem_mb": peak_memory_mb(device),
        "device": device_name(device),
    }


def _infer(method: Method, x: torch.Tensor) -> None:
    with torch.inference_mode():
        method.dehaze(x)


def summary(result: Mapping[str, Any]) -> str:
    macs = f"{result['macs'] / 1e9:.2f} GMACs" if result.get("macs") is not None else "n/a MACs"
    train = result.get("train_ms_per_iter")
    train_text = f", train {train:.1f} ms/it" if train is not None else ""
    return (
        f"{result['params'] / 1e6:.3f} M params, {macs}, infer {result['infer_ms_per_image']:.1f} ms/image"
        f"{train_text} on {result['device']}"
    )
