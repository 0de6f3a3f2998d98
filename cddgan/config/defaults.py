"""The defaults of every config key, and which training keys only say how a run executes.

All of it is read from the schema (`cddgan/schemas/config.schema.yaml`), the one place where a key's type
and default are written: `default:` gives a default, `x-execution: true` marks an execution key (the
schema's `$defs.training.$comment` says why those keys are kept out of the run spec). Reading it needs
only PyYAML, so the training loop and the GPU machines (no jsonschema) can import these names.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import Any

import yaml

from cddgan.config.shipped import SCHEMA_PATH


@functools.cache
def load_schema() -> dict[str, Any]:
    """The config schema, read once per process (callers must not change it)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 5x faster to import
    return yaml.load(SCHEMA_PATH.read_text(), Loader=loader)


def object_defaults(node: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults of an inline object schema's properties, in schema order: a property's `default:`, or
    (for an object property without one) the defaults of its own properties, if it has any."""
    out: dict[str, Any] = {}
    for key, prop in node.get("properties", {}).items():
        if "default" in prop:
            out[key] = copy.deepcopy(prop["default"])
        elif prop.get("properties"):
            nested = object_defaults(prop)
            if nested:
                out[key] = nested
    return out


_SCHEMA = load_schema()
_TRAINING = _SCHEMA["$defs"]["training"]

# Defaults of the shared training loop; a run's own `training:` overrides any of them.
TRAINING_DEFAULTS: dict[str, Any] = object_defaults(_TRAINING)

# Training keys that say how a run executes, not what it computes (see the schema's `x-execution`).
EXECUTION_KEYS: frozenset[str] = frozenset(k for k, prop in _TRAINING["properties"].items() if prop.get("x-execution"))
EXECUTION_DEFAULTS: dict[str, Any] = {key: TRAINING_DEFAULTS[key] for key in sorted(EXECUTION_KEYS)}

# Top-level defaults, filled in before resolution. `training` is a reference to `$defs.training`, not an
# inline object, so it is not among them: resolve() merges TRAINING_DEFAULTS into it on its own.
TOP_DEFAULTS: dict[str, Any] = object_defaults(_SCHEMA)
