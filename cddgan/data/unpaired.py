"""Unpaired sampling of the two training domains with random crop and flip.

How an image becomes a crop is `training.preprocess`, named as in the CUT and CycleGAN code. With
`training.load_size` set:

- ``scale_shortside_and_crop`` (the default): the shorter side is scaled to load_size, aspect kept (bicubic,
  torch, no antialiasing: this harness's behaviour from the start, kept pixel for pixel);
- ``resize_and_crop`` (the references' default, 286 then 256 crops): resized to a load_size square;
- ``scale_width_and_crop``: the width scaled to load_size, aspect kept, the height at least the crop (as the
  references' ``__scale_width``);
- ``crop``: no resizing; crops at the stored size.

The three resizing choices other than the default resample like the references' PIL bicubic (torch's
bicubic with antialiasing, as `cddgan.data.adapters.resize` does). Without load_size every choice only
crops. Random crops and flips follow in every case.

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
from cddgan.errors import ConfigError, DatasetError, ImageError
from cddgan.io import read_image

PREPROCESS = ("scale_shortside_and_crop", "resize_and_crop", "scale_width_and_crop", "crop")
DEFAULT_PREPROCESS = PREPROCESS[0]


def loaded_size(height: int, width: int, load_size: int | None, crop: int, preprocess: str) -> tuple[int, int]:
    """(height, width) of an image after `preprocess` resized it, before the crop; unchanged without a resize."""
    if not load_size or preprocess == "crop":
        return height, width
    if preprocess == "scale_shortside_and_crop":
        scale = load_size / min(height, width)
        return max(load_size, round(height * scale)), max(load_size, round(width * scale))
    if preprocess == "resize_and_crop":
        return load_size, load_size
    if preprocess == "scale_width_and_crop":
        if width == load_size and height >= crop:
            return height, width
        return int(max(load_size * height / width, crop)), load_size
    raise ConfigError(f"training.preprocess: expected one of {list(PREPROCESS)}, got {preprocess!r}")


def _resizes(load_size: int | None, preprocess: str) -> bool:
    return bool(load_size) and preprocess != "crop"


def check_preprocess(preprocess: str, load_size: int | None, crop: int) -> None:
    """A known choice, and a load_size that leaves room for the crop when the choice resizes."""
    if preprocess not in PREPROCESS:
        raise ConfigError(f"training.preprocess: expected one of {list(PREPROCESS)}, got {preprocess!r}")
    if _resizes(load_size, preprocess) and load_size < crop:
        raise ConfigError(
            f"training.load_size: {load_size} is smaller than training.crop {crop}; with preprocess {preprocess} "
            "every image is resized to load_size first, so raise load_size to at least the crop (or set it to null)"
        )


def _to_uint8_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.rint(array * 255.0).astype(np.uint8))).permute(2, 0, 1)


class ImageSource:
    """One domain's images: decoded on demand, resized as `preprocess` says, optionally cached."""

    def __init__(
        self,
        paths: Sequence[str],
        load_size: int | None,
        crop: int,
        cache: bool,
        preprocess: str = DEFAULT_PREPROCESS,
    ) -> None:
        if not paths:
            raise DatasetError("a training domain has no images")
        check_preprocess(preprocess, load_size, crop)
        self.paths = list(paths)
        self.load_size = load_size
        self.crop = crop
        self.preprocess = preprocess
        self._cache: dict[int, torch.Tensor] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.paths)

    def check_sizes(self, domain: str) -> None:
        """Every image at least as large as the crop, read from the headers before the first iteration:
        found only when first drawn, a small image would stop the run at the same iteration on every
        resume (the random draws are restored with the checkpoint). Skipped when `preprocess` resizes
        (with `load_size`): every resizing choice gives at least the crop on both sides, since
        `check_preprocess` refused a load_size below the crop."""
        if _resizes(self.load_size, self.preprocess):
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
            upscale = (
                "choose a training.preprocess that resizes (with training.load_size)"
                if self.preprocess == "crop"
                else "set training.load_size to upscale"
            )
            raise ImageError(
                f"{len(small)} of {len(self.paths)} {domain} training images are smaller than the crop "
                f"{self.crop}: {shown}. Lower training.crop, {upscale}, or remove them from the dataset and "
                "rerun make_data"
            )

    def get(self, index: int) -> torch.Tensor:
        """The image as a uint8 (3, H, W) tensor, resized as `preprocess` says (with `load_size`)."""
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        path = self.paths[index]
        try:
            image = _to_uint8_tensor(read_image(path))
        except ImageError as exc:
            raise ImageError(
                f"{exc}. make_data decodes every image unless the dataset says verify: header; rebuild it "
                "with verify: full to list every such file, then re-copy or remove them"
            ) from exc
        if _resizes(self.load_size, self.preprocess):
            h, w = image.shape[1:]
            size = loaded_size(h, w, self.load_size, self.crop, self.preprocess)
            if size != (h, w):
                # the default keeps its original filter; the others resample like the references' PIL bicubic
                antialias = self.preprocess != DEFAULT_PREPROCESS
                image = F.interpolate(
                    image[None].float(), size=size, mode="bicubic", align_corners=False, antialias=antialias
                )
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
        preprocess: str = DEFAULT_PREPROCESS,
    ) -> None:
        train = manifest[manifest["split"] == "train"]
        hazy = train.loc[train["domain"] == "hazy", "path"].tolist()
        clear = train.loc[train["domain"] == "clear", "path"].tolist()
        if not hazy or not clear:
            raise DatasetError(
                f"{manifest_path}: the training split needs hazy and clear images, found {len(hazy)} hazy and "
                f"{len(clear)} clear; use a dataset with a train split (synthetic, reside-its, unpaired-folders)"
            )
        check_preprocess(preprocess, load_size, crop)
        if cache == "auto":
            cache = self._estimate_bytes(hazy + clear, load_size, crop, preprocess) < AUTO_CACHE_BYTES
        self.hazy = ImageSource(hazy, load_size, crop, bool(cache), preprocess)
        self.clear = ImageSource(clear, load_size, crop, bool(cache), preprocess)
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
    def _estimate_bytes(
        paths: list[str], load_size: int | None, crop: int = 0, preprocess: str = DEFAULT_PREPROCESS
    ) -> int:
        from PIL import Image

        try:
            with Image.open(paths[0]) as img:
                w, h = img.size
        except (OSError, Image.DecompressionBombError):
            return 0  # unreadable: reading it for real names the file
        h, w = loaded_size(h, w, load_size, crop, preprocess)
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
