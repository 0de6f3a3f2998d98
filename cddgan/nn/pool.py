"""CycleGAN's history of generated images (Shrivastava et al.): D sees a mix of current and past fakes.

Why not an `nn.Module` buffer: the history is training state, not model weights. It belongs in the
training checkpoint (the owning method returns it from `extra_state()`, which `cddgan.training` saves and
restores) but not in model.pt, where 2 x 50 crops would outweigh the networks.

Why on the device: the stored images, the fill count and the coin flips all live where the images are
(one fixed (size, C, H, W) tensor, a count tensor, coins from torch's generator of that device), so a query
never waits for the host and a whole training step can be captured in a CUDA graph. `torch.manual_seed`
(and the loop's saved RNG states) reproduce the coins.
"""

from __future__ import annotations

from typing import Any

import torch


class ImagePool:
    """`query(images)`: while fewer than `size` images are stored, store and return each new image; then
    with probability 1/2 return a stored one (replacing it by the new image), else return the new image.
    `size=0` passes the batch through unchanged."""

    def __init__(self, size: int = 50) -> None:
        if size < 0:
            raise ValueError(f"pool_size must be >= 0, got {size}")
        self.size = size
        self.images: torch.Tensor | None = None  # (size, C, H, W), allocated by the first query
        self.count: torch.Tensor | None = None  # how many slots are filled (long scalar, on the device)

    def _allocate(self, like: torch.Tensor) -> None:
        self.images = like.new_zeros((self.size, *like.shape[1:]))
        self.count = torch.zeros((), dtype=torch.long, device=like.device)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        images = images.detach()
        if self.images is None:
            self._allocate(images)
        elif self.images.shape[1:] != images.shape[1:]:
            raise ValueError(
                f"the image pool holds {tuple(self.images.shape[1:])} images, got {tuple(images.shape[1:])}: "
                "a run trains on one crop size"
            )
        elif self.images.device != images.device:  # e.g. restored from a checkpoint loaded to the CPU
            self.images, self.count = self.images.to(images.device), self.count.to(images.device)
        pool, count = self.images, self.count
        assert pool is not None and count is not None
        out = []
        for image in images:
            filling = count < self.size
            coin = torch.rand((), device=image.device) > 0.5
            slot = torch.where(filling, count, torch.randint(self.size, (), device=image.device))
            old = pool.index_select(0, slot.view(1))[0].to(image.dtype)
            swap = coin & ~filling
            out.append(torch.where(swap, old, image))
            pool.index_copy_(0, slot.view(1), torch.where(filling | swap, image, old)[None].to(pool.dtype))
            count.add_(1).clamp_(max=self.size)
        return torch.stack(out)

    __call__ = query

    def stored(self) -> int:
        """How many images the pool holds (reads the device count)."""
        return 0 if self.count is None else int(self.count)

    def state_dict(self) -> dict[str, Any]:
        """The stored images as one (N, C, H, W) tensor (N = 0 while empty), plus the size."""
        n = self.stored()
        stored = self.images[:n].clone() if self.images is not None and n else torch.empty(0)
        return {"size": self.size, "images": stored}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["size"]) != self.size:
            raise ValueError(f"checkpoint holds an image pool of size {state['size']}, this run uses {self.size}")
        stored = state["images"]
        if not stored.numel():
            self.images = self.count = None
            return
        if self.images is None or self.images.shape[1:] != stored.shape[1:]:
            self._allocate(stored)
        assert self.images is not None and self.count is not None
        self.images.zero_()
        self.images[: stored.shape[0]] = stored.to(self.images.device, self.images.dtype)
        self.count.fill_(stored.shape[0])

    def __repr__(self) -> str:
        return f"ImagePool(size={self.size}, stored={self.stored()})"
