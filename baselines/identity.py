"""The do-nothing baseline: the hazy input scored as if it were the answer, the floor every method must beat."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from cddgan.methods import Method, register


@register("identity")
class Identity(Method):
    """Return the hazy input unchanged."""

    defaults: ClassVar[dict[str, Any]] = {}
    reference_floor: ClassVar[bool] = True  # a reference row (the hazy input itself), not a ranked method

    def dehaze(self, hazy: torch.Tensor) -> torch.Tensor:
        return hazy
