"""Files that ship inside the package: the schema and the configs (default, smoke, paper, published).

They are found through the installed `cddgan` package, never relative to a checkout, so an installed
wheel finds them from any working folder. A checkout's `config/` and `workflow/schemas/` are links to
these folders (`config -> cddgan/configs`, `workflow/schemas -> ../cddgan/schemas`).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

# A setuptools wheel installs the package as plain files, so its folder is a real path.
PACKAGE_DIR = Path(str(resources.files("cddgan")))
CONFIGS_DIR = PACKAGE_DIR / "configs"
SCHEMA_PATH = PACKAGE_DIR / "schemas" / "config.schema.yaml"
DEFAULT_CONFIG = CONFIGS_DIR / "config.yaml"


def locate(path: str | os.PathLike) -> Path:
    """Where a config-relative file such as the default `published: config/published.yaml` is.

    As given when it exists (absolute, or relative to the working folder: a user's own file of that name
    wins, as it always did); otherwise the shipped file, where `config/<name>` is `<name>` among the shipped
    configs (what the checkout's `config` link points at), so the default works from any folder and from an
    installed package. A path found in neither place comes back as given, so the error names what was
    written.
    """
    given = Path(path)
    if given.is_absolute() or given.exists():
        return given
    parts = given.parts[1:] if given.parts[:1] == ("config",) else given.parts
    shipped = CONFIGS_DIR.joinpath(*parts) if parts else CONFIGS_DIR
    return shipped if shipped.is_file() else given
