"""Unpaired sampling of the two training domains with random crop and flip.

Every random draw (which hazy image, which clear image, crop offsets, flips) comes from one
`torch.Generator` owned by the sampler, so a run is reproducible from its seed and resumes exactly: the
generator's state goes into the checkpoint. Images are decoded once and cached as uint8 when the training
set is small (`cache_images: auto`), otherwise read from disk at every draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from cddgan.data import AUTO_CACHE_BYTES
from cddgan.errors import DatasetError, ImageError
from cddgan.io import read_image


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

    def check_sizes(self, domain: str) -> None:
        """Every image at least as large as the crop, read from the headers before the first iteration:
        found only when first drawn, a small image would stop the run at the same iteration on every
        resume (the random draws are restored with the checkpoint). Skipped with `load_size`, which
        scales the shorter side up to at least the crop."""
        if self.load_size:
            return
        from PIL import Image

        small = []
        for path in self.paths:
            try:
                with Image.open(path) as img:
                    w, h = img.size
            except (OSError, Image.DecompressionBombError):
                continue  # unreadable: read_image names it with its own message when it is drawn
            if w < self.crop or h < self.crop:
                small.append(f"{path} ({w}x{h})")
        if small:
            shown = "; ".join(small[:10]) + (f"; and {len(small) - 10} more" if len(small) > 10 else "")
            raise ImageError(
                f"{len(small)} of {len(self.paths)} {domain} training images are smaller than the crop "
                f"{self.crop}: {shown}. Lower training.crop, set training.load_size to upscale, or remove them "
                "from the dataset and rerun make_data"
            )

    def get(self, index: int) -> torch.Tensor:
        """The image as a uint8 (3, H, W) tensor, resized so its shorter side is `load_size` if set."""
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        path = self.paths[index]
        try:
            image = _to_uint8_tensor(read_image(path))
        except ImageError as exc:
            raise ImageError(
                f"{exc}. make_data checks large datasets by their headers only (datasets.<name>.verify: header); "
                "run it with verify: full to list every such file, then re-copy or remove them"
            ) from exc
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
        workers: int = 0,
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
        self.hazy.check_sizes("hazy")
        self.clear.check_sizes("clear")
        self.crop = crop
        self.batch_size = batch_size
        self.flip = flip
        self.generator = torch.Generator().manual_seed(seed)
        # Decoding threads for uncached data; every random draw stays in this thread, so results do not
        # depend on the number of workers.
        self._pool = ThreadPoolExecutor(workers) if workers > 0 else None

    @staticmethod
    def _estimate_bytes(paths: list[str], load_size: int | None) -> int:
        from PIL import Image

        try:
            with Image.open(paths[0]) as img:
                w, h = img.size
        except (OSError, Image.DecompressionBombError):
            return 0  # unreadable: reading it for real names the file
        if load_size:
            scale = load_size / min(h, w)
            h, w = h * scale, w * scale
        return int(len(paths) * h * w * 3)

    def _plan(self, source: ImageSource) -> tuple[ImageSource, int, float, float, bool]:
        """Every random draw for one image, made up front so that decoding can run in parallel."""
        g = self.generator
        index = int(torch.randint(len(source), (1,), generator=g))
        top, left, flip = torch.rand(3, generator=g).tolist()
        return source, index, top, left, self.flip and flip < 0.5

    def _crop(self, image: torch.Tensor, top: float, left: float, flip: bool) -> torch.Tensor:
        h, w = image.shape[1:]
        y = min(int(top * (h - self.crop + 1)), h - self.crop)
        x = min(int(left * (w - self.crop + 1)), w - self.crop)
        patch = image[:, y : y + self.crop, x : x + self.crop]
        return patch.flip(-1) if flip else patch

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch: (hazy, clear), each float32 (B, 3, crop, crop) in [-1, 1]."""
        plans = [self._plan(self.hazy) for _ in range(self.batch_size)]
        plans += [self._plan(self.clear) for _ in range(self.batch_size)]
        if self._pool is not None:
            images = list(self._pool.map(lambda p: p[0].get(p[1]), plans))
        else:
            images = [source.get(index) for source, index, *_ in plans]
        patches = [self._crop(image, *plan[2:]) for image, plan in zip(images, plans, strict=True)]
        batch = torch.stack(patches).float() / 127.5 - 1.0
        return batch[: self.batch_size], batch[self.batch_size :]

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
