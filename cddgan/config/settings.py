"""Method settings keep the type of their defaults: a typo fails at config time, not inside a job."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from cddgan.errors import ConfigError


def _kind(value: Any) -> str | None:
    """The type family a setting's default fixes for it (None: anything goes)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    return None


def _fits(value: Any, kind: str) -> bool:
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return _kind(value) == kind


def check_setting_types(defaults: Mapping, settings: Mapping, where: str) -> None:
    """A method setting keeps the type of its default (an integer may stand for a number), and a number
    whose default is >= 0 may not be negative: a typo fails here, not hours later inside a job."""
    for key, default in defaults.items():
        value, kind = settings[key], _kind(default)
        items = [(f"{where}.{key}", value, default, kind)]
        if kind == "list" and _fits(value, "list") and default and len({_kind(d) for d in default}) == 1:
            items = [(f"{where}.{key}.{i}", v, min(default), _kind(default[0])) for i, v in enumerate(value)]
        for path, item, reference, item_kind in items:
            if item_kind is None:
                continue
            if not _fits(item, item_kind):
                raise ConfigError(f"`{path}`: expected {item_kind} (the default is {default!r}), got {item!r}")
            if item_kind in ("integer", "number") and reference >= 0 and item < 0:
                raise ConfigError(f"`{path}`: must not be negative (the default is {default!r}), got {item!r}")
