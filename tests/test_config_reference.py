"""Code, schema and docs agree on every config key: the schema is the one home of types and defaults."""

from __future__ import annotations

import json
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
    assert {"amp", "lr"}.isdisjoint(cfg.EXECUTION_KEYS)  # they change results
    assert "seeds_per_job" in cfg.EXECUTION_KEYS  # a seed in a group trains what it trains alone


def test_the_defaults_pass_their_own_schema():
    """Each default fits its key's type, range and enum: a config of nothing but defaults validates."""
    cfg.validate_schema({**cfg.TOP_DEFAULTS, "training": cfg.TRAINING_DEFAULTS, **MINIMAL})


# Every keyword the schema uses. An unquoted comma in a YAML flow mapping (`{description: a, b}`) silently
# makes `b` a key of its own, which jsonschema ignores: this list catches it.
KEYWORDS = {
    "$schema", "$defs", "$ref", "$comment", "title", "description", "type", "enum", "pattern", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minLength", "items", "minItems", "maxItems", "uniqueItems", "properties",
    "required",
    "additionalProperties", "propertyNames", "minProperties", "oneOf", "anyOf", "not", "default", "x-default",
    "x-execution",
}


def nodes(node: Any, path: str = "") -> list[tuple[str, dict]]:
    """Every schema node (not the names under `properties` and `$defs`), with its path."""
    found = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, child in node.items():
            if key in ("properties", "$defs"):
                for name, sub in child.items():
                    found += nodes(sub, f"{path}/{key}/{name}")
            else:
                found += nodes(child, f"{path}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += nodes(child, f"{path}/{index}")
    return found


def test_the_schema_uses_only_known_keywords():
    odd = {f"{path}: {key}" for path, node in nodes(load_schema()) for key in node if key not in KEYWORDS}
    assert not odd


def test_every_key_has_a_description():
    schema = load_schema()
    missing = []
    for path, node in nodes(schema):
        for name, prop in node.get("properties", {}).items():
            target = schema["$defs"][prop["$ref"].rsplit("/", 1)[-1]] if "$ref" in prop else {}
            if not prop.get("description") and not target.get("description"):
                missing.append(f"{path}/properties/{name}")
    assert not missing


def test_the_command_descriptions_name_every_placeholder_the_code_fills():
    run = load_schema()["$defs"]["run"]["properties"]
    for key, placeholders in cfg.COMMAND_PLACEHOLDERS.items():
        assert all(f"{{{p}}}" in run[key]["description"] for p in placeholders), key


def test_docs_configuration_md_is_the_generated_reference():
    """Regenerate with `python -m cddgan.config.reference > docs/configuration.md` after changing the schema."""
    from smoke import REPO

    from cddgan.config.reference import render

    committed = (REPO / "docs" / "configuration.md").read_text()
    assert committed == render(), "docs/configuration.md is stale; regenerate it (see this test's docstring)"


def test_the_reference_lists_every_key_with_its_default():
    from cddgan.config.reference import render

    text = render()
    for key, value in cfg.TRAINING_DEFAULTS.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `training.{key}` |"))
        cells = [c.strip() for c in row.split(" | ")]
        assert cells[2].strip("`") == (value if isinstance(value, str) else json.dumps(value)), row
        assert (cells[3] == "yes") == (key in cfg.EXECUTION_KEYS), row
    for key in cfg.TOP_DEFAULTS:
        assert f"| `{key}` |" in text
