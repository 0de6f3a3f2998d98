"""Weight initialisation of the CUT / CycleGAN references (`init_type`, `init_gain`).

Why its own module: every GAN in the harness initialises its networks the same way, and the choice is a
setting (`xavier` 0.02 for CUT, `normal` 0.02 for CycleGAN), so it must mean the same thing everywhere.
"""

from __future__ import annotations

from torch import nn

from cddgan.errors import ConfigError

INIT_KINDS = ("normal", "xavier", "kaiming", "orthogonal")


def init_weights(net: nn.Module, kind: str = "xavier", gain: float = 0.02) -> nn.Module:
    """Re-initialise every conv / transposed conv / linear weight of `net` (biases to 0) and every
    batch-norm scale to N(1, gain), as the references do; fixed blur filters and instance norms without
    affine parameters are left alone. Returns `net`."""
    if kind not in INIT_KINDS:
        raise ConfigError(f"init_type {kind!r} is unknown; use one of {', '.join(INIT_KINDS)}")

    def init_one(m: nn.Module) -> None:
        if isinstance(m, nn.modules.conv._ConvNd | nn.Linear):
            if kind == "normal":
                nn.init.normal_(m.weight, 0.0, gain)
            elif kind == "xavier":
                nn.init.xavier_normal_(m.weight, gain=gain)
            elif kind == "kaiming":
                nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            else:
                nn.init.orthogonal_(m.weight, gain=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)

    net.apply(init_one)
    return net
