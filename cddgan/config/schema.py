"""Structural validation against the config schema (jsonschema): types, ranges, unknown keys."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cddgan.config.defaults import load_schema
from cddgan.errors import ConfigError

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError


def _key(path: Any) -> str:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else "(top level)"


def _describe(error: ValidationError) -> str:
    """One line per schema violation: the key, what is wrong and what is allowed."""
    key = _key(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        where = f"{key}." if error.absolute_path else ""
        names = ", ".join(f"`{where}{e}`" for e in extra)
        return f"unknown key {names}; allowed keys here: {', '.join(allowed)}"
    if error.validator == "oneOf" and key.startswith("runs."):
        return (
            f"`{key}`: a run needs either `method:` (a registered Python method, with optional `settings:` and "
            "`training:`), `command:` (an external program, with optional `train:`, `setup:`, `vars:`, "
            "`environment:`) or `rule:` (a Snakemake file of your own in workflow/rules/extra/), exactly one"
        )
    if error.validator == "required":
        return f"`{key}`: {error.message}"
    if error.validator == "type":
        return f"`{key}`: expected {error.validator_value}, got {json.dumps(error.instance)}"
    if error.validator == "pattern":
        return f"`{key}`: {json.dumps(error.instance)} is not a valid name (letters, digits, _ . + -)"
    return f"`{key}`: {error.message}"


def validate_schema(config: Mapping) -> None:
    """Raise ConfigError listing every schema violation (each naming its key)."""
    # imported here: the training loop, the benchmarks and the GPU tests read only the defaults of this
    # module and run where jsonschema may be missing (the lent GPU machines' image)
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        lines = sorted({_describe(e) for e in errors})
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(lines))
