"""Command templates of external-program runs: every {placeholder} must be one the rules fill."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cddgan.errors import ConfigError

COMMAND_PLACEHOLDERS = {
    "command": ("input_dir", "output_dir", "model_dir", "seed", "threads", "setup_dir"),
    "train": ("train_hazy_dir", "train_clear_dir", "model_dir", "seed", "threads", "setup_dir"),
    "setup": ("setup_dir", "threads"),
}


def _check_template(template: str, allowed: tuple[str, ...], variables: Mapping, where: str) -> None:
    """Every {placeholder} in a command template must be known; literal braces are written {{ }}."""
    import string

    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ConfigError(f"{where}: malformed template ({exc}); write literal braces as {{{{ }}}}") from exc
    unknown = sorted(f for f in fields if f not in allowed and f not in variables)
    if unknown:
        raise ConfigError(
            f"{where}: unknown placeholder(s) {unknown}; allowed: {', '.join(allowed)}"
            + (f", and vars: {', '.join(sorted(variables))}" if variables else " (add others under `vars:`)")
        )


def external_facts(trainable: bool) -> dict[str, Any]:
    """The facts (`cddgan.methods.base.Method.facts`) of a run whose images come from an external program
    or a user's rule: no class describes it, so it gets the Method interface's defaults, written here
    without importing the methods (and torch); tests/test_plan.py checks that the two agree."""
    return {"trainable": bool(trainable), "reference_floor": False, "bytes_per_unit": 40.0,
            "full_resolution_upsampling": True, "ablation_axes": {}}
