"""Adversarial losses of the references (`gan_mode`): lsgan (MSE to 1/0), vanilla (BCE with logits),
hinge. One object per method so the mode is validated once, where the settings are read."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cddgan.errors import ConfigError

GAN_MODES = ("lsgan", "vanilla", "hinge")


class GANLoss:
    """`d_loss(real_pred, fake_pred)` = 0.5 * (real term + fake term), the halving both references apply to
    the discriminator; `g_loss(fake_pred)` is the generator's term. Predictions are raw D outputs (logits),
    the losses are means over every patch score."""

    def __init__(self, mode: str = "lsgan") -> None:
        if mode not in GAN_MODES:
            raise ConfigError(f"gan_mode {mode!r} is unknown; use one of {', '.join(GAN_MODES)}")
        self.mode = mode

    def real_loss(self, pred: torch.Tensor) -> torch.Tensor:
        """Discriminator's term for a prediction that should say "real"."""
        if self.mode == "lsgan":
            return (pred - 1).pow(2).mean()
        if self.mode == "vanilla":
            return F.binary_cross_entropy_with_logits(pred, torch.ones_like(pred))
        return F.relu(1 - pred).mean()

    def fake_loss(self, pred: torch.Tensor) -> torch.Tensor:
        """Discriminator's term for a prediction that should say "fake"."""
        if self.mode == "lsgan":
            return pred.pow(2).mean()
        if self.mode == "vanilla":
            return F.binary_cross_entropy_with_logits(pred, torch.zeros_like(pred))
        return F.relu(1 + pred).mean()

    def d_loss(self, real_pred: torch.Tensor, fake_pred: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.real_loss(real_pred) + self.fake_loss(fake_pred))

    def g_loss(self, fake_pred: torch.Tensor) -> torch.Tensor:
        if self.mode == "hinge":
            return -fake_pred.mean()
        return self.real_loss(fake_pred)
