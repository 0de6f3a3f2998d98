"""Reading YAML config files: errors name the file, and a key given twice is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cddgan.errors import ConfigError


class _DuplicateKey(yaml.YAMLError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys without a word, so a run or dataset defined twice would
    silently replace the first; this loader refuses it."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`, whose keys the mapping may override
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                continue
            if key in seen:
                raise _DuplicateKey(
                    f"key {key!r} appears twice in one mapping (lines {seen[key] + 1} and "
                    f"{key_node.start_mark.line + 1}); YAML would keep only the second: rename or merge them"
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def parse_yaml(path: Path) -> Any:
    """Parse a YAML file; a syntax error or a key given twice becomes a ConfigError naming the file."""
    try:
        return yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # a SafeLoader: plain data only
    except _DuplicateKey as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc


def load_yaml(path: str | Path) -> dict:
    """Read a YAML config file, with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    data = parse_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
    return data
