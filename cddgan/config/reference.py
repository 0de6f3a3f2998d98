"""docs/configuration.md, generated from the schema: every key's path, type, default and description.

    python -m cddgan.config.reference > docs/configuration.md

Generated, not written, so that the reference cannot drift from the schema that validates configs and
gives the defaults; tests/test_config_reference.py regenerates it and compares with the committed file.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cddgan.config.defaults import load_schema

NAME = "<name>"
TYPE_WORDS = {"integer": "integer", "number": "number", "string": "string", "boolean": "boolean", "null": "null",
              "object": "mapping", "array": "list"}


@dataclass
class Section:
    """One table of the reference: the keys of one object, found at `paths` (a shared `$defs` entry is
    reached from several keys and shown once)."""

    paths: list[str]
    node: dict[str, Any]
    rows: list[tuple[str, ...]] = field(default_factory=list)


def _ref_name(node: Mapping[str, Any]) -> str | None:
    ref = node.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _merged(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """A node with its `$ref` followed; the node's own keywords (description, default) win."""
    name = _ref_name(node)
    if name is None:
        return dict(node)
    return {**_merged(defs[name], defs), **{k: v for k, v in node.items() if k != "$ref"}}


def _value(value: Any) -> str:
    """A value as it is written in a YAML config."""
    return value if isinstance(value, str) else json.dumps(value)


def _words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _bounds(node: Mapping[str, Any]) -> str:
    low, high = node.get("minimum"), node.get("maximum")
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None and "exclusiveMaximum" in node:
        return f" in [{low}, {node['exclusiveMaximum']})"
    if "exclusiveMinimum" in node:
        return f" > {node['exclusiveMinimum']}"
    return f" ≥ {low}" if low is not None else ""


def type_text(node: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    """The type and constraints of a key, in words."""
    if _ref_name(node) == "name":
        return "name"
    node = _merged(node, defs)
    if "enum" in node:
        return _words([f"`{_value(v)}`" for v in node["enum"]])
    types = node.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    words = []
    for kind in types:
        text = TYPE_WORDS[kind]
        if kind in ("integer", "number"):
            text += _bounds(node)
        elif kind == "string" and node.get("pattern"):
            text += f" matching `{node['pattern']}`"
        elif kind == "string" and node.get("minLength"):
            text = "non-empty string"
        elif kind == "array":
            text = "list of " + _plural(type_text(node.get("items", {}), defs))
            if node.get("minItems") and node.get("minItems") == node.get("maxItems"):
                text += f", {node['minItems']} items"
            elif node.get("minItems"):
                text += f", at least {node['minItems']}"
            if node.get("uniqueItems"):
                text += ", no repeats"
        elif kind == "object":
            text = _mapping_text(node, defs)
        words.append(text)
    return _words(words) if words else "any"


def _plural(text: str) -> str:
    head, _, rest = text.partition(" ")
    return head + "s" + (" " + rest if rest else "") if head in TYPE_WORDS.values() or head == "name" else text


def _mapping_text(node: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and _merged(extra, defs).get("properties") is not None:
        return "mapping of names to the keys below"
    if isinstance(extra, dict):
        return f"mapping of names to {type_text(extra, defs)}"
    return "mapping"


def default_text(node: Mapping[str, Any], required: bool) -> str:
    """The default as written in a config, the prose of `x-default`, or whether the key is required."""
    if "default" in node:
        return f"`{_value(node['default'])}`"
    if "x-default" in node:
        return f"*{node['x-default']}*"
    if any("default" in prop for prop in node.get("properties", {}).values()):
        return "*the defaults of its keys*"
    return "required" if required else ""


def _cell(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().replace("|", "\\|")


def _walk(schema: Mapping[str, Any]) -> list[Section]:
    """Every object with keys, as sections in order of first appearance, each with its rows."""
    defs = schema.get("$defs", {})
    sections = {"": Section(["(top level)"], dict(schema))}
    queue = [("", "", dict(schema))]
    while queue:
        key, path, node = queue.pop(0)
        section = sections[key]
        required = set(node.get("required", []))
        for name, prop in node.get("properties", {}).items():
            full = f"{path}.{name}" if path else name
            merged = _merged(prop, defs)
            section.rows.append((
                f"`{full}`", type_text(prop, defs), default_text(merged, name in required),
                "yes" if merged.get("x-execution") else "", _cell(merged.get("description", "")),
            ))
            extra = merged.get("additionalProperties")
            if merged.get("properties"):
                target, where, ref = merged, full, _ref_name(prop)
            elif isinstance(extra, dict) and _merged(extra, defs).get("properties"):
                target, where, ref = _merged(extra, defs), f"{full}.{NAME}", _ref_name(extra)
            else:
                continue
            child = f"#/$defs/{ref}" if ref else where  # a shared definition is one section
            if child in sections:
                sections[child].paths.append(where)
                continue
            sections[child] = Section([where], target)
            queue.append((child, where, target))
    return list(sections.values())


def render(schema: Mapping[str, Any] | None = None) -> str:
    """The reference as Markdown."""
    schema = schema or load_schema()
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated from cddgan/schemas/config.schema.yaml by `python -m cddgan.config.reference >",
        "docs/configuration.md`; edit the schema, not this file (tests/test_config_reference.py compares). -->",
        "",
        _cell(schema.get("description", "")),
        "",
        "Every key a config file may hold. `<name>` is a name of your choosing (letters, digits and `_ . + -`,",
        "starting with a letter or digit). **Default** is the value a missing key takes; in italics where",
        "another key or the code decides it. **Execution** marks the training keys that say how a run",
        "executes, not what it computes: changing them retrains nothing (see `training` below).",
    ]
    for section in _walk(schema):
        lines += ["", f"## `{section.paths[0]}`" if section.paths[0] != "(top level)" else "## Top level", ""]
        if len(section.paths) > 1:
            lines += ["The same keys under " + _words([f"`{p}`" for p in section.paths[1:]]) + ".", ""]
        if section.node.get("$comment"):
            lines += [_cell(section.node["$comment"]), ""]
        lines += ["| Key | Type | Default | Execution | Description |", "| --- | --- | --- | --- | --- |"]
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in section.rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
