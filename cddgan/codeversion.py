"""Which code this is: git's commit (and uncommitted changes) in a checkout, the installed version outside one.

Its own module, light (subprocess and importlib.metadata only), because two writers state it: the report's
provenance section and every model file a training writes (`cddgan.modelfile`), and a training job must not
import the report's plotting stack for it.
"""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

# The folder that holds the `cddgan` package: a checkout's root, or site-packages for an installed wheel.
CODE_ROOT = Path(__file__).resolve().parents[1]


def git_info(cwd: Path | None = None) -> dict[str, str]:
    """Commit hash and whether the working tree has uncommitted changes ("unknown" outside a repository)."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.rstrip() if done.returncode == 0 else None  # porcelain lines start with a space

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": "unknown", "dirty": "unknown"}
    status = git("status", "--porcelain", "--untracked-files=all")
    return {"commit": commit, "dirty": "unknown" if status is None else _describe_status(status)}


def installed_version() -> str:
    """The version of cddgan-bench: its installed distribution's, else the package's own `__version__`."""
    try:
        return metadata.version("cddgan-bench")
    except metadata.PackageNotFoundError:
        from cddgan import __version__

        return f"{__version__} (no installed distribution)"


def code_version(code_root: Path = CODE_ROOT) -> dict[str, str]:
    """The code version the report and every model file state: `commit`, `dirty` and `version`.

    In a checkout, git's commit and changes (`git_info`). A package installed with `pip install .` has no
    checkout beside it (and git, asked there, would report any repository that happens to enclose
    site-packages), so it says so and gives the installed version. Where git fails, the report says that
    too, never a bare "unknown".
    """
    version = installed_version()
    if not (Path(code_root) / ".git").exists():  # a folder, or a file in a worktree or submodule
        note = f"not a git checkout: cddgan-bench {version} installed in {code_root}"
        return {"commit": note, "dirty": "not a git checkout (the installed files)", "version": version}
    info = git_info(code_root)
    failed = f"unknown: git could not read the checkout {code_root} (is git installed?)"
    return {
        "commit": failed if info["commit"] == "unknown" else info["commit"],
        "dirty": failed if info["dirty"] == "unknown" else info["dirty"],
        "version": version,
    }


# Untracked files that can change results; logs and notes beside the checkout do not count.
CODE_SUFFIXES = (".py", ".smk", ".yaml", ".yml", ".toml", ".json", ".sh", ".cfg")


def _describe_status(porcelain: str) -> str:
    """'no', or what differs from the commit: a new method file is untracked, and leaving it out would
    make the report claim that the commit alone produced these numbers."""
    lines = [line for line in porcelain.splitlines() if line.strip()]
    untracked = [line[3:] for line in lines if line.startswith("??") and line.endswith(CODE_SUFFIXES)]
    lines = [line for line in lines if not line.startswith("??") or line.endswith(CODE_SUFFIXES)]
    if not lines:
        return "no"
    changed = [line[3:] for line in lines if not line.startswith("??")]
    parts = [
        f"{len(paths)} {kind}: {', '.join(paths[:5])}{' ...' if len(paths) > 5 else ''}"
        for kind, paths in (("changed", changed), ("untracked", untracked))
        if paths
    ]
    return "yes (" + "; ".join(parts) + ")"
