"""Run a method over a dataset's test split and write one PNG per hazy test image.

Outputs go to a temporary sibling folder that is renamed onto the target only when every image is
written, so a crash never leaves a half-filled folder that Snakemake would count as done.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from cddgan.data.manifest import read_manifest, test_pairs
from cddgan.errors import DatasetError, OutOfMemory
from cddgan.io import atomic_dir, read_image, write_image
from cddgan.methods.base import Method

# Generators downsample twice; inputs are reflect-padded to a multiple of this and cropped back.
SIZE_MULTIPLE = 4


def to_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """HxWx3 float array in [0, 1] -> (1, 3, H, W) tensor on `device`."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].to(device)


def dehaze_image(method: Method, image: np.ndarray, device: torch.device) -> np.ndarray:
    """Dehaze one HxWx3 image in [0, 1], padding to the generators' size multiple and cropping back."""
    x = to_tensor(image, device)
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % SIZE_MULTIPLE, (-w) % SIZE_MULTIPLE
    if pad_h or pad_w:
        mode = "reflect" if min(h, w) > max(pad_h, pad_w) else "replicate"
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
    with torch.inference_mode():
        y = method.dehaze(x)[..., :h, :w]
    return y[0].permute(1, 2, 0).float().cpu().numpy()


# How torch words an allocation failure that is not a torch.OutOfMemoryError: the CPU allocator's, and
# "CUDA error: out of memory" raised by a library kernel (cuDNN) as a plain RuntimeError.
_OOM_MARKERS = ("defaultcpuallocator", "not enough memory", "can't allocate memory", "out of memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's out-of-memory errors, on a GPU or on the CPU."""
    if isinstance(exc, torch.OutOfMemoryError | MemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(marker in str(exc).lower() for marker in _OOM_MARKERS)


def out_of_memory_error(path: str, image: np.ndarray, dataset: str, device: torch.device) -> OutOfMemory:
    """What to do when one test image does not fit: shrink the test set or give the job more memory."""
    height, width = image.shape[:2]
    where = "GPU" if device.type == "cuda" else "host"
    return OutOfMemory(
        f"{path}: dehazing this {width}x{height} image ({width * height / 1e6:.1f} MP) ran out of {where} "
        f"memory on {device}. Set datasets.{dataset}.test_max_side (for example 1024) to dehaze and score "
        f"the test set at a smaller size, or give the job more memory (a GPU with more memory, or "
        f"`--set-resources dehaze:mem_mb=...` for host memory). docs/benchmarks.md lists the memory per megapixel."
    )


def dehaze_split(
    method: Method, manifest_path: str | Path, out_dir: str | Path, device: torch.device, progress: bool = True
) -> int:
    """Dehaze every hazy test image of a manifest into `out_dir/<image_id>.png`; returns the count."""
    out_dir = Path(out_dir)
    pairs = test_pairs(read_manifest(manifest_path))
    if pairs.empty:
        raise DatasetError(
            f"{manifest_path}: no hazy test images; this dataset has no test split. Take it out of the "
            "`test:` list of the experiments that name it (experiments.<name>.test), or test on another dataset"
        )
    with atomic_dir(out_dir) as staging:
        rows = pairs[["dataset", "image_id", "path"]].itertuples(index=False)
        for dataset, image_id, path in tqdm(
            rows, total=len(pairs), desc="dehaze", file=sys.stderr, disable=not progress
        ):
            image = read_image(path)
            try:
                dehazed = dehaze_image(method, image, device)
            except (RuntimeError, MemoryError) as exc:
                if not is_out_of_memory(exc):
                    raise
                raise out_of_memory_error(path, image, dataset, device) from exc
            write_image(staging / f"{image_id}.png", dehazed)
    return len(pairs)


def dehaze_test_sets(
    method: Method,
    tests: Sequence[Mapping[str, Any]],
    outputs_root: str | Path,
    device: torch.device,
    progress: bool = True,
) -> dict[str, int]:
    """Dehaze every test set of `tests` (dataset, manifest) into `outputs_root/<dataset>`: one process and
    one loaded model for all of a run's test sets. Returns the image count per test set."""
    return {
        test["dataset"]: dehaze_split(method, test["manifest"], Path(outputs_root) / test["dataset"], device, progress)
        for test in tests
    }
