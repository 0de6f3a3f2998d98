"""Published numbers from `config/published.yaml`, validated so a typo fails loudly, not silently.

A mistyped key (``pnsr``) would otherwise just drop a number from the report; here it is a ConfigError
that names the row and the key.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from cddgan.config import parse_yaml
from cddgan.errors import ConfigError

REQUIRED = ("source", "method", "dataset")
NUMERIC = ("psnr", "ssim", "ciede2000", "params_m", "gmacs")
OPTIONAL_TEXT = ("group", "note", "url", "train", "protocol")
FIELDS = REQUIRED + NUMERIC + OPTIONAL_TEXT
GROUPS = ("paired", "unpaired")


def load_published(path: str | os.PathLike | None) -> pd.DataFrame:
    """Rows of published results, one per (source, method, dataset); an empty frame for `path=None`.

    The file holds a list of rows, or a mapping with the list under ``rows``. Missing numbers are
    ``null`` (shown as a dash).
    """
    if path is None:
        return pd.DataFrame(columns=list(FIELDS))
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"published: {path} not found; set `published: null` in the config to show none")
    data = parse_yaml(path)
    rows = data.get("rows") if isinstance(data, dict) else data
    if rows is None:
        rows = []
    if not isinstance(rows, list):
        raise ConfigError(f"{path}: expected a list of rows (or a mapping with `rows:`), got {type(rows).__name__}")
    records = [_validate_row(path, index, row) for index, row in enumerate(rows)]
    return pd.DataFrame(records, columns=list(FIELDS))


def _validate_row(path: Path, index: int, row: object) -> dict:
    where = f"{path}: row {index}"
    if not isinstance(row, dict):
        raise ConfigError(f"{where}: expected a mapping of fields, got {type(row).__name__}")
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(FIELDS)}")
    for key in REQUIRED:
        value = row.get(key)
        if value is None or not str(value).strip():
            raise ConfigError(f"{where}: missing key {key!r} (every row needs {', '.join(REQUIRED)})")
    record: dict = {key: None for key in FIELDS}
    for key in REQUIRED + OPTIONAL_TEXT:
        if row.get(key) is not None:
            record[key] = str(row[key])
    if record["group"] is not None and record["group"] not in GROUPS:
        raise ConfigError(f"{where}: key 'group' is {record['group']!r}; use one of {', '.join(GROUPS)}")
    for key in NUMERIC:
        value = row.get(key)
        if value is None:
            record[key] = math.nan
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: key {key!r} must be a number or null, got {value!r}")
        record[key] = float(value)
    return record
