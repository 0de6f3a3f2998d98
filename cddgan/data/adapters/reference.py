"""docs/datasets.md, generated from the adapters: what each reads, the tree it expects, its keys, its splits
and an example config entry.

    python -m cddgan.data.adapters.reference > docs/datasets.md
    cddgan datasets [NAME]        # the same text, or one adapter's part

Every fact comes from the adapter declarations (`Adapter.source`, `tree`, `options`, `examples`, `notes`,
`common`; cddgan/data/adapters/registry.py lists them), and the type, default and meaning of every key the
config schema describes (`datasets.<name>` in cddgan/schemas/config.schema.yaml) from the schema, so that
nothing is written twice. tests/test_datasets_reference.py regenerates the document and compares it with
the committed file, and builds every example entry on a fake copy of its dataset.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from cddgan.config.defaults import load_schema
from cddgan.data.adapters.base import COMMON_KEYS, Adapter, Option
from cddgan.data.adapters.registry import ADAPTERS
from cddgan.errors import ConfigError

NOTE = "  "  # separates a tree entry's path from its note
MORE = "..."  # a tree entry that stands for more files
NOTE_COLUMN = 44  # tree notes start here, or two spaces after a longer entry
SPLIT_ORDER = ("train", "test", "val")
# Required beyond the schema's `required:`: every adapter that reads files needs its folder
# (cddgan.data.adapters.build.dataset_root says so, naming what the folder should hold).
REQUIRED_FOR_FILES = frozenset({"root"})


def schema_keys() -> tuple[dict[str, Any], set[str], dict[str, Any]]:
    """The schema's `datasets.<name>` properties, its required keys and the schema's `$defs`."""
    schema = load_schema()
    node = schema["properties"]["datasets"]["additionalProperties"]
    return node["properties"], set(node.get("required", [])), schema.get("$defs", {})


def _cell(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().replace("|", "\\|")


def option_row(option: Option, file_adapter: bool = True) -> tuple[str, str, str, str]:
    """(key, type, default, meaning) of a key: from the schema where it describes the key, else as declared."""
    from cddgan.config.reference import default_text, type_text

    properties, required, defs = schema_keys()
    node = properties.get(option.key)
    if node is None:
        return f"`{option.key}`", option.type, option.default, option.meaning
    is_required = option.key in required or (file_adapter and option.key in REQUIRED_FOR_FILES)
    default = default_text(node, is_required) or "*none*"
    return f"`{option.key}`", type_text(node, defs), default, node.get("description", "")


def _table(options: Sequence[Option], file_adapter: bool = True) -> list[str]:
    lines = ["| Key | Type | Default | Meaning |", "| --- | --- | --- | --- |"]
    for option in options:
        lines.append("| " + " | ".join(_cell(c) for c in option_row(option, file_adapter)) + " |")
    return lines


def common_options() -> list[Option]:
    """The keys every file adapter takes, in the schema's order."""
    properties, _, _ = schema_keys()
    return [Option(key) for key in properties if key in COMMON_KEYS]


# ------------------------------------------------------------------------------------------------- trees


def _parse(entries: Sequence[str]) -> dict[str, Any]:
    """Entries as a nested mapping name -> {"folder": bool, "note": str, "children": {...}}, in order."""
    root: dict[str, Any] = {}
    for entry in entries:
        path, _, note = entry.partition(NOTE)
        folder = path.endswith("/")
        parts = path.rstrip("/").split("/")
        level = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            node = level.setdefault(part, {"folder": not last or folder, "note": "", "children": {}})
            if last and note:
                node["note"] = note.strip()
            level = node["children"]
    return root


def render_tree(entries: Sequence[str], top: str) -> str:
    """A text tree of `entries` (paths under `top`, with notes after two spaces), box-drawing style."""
    rows: list[tuple[str, str]] = [(top.rstrip("/") + "/", "")]

    def walk(level: dict[str, Any], prefix: str) -> None:
        names = list(level)
        for i, name in enumerate(names):
            node = level[name]
            last = i == len(names) - 1
            label = name + ("/" if node["folder"] and name != MORE else "")
            rows.append((prefix + ("└── " if last else "├── ") + label, node["note"]))
            walk(node["children"], prefix + ("    " if last else "│   "))

    walk(_parse(entries), "")
    out = []
    for label, note in rows:
        if note:
            label = label.ljust(NOTE_COLUMN - 2) if len(label) < NOTE_COLUMN - 2 else label
            out.append(f"{label}  ← {note}")
        else:
            out.append(label)
    return "\n".join(out)


def tree_files(entries: Sequence[str]) -> list[str]:
    """The files a documented tree names (paths relative to the root; folders and `...` left out)."""
    files = []
    for entry in entries:
        path = entry.partition(NOTE)[0]
        if not path.endswith("/") and path.rsplit("/", 1)[-1] != MORE:
            files.append(path)
    return files


# ------------------------------------------------------------------------------------------------ adapters


def example_yaml(adapter: Adapter) -> str:
    """The adapter's example entries under one `datasets:`, each after a comment saying what it shows."""
    lines = ["datasets:"]
    for example in adapter.examples:
        if example.note:
            lines.append(f"  # {example.note}")
        lines.append(f"  {example.name}:")
        lines += [f"    {key}: {yaml_value(value)}" for key, value in example.spec.items()]
    return "\n".join(lines)


def yaml_value(value: Any) -> str:
    """A value as YAML writes it in flow style on one line (quoted where a plain scalar would not parse)."""
    return yaml.safe_dump([value], default_flow_style=True, allow_unicode=True, width=10**6).strip()[1:-1]


def splits_text(splits: Sequence[str]) -> str:
    return ", ".join(s for s in SPLIT_ORDER if s in splits)


def summary(adapter: Adapter) -> tuple[str, str]:
    """(what it reads, in a few words; the splits it can build) for the overview table."""
    reads = adapter.source.split(":", 1)[0]
    variants = list(dict.fromkeys(splits_text(e.splits) for e in adapter.examples))
    return reads, " or ".join(variants)


def top_folder(adapter: Adapter) -> str:
    """What the tree's first line is: the first example's root, or where a generated set is written."""
    root = next((e.spec.get("root") for e in adapter.examples if e.spec.get("root")), None)
    return root or "results/data/<dataset>"


def render_adapter(adapter: Adapter) -> str:
    """One adapter's section of the reference, as Markdown."""
    file_adapter = adapter.find is not None
    where = (
        "`root` is the folder at the top; names are matched ignoring case where the notes say so"
        if file_adapter
        else "what it writes; it reads no folder"
    )
    lines = [f"## `{adapter.name}`", "", f"**Reads:** {adapter.source}", "", f"**Tree** ({where}):", "",
             "```text", render_tree(adapter.tree, top_folder(adapter)), "```", ""]
    shared = sorted(adapter.common - {"adapter"})
    if adapter.options:
        lines += ["**Keys** of its own:" if file_adapter else "**Keys:**", ""]
        lines += [*_table(adapter.options, file_adapter), ""]
    if adapter.common == COMMON_KEYS:
        lines.append("It takes every key in [Keys every file adapter takes](#keys-every-file-adapter-takes).")
    else:
        refused = sorted(COMMON_KEYS - adapter.common)
        lines.append(
            "Of the keys every file adapter takes it accepts only " + _and([f"`{k}`" for k in shared])
            + "; " + _and([f"`{k}`" for k in refused]) + " are refused."
        )
    produces = {s for e in adapter.examples for s in e.splits}
    if file_adapter and "train" not in produces:
        lines[-1] += " The `val_*` keys have no effect here: it builds no training split."
    if adapter.notes:
        lines += ["", adapter.notes]
    per_example = "; ".join(f"`{e.name}`: {splits_text(e.splits)}" for e in adapter.examples)
    lines += ["", f"**Splits:** {per_example}.", "", "**Example:**", "", "```yaml", example_yaml(adapter), "```"]
    return "\n".join(lines) + "\n"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def render_common() -> str:
    """The section on the keys every file adapter takes."""
    lines = [
        "## Keys every file adapter takes",
        "",
        "Every adapter that reads a dataset from disk takes these keys besides its own. An unknown key stops "
        "the run with the key named and the allowed keys listed.",
        "",
        *_table(common_options()),
    ]
    return "\n".join(lines) + "\n"


def render(name: str | None = None) -> str:
    """The whole reference, or (with `name`) one adapter's section followed by the keys every file adapter
    takes."""
    if name is not None:
        if name not in ADAPTERS:
            raise ConfigError(f"unknown adapter {name!r}; choose one of {', '.join(ADAPTERS)}")
        return render_adapter(ADAPTERS[name]) + "\n" + render_common()
    lines = [
        "# Dataset adapters",
        "",
        "<!-- Generated from the adapters (cddgan/data/adapters/registry.py lists them) by `python -m",
        "cddgan.data.adapters.reference > docs/datasets.md`; edit the adapters, not this file",
        "(tests/test_datasets_reference.py compares). -->",
        "",
        "A dataset entry under `datasets:` names its **adapter**: the code that reads one public dataset as it",
        "is distributed (or a folder of your own) and writes the manifest every later stage reads",
        "(`results/data/<dataset>/manifest.csv`). This page lists each adapter: what it reads, the folder tree",
        "it expects (the names are the dataset's own), its keys, the splits it builds and an example entry;",
        "`cddgan datasets NAME` prints one adapter's part. The splits are `train` (the training images of",
        "both domains, which training draws independently), `test` (hazy images, each with its ground truth",
        "where the set has one) and `val` (pairs carved out of the training scenes, scored while a run trains;",
        "docs/statistics.md). Key types and defaults are written as in docs/configuration.md.",
        "",
        "| Adapter | Reads | Splits |",
        "| --- | --- | --- |",
    ]
    for adapter in ADAPTERS.values():
        reads, splits = summary(adapter)
        lines.append(f"| [`{adapter.name}`](#{adapter.name}) | {_cell(reads)} | {splits} |")
    parts = ["\n".join(lines) + "\n", render_common()]
    parts += [render_adapter(adapter) for adapter in ADAPTERS.values()]
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    sys.stdout.write(render(args[0] if args else None))


if __name__ == "__main__":
    main()

