"""What machine computed a number: the CPU, torch's kernel family, the library versions, the GPU.

Why a record: float results of the same code differ across CPU kernel families (AVX2 vs AVX-512), MKL and
cuDNN versions and GPUs, and timings differ far more. A reviewer comparing two tables needs to know whether
they came from the same machine. Training writes this into run.json and model.pt; the report records the
machine that rendered it the same way.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path
from typing import Any

import torch


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def mkl_info() -> dict[str, Any]:
    """Whether torch uses MKL, and its version where torch's build summary names one."""
    available = bool(torch.backends.mkl.is_available())
    version = None
    if available:
        match = re.search(r"Math Kernel Library Version ([^\s-]+)", torch.__config__.show())
        version = match.group(1) if match else None
    return {"available": available, "version": version}


def machine_info(device: torch.device | str) -> dict[str, Any]:
    """A JSON-able description of this machine as seen by torch, for a job that ran on `device`."""
    device = torch.device(device)
    cuda = torch.cuda.is_available()
    cudnn = torch.backends.cudnn.version() if cuda and torch.backends.cudnn.is_available() else None
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "cudnn": cudnn,
        "mkl": mkl_info(),
        "threads": torch.get_num_threads(),
        "device": str(device),
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
    }
