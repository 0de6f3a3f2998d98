"""What every adapter shares: its registry entry, the context it reads the spec from, and what it returns.

An adapter only finds files and decides pairing; verification, cropping, `limit` and writing the manifest
are done once for all of them in `cddgan.data.adapters.build`, so each dataset module stays small.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cddgan.errors import ConfigError

# Keys every adapter accepts; `protocol` is read by the evaluate stage, not here. The val_* keys shape the
# validation split carved out of a training split (cddgan.data.adapters.val); a test-only set ignores them.
COMMON_KEYS = frozenset(
    {"adapter", "root", "protocol", "limit", "verify", "test_max_side", "val_fraction", "val_max", "val_seed"}
)
# full (the default: every pixel decoded once, cached while the files are unchanged) or header (opt-out).
VERIFY_MODES = ("full", "header")


@dataclass
class Context:
    """The dataset's name, its spec, the resolved root and the output folder, with typed spec getters."""

    name: str
    spec: Mapping[str, Any]
    root: Path
    out_dir: Path

    def key(self, key: str) -> str:
        """The config path of `key`, used in every message so the user knows which line to fix."""
        return f"datasets.{self.name}.{key}"

    def optional_int(self, key: str, default: int | None = None, minimum: int = 1) -> int | None:
        """An integer >= minimum, or None (YAML null) meaning 'no cap'."""
        value = self.spec.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"{self.key(key)}: expected an integer >= {minimum} or null, got {value!r}")
        return value

    def fraction(self, key: str, default: float) -> float:
        """A number strictly between 0 and 1."""
        value = self.spec.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < value < 1.0:
            raise ConfigError(f"{self.key(key)}: expected a number strictly between 0 and 1, got {value!r}")
        return float(value)

    def choice(self, key: str, options: tuple[str, ...], default: str) -> str:
        """One of a fixed set of strings."""
        value = self.spec.get(key, default)
        if value not in options:
            raise ConfigError(f"{self.key(key)}: expected one of {list(options)}, got {value!r}")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        """A non-empty string (required when `default` is None)."""
        value = self.spec.get(key, default)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{self.key(key)}: expected a non-empty string, got {value!r}")
        return value

    def folder(self, key: str, default: str) -> Path:
        """A folder named by the spec, relative to the root unless absolute."""
        path = Path(self.text(key, default)).expanduser()
        return path if path.is_absolute() else self.root / path


@dataclass
class Found:
    """What an adapter found: manifest rows (paths absolute) and how it read the tree.

    `crop_gt` asks the shared pipeline to centre-crop ground truth that is larger than its hazy images
    (SOTS-indoor's white border); every other size difference between a pair is an error. `unpaired` says
    that the training rows are paired scenes (``pair_id`` = ``scene_id``) which the pipeline makes unpaired
    by scene (`cddgan.data.adapters.unpaired.unpair`) after the val split is carved out of them.
    """

    rows: list[dict[str, Any]]
    layout: str
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    crop_gt: bool = False
    unpaired: bool = False


@dataclass(frozen=True)
class Option:
    """One spec key an adapter adds, as docs/datasets.md shows it: its type, default and meaning in words.

    A key the config schema describes (`datasets.<name>` properties in cddgan/schemas/config.schema.yaml,
    e.g. the synthetic generator's `n_val`) leaves all three empty: the reference reads them from there.
    """

    key: str
    type: str = ""
    default: str = ""
    meaning: str = ""


@dataclass(frozen=True)
class Example:
    """A config entry docs/datasets.md shows for an adapter, and the manifest splits it builds.

    `spec['root']` is a placeholder path; tests/test_datasets_reference.py points it at the adapter's fake
    tree (tests/fake_trees.py), builds the manifest and checks that it has exactly `splits`.
    """

    name: str
    spec: Mapping[str, Any]
    splits: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class Adapter:
    """A registry entry: the function that reads a tree, the spec keys it adds, what the root holds, and
    what docs/datasets.md says about it (`python -m cddgan.data.adapters.reference` renders these fields).

    - `source`: what it reads: the public dataset, its version, paper and download page (Markdown).
    - `tree`: example paths under the root, as the dataset names them; a path ending in `/` is a folder,
      one ending in `/...` (or just `...`) stands for more files, and text after two spaces is a note on
      that entry (accepted variants, what the names encode).
    - `options`: the adapter's own keys (exactly `keys`), described.
    - `examples`: config entries and the splits each builds; shown together under one `datasets:`.
    - `common`: the keys shared with other adapters that it accepts (COMMON_KEYS for every file adapter).
    - `notes`: anything else a user must know, one paragraph (Markdown).
    """

    name: str
    find: Callable[[Context], Found] | None
    keys: frozenset[str] = frozenset()
    root_hint: str = ""
    doc: str = ""
    source: str = ""
    tree: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    examples: tuple[Example, ...] = ()
    common: frozenset[str] = COMMON_KEYS
    notes: str = ""

    def __post_init__(self) -> None:
        documented = {o.key for o in self.options}
        if self.options and documented != set(self.keys):
            raise ValueError(
                f"adapter {self.name!r}: options describe {sorted(documented)} but its keys are {sorted(self.keys)}"
            )

    @property
    def allowed_keys(self) -> list[str]:
        """Every key a spec for this adapter may contain, sorted for messages."""
        return sorted(self.common | self.keys)


def row(
    split: str,
    domain: str,
    image_id: str,
    path: Path,
    pair_id: str = "",
    scene_id: str = "",
    beta: float | str = "",
    airlight: float | str = "",
) -> dict[str, Any]:
    """One manifest row (the `dataset` column is added when the manifest is written)."""
    return {
        "split": split,
        "domain": domain,
        "image_id": image_id,
        "pair_id": pair_id,
        "scene_id": scene_id,
        "path": str(path),
        "beta": beta,
        "airlight": airlight,
        "depth": "",
    }
