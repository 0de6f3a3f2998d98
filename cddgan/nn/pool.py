"""CycleGAN's history of generated images (Shrivastava et al.): D sees a mix of current and past fakes.

Why not an `nn.Module` buffer: the history is training state, not model weights. It belongs in the
training checkpoint (the owning method returns it from `extra_state()`, which `cddgan.train` saves and
restores) but not in model.pt, where 2 x 50 crops would outweigh the networks. Its coin flips come from
torch's CPU generator, so `torch.manual_seed` (and the loop's saved RNG state) reproduce them.
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
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image[None]
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif float(torch.rand(())) > 0.5:
                idx = int(torch.randint(self.size, ()))
                old = self.images[idx].to(image.device)
                self.images[idx] = image
                out.append(old)
            else:
                out.append(image)
        return torch.cat(out, 0)

    __call__ = query

    def state_dict(self) -> dict[str, Any]:
        """The stored images as one (N, C, H, W) tensor (N = 0 while empty), plus the size."""
        stored = torch.cat(self.images, 0) if self.images else torch.empty(0)
        return {"size": self.size, "images": stored}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["size"]) != self.size:
            raise ValueError(f"checkpoint holds an image pool of size {state['size']}, this run uses {self.size}")
        stored = state["images"]
        self.images = [img[None] for img in stored] if stored.numel() else []

    def __repr__(self) -> str:
        return f"ImagePool(size={self.size}, stored={len(self.images)})"
