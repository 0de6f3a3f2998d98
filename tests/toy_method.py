"""A toy GAN method registered from outside the package, as a user's own baseline would be.

Used by the training-loop tests (determinism, resume, divergence) and by the test that adds a method as
one module plus one config entry. `nan_after` makes its generator loss NaN after that many updates.
`crash_at` + `crash_marker` make it crash once at that update (a job that dies mid-way, e.g. on a
cluster): the first time it reaches `crash_at` it creates the marker file and raises; once the
marker exists it trains normally, so a rerun with the same settings resumes from its checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from cddgan.methods import GANMethod, register, set_requires_grad


@register("toy-gan")
class ToyGAN(GANMethod):
    """Toy GAN: a 3-layer conv generator with a residual to its input, a 2-layer PatchGAN, LSGAN + L1."""

    defaults: ClassVar[dict] = {
        "width": 8,
        "lambda_l1": 1.0,
        "nan_after": 0,
        "crash_at": 0,
        "crash_marker": "",
    }

    def build(self) -> None:
        w = self.settings["width"]
        self.G = nn.Sequential(nn.Conv2d(3, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, 3, 3, padding=1))
        self.D = nn.Sequential(nn.Conv2d(3, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(w, 1, 3))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def optim_groups(self):
        return {"G": list(self.G.parameters()), "D": list(self.D.parameters())}

    def translate(self, hazy):
        return torch.tanh(hazy + self.G(hazy))

    def step(self, hazy, clear):
        fake = self.translate(hazy)
        set_requires_grad(self.D, True)
        d_loss = 0.5 * ((self.D(clear) - 1) ** 2).mean() + 0.5 * (self.D(fake.detach()) ** 2).mean()
        yield "D", d_loss, {}
        set_requires_grad(self.D, False)
        gan = ((self.D(fake) - 1) ** 2).mean()
        l1 = (fake - hazy).abs().mean()
        g_loss = gan + self.settings["lambda_l1"] * l1
        self.updates += 1
        if self.settings["nan_after"] and int(self.updates) > self.settings["nan_after"]:
            g_loss = g_loss * float("nan")
        self._maybe_crash()
        yield "G", g_loss, {"G_gan": gan.detach(), "l1": l1.detach()}

    def _maybe_crash(self) -> None:
        marker = self.settings["crash_marker"]
        due = self.settings["crash_at"] and int(self.updates) >= self.settings["crash_at"]
        if due and marker and not Path(marker).exists():
            Path(marker).touch()
            raise RuntimeError(f"toy-gan: deliberate crash at update {int(self.updates)} (marker {marker})")
