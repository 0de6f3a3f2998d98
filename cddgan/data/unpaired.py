"""Unpaired sampling of the two training domains with random crop and flip.

Every random draw (which hazy image, which clear image, crop offsets, flips) comes from one
`torch.Generator` owned by the sampler, so a run is reproducible from its seed and resumes exactly: the
generator's state goes into the checkpoint. Images are decoded once and cached as uint8 when the training
set is small (`cache_images: auto`), otherwise read from disk at every draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from cddgan.errors import DatasetError, ImageError
from cddgan.io import read_image

# Cache when the decoded uint8 images of both domains take less than this many bytes.
AUTO_CACHE_BYTES = 2 * 1024**3


def _to_uint8_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.rint(array * 255.0).astype(np.uint8))).permute(2, 0, 1)


class ImageSource:
    """One domain's images: decoded on demand, optionally resized, optionally cached."""

    def __init__(self, paths: Sequence[str], load_size: int | None, crop: int, cache: bool) -> None:
        if not paths:
            raise DatasetError("a training domain has no images")
        self.paths = list(paths)
        self.load_size = load_size
        self.crop = crop
        self._cache: dict[int, torch.Tensor] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.paths)

    def get(self, index: int) -> torch.Tensor:
        """The image as a uint8 (3, H, W) tensor, resized so its shorter side is `load_size` if set."""
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        path = self.paths[index]
        image = _to_uint8_tensor(read_image(path))
        if self.load_size:
            h, w = image.shape[1:]
            scale = self.load_size / min(h, w)
            size = (max(self.load_size, round(h * scale)), max(self.load_size, round(w * scale)))
            image = F.interpolate(image[None].float(), size=size, mode="bicubic", align_corners=False)
            image = image.clamp(0, 255).round().to(torch.uint8)[0]
        h, w = image.shape[1:]
        if h < self.crop or w < self.crop:
            raise ImageError(
                f"{path}: {w}x{h} is smaller than the training crop {self.crop}; lower training.crop or set "
                "training.load_size to upscale"
            )
        if self._cache is not None:
            self._cache[index] = image
        return image


class UnpairedSampler:
    """Draws unpaired (hazy, clear) batches in [-1, 1] from a manifest's training split."""

    def __init__(
        self,
        manifest: pd.DataFrame,
        *,
        crop: int,
        batch_size: int = 1,
        flip: bool = True,
        load_size: int | None = None,
        cache: bool | str = "auto",
        seed: int = 0,
        manifest_path: str | Path = "manifest",
    ) -> None:
        train = manifest[manifest["split"] == "train"]
        hazy = train.loc[train["domain"] == "hazy", "path"].tolist()
        clear = train.loc[train["domain"] == "clear", "path"].tolist()
        if not hazy or not clear:
            raise DatasetError(
                f"{manifest_path}: the training split needs hazy and clear images, found {len(hazy)} hazy and "
                f"{len(clear)} clear; use a dataset with a train split (synthetic, reside-its, unpaired-folders)"
            )
        if cache == "auto":
            cache = self._estimate_bytes(hazy + clear, load_size) < AUTO_CACHE_BYTES
        self.hazy = ImageSource(hazy, load_size, crop, bool(cache))
        self.clear = ImageSource(clear, load_size, crop, bool(cache))
        self.crop = crop
        self.batch_size = batch_size
        self.flip = flip
        self.generator = torch.Generator().manual_seed(seed)

    @staticmethod
    def _estimate_bytes(paths: list[str], load_size: int | None) -> int:
        from PIL import Image

        try:
            with Image.open(paths[0]) as img:
                w, h = img.size
        except OSError:
            return 0
        if load_size:
            scale = load_size / min(h, w)
            h, w = h * scale, w * scale
        return int(len(paths) * h * w * 3)

    def _draw(self, source: ImageSource) -> torch.Tensor:
        g = self.generator
        index = int(torch.randint(len(source), (1,), generator=g))
        image = source.get(index)
        h, w = image.shape[1:]
        top = int(torch.randint(h - self.crop + 1, (1,), generator=g))
        left = int(torch.randint(w - self.crop + 1, (1,), generator=g))
        patch = image[:, top : top + self.crop, left : left + self.crop]
        flip = bool(torch.rand((), generator=g) < 0.5)
        if self.flip and flip:
            patch = patch.flip(-1)
        return patch

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch: (hazy, clear), each float32 (B, 3, crop, crop) in [-1, 1]."""
        hazy = torch.stack([self._draw(self.hazy) for _ in range(self.batch_size)])
        clear = torch.stack([self._draw(self.clear) for _ in range(self.batch_size)])
        return hazy.float() / 127.5 - 1.0, clear.float() / 127.5 - 1.0

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
