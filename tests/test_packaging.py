"""Packaging: pyproject and environment.yml list the same dependencies; the CLI has every subcommand."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest
import yaml
from smoke import REPO

SUBCOMMANDS = [
    "make-data",
    "train",
    "train-group",
    "dehaze",
    "evaluate",
    "efficiency",
    "aggregate",
    "report",
    "check-config",
    "methods",
]


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert sorted(pip_section) == sorted(wanted)
    assert f"python={project['requires-python'].removeprefix('>=')}" in env["dependencies"]


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command):
    result = subprocess.run(
        [sys.executable, "-m", "cddgan", command, "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "usage: cddgan" in result.stdout


def test_methods_lists_the_shipped_baselines():
    result = subprocess.run([sys.executable, "-m", "cddgan", "methods"], capture_output=True, text=True, check=True)
    for name in ("identity", "dcp", "cyclegan", "cut", "fastcut"):
        assert name in result.stdout


def test_cli_errors_are_one_line_without_traceback(tmp_path):
    missing = tmp_path / "nope.png"
    (tmp_path / "m.csv").write_text("not a manifest\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cddgan",
            "dehaze",
            "--spec",
            '{"method": "identity", "settings": {}}',
            "--manifest",
            str(tmp_path / "m.csv"),
            "--out",
            str(missing),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "m.csv" in result.stderr and "Traceback" not in result.stderr


def test_check_config_reports_a_bad_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "config" / "smoke.yaml").read_text().replace("iterations: 16", "iteratons: 16"))
    result = subprocess.run(
        [sys.executable, "-m", "cddgan", "check-config", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "training.iteratons" in result.stderr and "Traceback" not in result.stderr


def test_the_training_loop_and_benchmarks_import_without_jsonschema():
    """The lent GPU machines' image has torch but not jsonschema: the training loop, the step, the CUDA
    graphs and the methods must import without it (only config validation needs it)."""
    code = (
        "import sys, cddgan.train, cddgan.step, cddgan.graphs, cddgan.config, cddgan.data.synthetic\n"
        "from cddgan.methods import load_plugins; load_plugins()\n"
        "assert 'jsonschema' not in sys.modules, 'jsonschema imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
