"""Run the Snakemake DAG on the smoke config in a scratch folder (shared by the end-to-end tests)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "config" / "smoke.yaml"
TESTS_DIR = Path(__file__).resolve().parent


def snakemake_env(extra_pythonpath: str | None = None) -> dict[str, str]:
    """The environment for a Snakemake subprocess: this interpreter's bin first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if extra_pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [extra_pythonpath, env.get("PYTHONPATH", "")]))
    return env


def run_snakemake(workdir: Path, *args: str, configfile: Path = SMOKE, env=None, check=True, timeout=900):
    """`snakemake -s <repo>/Snakefile --directory workdir --configfile ...` with the given args."""
    command = [
        str(Path(sys.executable).parent / "snakemake"),
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        *args,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, env=env or snakemake_env(), timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
        )
    return result


def write_config(path: Path, changes: dict | None = None, base: Path = SMOKE, merge: tuple[str, ...] = ()) -> Path:
    """A copy of a config with top-level keys replaced (or, for keys in `merge`, merged one level deep)."""
    config = yaml.safe_load(base.read_text())
    for key, value in (changes or {}).items():
        if key in merge:
            config[key] = {**config.get(key, {}), **value}
        else:
            config[key] = value
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def toy_config(path: Path, extra_runs: dict | None = None) -> Path:
    """The smoke config with the toy plugin (tests/toy_method.py): the hazy input, one toy GAN and
    `extra_runs`. Run it with `env=snakemake_env(str(TESTS_DIR))` so that jobs can import the plugin."""
    runs = {
        "identity": {"method": "identity", "label": "Hazy input"},
        "toy": {"method": "toy-gan", "label": "Toy GAN", "settings": {"width": 4}},
        **(extra_runs or {}),
    }
    return write_config(path, {"plugins": ["toy_method"], "runs": runs})


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def job_stats(output: str) -> dict[str, int]:
    """The counts of Snakemake's 'Job stats' table ({} when it plans nothing), `all` included."""
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\S+)\s+(\d+)\s*$", table, re.M) if m[1] != "total"}
