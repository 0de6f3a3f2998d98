"""Validation while training: the dehazing direction scored on a fixed subset of the dataset's val split.

Why: a model picked or judged by its test score has seen the test set. The val split (paired like the
test split, of other scenes) gives each run a curve of PSNR and SSIM against iterations (validation.csv)
and, with `training.select: best_val`, the iteration whose weights model.pt keeps.

The subset is the first `training.val_images` val pairs in manifest order, read once, so every evaluation
of every run scores the same images. Scoring is the test stage's: `cddgan.dehaze.dehaze_image` (padding
to the generators' size multiple, eval mode, no autograd) and `cddgan.metrics.full_reference` under the
"rgb" protocol, means over the subset. It must not change training: the networks' train/eval flags are
put back module by module and the global random states are restored (`cddgan.training.rng.preserved`),
so the weights of a run with `select: last` are bit for bit those of a run without validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from cddgan.data.manifest import val_pairs
from cddgan.errors import DivergenceError
from cddgan.training.rng import preserved

#: the columns of validation.csv, one row per evaluation
COLUMNS = ["iteration", "psnr", "ssim", "n_images"]
PROTOCOL = "rgb"


def scored_pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(hazy path, clear path) of the val split's hazy images that have ground truth, in manifest order
    (`cddgan.data.manifest.val_pairs` joins them)."""
    pairs = val_pairs(frame)
    pairs = pairs[pairs["clear_path"] != ""]
    return list(zip(pairs["path"], pairs["clear_path"], strict=True))


class Validator:
    """Scores a method on the first `n_images` val pairs of a manifest (none: `available` is False)."""

    def __init__(self, frame: pd.DataFrame, n_images: int) -> None:
        self.pairs = scored_pairs(frame)[: max(0, int(n_images))]
        self._images: list[tuple[np.ndarray, np.ndarray]] | None = None

    @property
    def available(self) -> bool:
        return bool(self.pairs)

    def images(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The subset's (hazy, clear) images, read at the first call and kept."""
        if self._images is None:
            from cddgan.io import read_image

            self._images = [(read_image(h), read_image(c)) for h, c in self.pairs]
        return self._images

    def score(self, method: Any, device: torch.device, iteration: int) -> dict[str, float | int]:
        """One row of validation.csv for the method's current weights; raises `DivergenceError` when an
        output is NaN or inf (the weights diverged between two loss checks)."""
        from cddgan.dehaze import dehaze_image
        from cddgan.metrics import full_reference
        from cddgan.protocols import Protocol

        protocol = Protocol.from_config(PROTOCOL)
        flags = [(module, module.training) for module in method.modules()]
        scores: list[Mapping[str, float]] = []
        try:
            with preserved(device):
                method.eval()
                for hazy, clear in self.images():
                    pred = dehaze_image(method, hazy, device)
                    if not np.isfinite(pred).all():
                        raise DivergenceError(
                            f"the dehazed validation images became NaN or inf at iteration {iteration}; "
                            "training stopped. Lower training.lr or check the data."
                        )
                    scores.append(full_reference(pred, clear, protocol))
        finally:
            for module, training in flags:
                module.training = training
        return {
            "iteration": int(iteration),
            "psnr": float(np.mean([s["psnr"] for s in scores])),
            "ssim": float(np.mean([s["ssim"] for s in scores])),
            "n_images": len(scores),
        }


def curve_frame(rows: list[Mapping[str, Any]]) -> pd.DataFrame:
    """validation.csv's table: the header alone when nothing was scored."""
    return pd.DataFrame(list(rows), columns=COLUMNS)
