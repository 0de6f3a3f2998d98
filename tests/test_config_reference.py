"""Code, schema and docs agree on every config key: the schema is the one home of types and defaults."""

from __future__ import annotations

from typing import Any

from cddgan import config as cfg
from cddgan.config.defaults import load_schema

MINIMAL = {
    "datasets": {"d": {"adapter": "synthetic"}},
    "experiments": {"e": {"train": "d", "test": ["d"]}},
    "runs": {"r": {"method": "identity"}},
}


def schema_defaults(node: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every `default:` written anywhere in the schema, by the path of its key (`*` for any name)."""
    found: dict[tuple[str, ...], Any] = {}
    if not isinstance(node, dict):
        return found
    if "default" in node:
        found[path] = node["default"]
    for key, child in node.get("properties", {}).items():
        found |= schema_defaults(child, (*path, key))
    found |= schema_defaults(node.get("additionalProperties"), (*path, "*"))
    for key, child in node.get("$defs", {}).items():
        found |= schema_defaults(child, ("$defs", key))
    return found


def flatten(mapping: dict, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """The dict's leaves and its empty dicts (a default of {} is a value too), by path."""
    out: dict[tuple[str, ...], Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            out |= flatten(value, (*path, key))
        else:
            out[(*path, key)] = value
    return out


def test_every_default_in_the_schema_is_one_the_code_fills_in_and_no_other():
    """A `default:` the code never reads (say, under a dataset or a run) would be documented but not true."""
    written = schema_defaults(load_schema())
    training = {path[2:]: value for path, value in written.items() if path[:2] == ("$defs", "training")}
    top = {path: value for path, value in written.items() if path[0] != "$defs"}
    assert set(written) == {("$defs", "training", *p) for p in training} | set(top)
    assert flatten(cfg.TRAINING_DEFAULTS) == training
    assert flatten(cfg.TOP_DEFAULTS) == top


def test_every_training_key_has_a_default_and_the_execution_keys_are_training_keys():
    training = load_schema()["$defs"]["training"]["properties"]
    assert list(cfg.TRAINING_DEFAULTS) == list(training)
    assert {key for key, prop in training.items() if prop.get("x-execution")} == cfg.EXECUTION_KEYS
    assert set(training) > cfg.EXECUTION_KEYS and list(cfg.EXECUTION_DEFAULTS) == sorted(cfg.EXECUTION_KEYS)
    assert {"amp", "seeds_per_job", "lr"}.isdisjoint(cfg.EXECUTION_KEYS)  # they change results


def test_the_defaults_pass_their_own_schema():
    """Each default fits its key's type, range and enum: a config of nothing but defaults validates."""
    cfg.validate_schema({**cfg.TOP_DEFAULTS, "training": cfg.TRAINING_DEFAULTS, **MINIMAL})
