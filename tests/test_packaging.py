"""Packaging: pyproject and environment.yml list the same dependencies; the CLI has every subcommand."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
import yaml
from smoke import REPO

from cddgan.cli import build_parser
from cddgan.errors import ConfigError
from cddgan.methods import Method, load_plugins, method_class, register
from cddgan.methods.registry import _REGISTRY

SUBCOMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert sorted(pip_section) == sorted(wanted)
    assert f"python={project['requires-python'].removeprefix('>=')}" in env["dependencies"]


def test_the_package_states_the_version_pyproject_gives():
    """Model files record `cddgan.__version__`; the installed distribution reports pyproject's: one number."""
    import cddgan

    assert cddgan.__version__ == VERSION


def test_the_subcommand_list_is_read_from_the_parser():
    assert {"make-data", "train", "train-group", "stage-inputs", "collect", "report", "methods"} <= set(SUBCOMMANDS)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command):
    result = subprocess.run(
        [sys.executable, "-m", "cddgan", command, "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "usage: cddgan" in result.stdout


def test_methods_lists_the_shipped_baselines():
    result = subprocess.run([sys.executable, "-m", "cddgan", "methods"], capture_output=True, text=True, check=True)
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    assert {"identity", "dcp", "cyclegan", "cut", "fastcut", "negcut", "cddgan"} <= listed


def test_a_broken_method_file_is_named_with_its_line(tmp_path, monkeypatch):
    import baselines

    (tmp_path / "broken_method.py").write_text("import torch\n\nVALUE = 1 / 0\n")
    monkeypatch.setattr(baselines, "__path__", [*baselines.__path__, str(tmp_path)])
    with pytest.raises(ConfigError) as info:
        load_plugins()
    message = str(info.value)
    assert "baselines.broken_method" in message and "ZeroDivisionError" in message
    assert f"{tmp_path / 'broken_method.py'}:3" in message and "move it out of baselines/" in message
    sys.modules.pop("baselines.broken_method", None)


def test_a_name_registered_twice_names_both_files():
    class Clash(Method):
        pass

    method_class("dcp")  # the shipped DCP is registered first
    clash = r"'dcp' is registered twice: DarkChannelPrior \(.*baselines/dcp.py\) and .*Clash.*test_packaging.py"
    with pytest.raises(ValueError, match=clash + ".*another name"):
        register("dcp")(Clash)
    assert _REGISTRY["dcp"] is method_class("dcp") and method_class("dcp").__name__ == "DarkChannelPrior"


def test_a_baselines_folder_in_the_working_directory_is_refused_not_silently_used(tmp_path):
    (tmp_path / "baselines").mkdir()  # a namespace package: `python -m` puts the working directory first
    result = subprocess.run(
        [sys.executable, "-m", "cddgan", "methods"], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"imported from {tmp_path.resolve() / 'baselines'}" in result.stderr and "shadows it" in result.stderr


def test_an_unknown_method_says_where_method_files_come_from():
    with pytest.raises(ConfigError, match=r"unknown method 'dehazeformer'.*imported from .*baselines/"):
        method_class("dehazeformer")


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
        "import sys, cddgan.training.loop, cddgan.training.group, cddgan.training.step, cddgan.training.graphs\n"
        "import cddgan.config, cddgan.data.synthetic\n"
        "from cddgan.methods import load_plugins; load_plugins()\n"
        "assert 'jsonschema' not in sys.modules, 'jsonschema imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def _copy_working_tree(target: Path) -> None:
    """The checkout's files as they are now (tracked and new, not ignored), links kept as links."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True,
        check=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source, copy = REPO / name, target / name
        if not source.is_symlink() and not source.is_file():
            continue  # deleted in the working tree
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            copy.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, copy)


@pytest.mark.slow
def test_an_installed_package_works_outside_the_checkout(tmp_path):
    """`pip install .` (a copy, not editable) into a fresh environment: from a folder elsewhere the CLI finds
    the shipped schema, configs and baselines, and the report states the installed version. The heavy
    dependencies (torch, ...) come from this environment through a .pth file instead of a 5 GB install."""
    source, venv, elsewhere = tmp_path / "source", tmp_path / "venv", tmp_path / "elsewhere"
    _copy_working_tree(source)
    elsewhere.mkdir()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}

    def run(*args: str, cwd: Path = elsewhere) -> str:
        done = subprocess.run([*args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{args}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        return done.stdout

    purelib = run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    Path(purelib, "outer-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: pip must not touch this environment's (editable) cddgan-bench
    run(str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
        "--no-cache-dir", "--ignore-installed", str(source))

    where = run(str(python), "-c", "import cddgan, cddgan.config as c; print(cddgan.__file__); print(c.SCHEMA_PATH)")
    assert all(Path(line).is_relative_to(purelib) for line in where.split()), where  # a copy, not the checkout
    cddgan = str(venv / "bin" / "cddgan")
    # the shipped configs, read from the installed copy, say what the checkout's say (the default has its
    # shifted test sets since 35b4460, the smoke config one: the literal "1 datasets" here had gone stale)
    for args in ((), ("config/smoke.yaml",)):
        here = subprocess.run([sys.executable, "-m", "cddgan", "check-config", *args], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout
        assert here.startswith("config OK: ") and run(cddgan, "check-config", *args) == here
    listed = {line.split()[0] for line in run(cddgan, "methods").splitlines() if line.strip()}
    assert {"identity", "dcp", "cyclegan", "cut", "fastcut", "negcut", "cddgan"} <= listed
    checks = (
        "from cddgan.config import locate, load_yaml, DEFAULT_CONFIG, resolve_cached\n"
        "from cddgan.report.provenance import code_version\n"
        "import json\n"
        "print(json.dumps([str(locate('config/published.yaml')), code_version(),\n"
        "                  len(resolve_cached(load_yaml(DEFAULT_CONFIG), 'cache')['runs'])]))\n"
    )
    published, version, runs = json.loads(run(str(python), "-c", checks))
    assert Path(published).is_relative_to(purelib) and Path(published).is_file()
    assert version["commit"].startswith(f"not a git checkout: cddgan-bench {VERSION}") and version["version"] == VERSION
    assert runs == 12
    assert run(str(python), "-m", "cddgan.config.reference") == (REPO / "docs" / "configuration.md").read_text()

    # `cddgan apply` and `cddgan info` from the installed copy, in a folder with no config or checkout:
    # a training-free method by name, and a tiny model.pt saved with the installed model-file API.
    from PIL import Image

    Image.new("RGB", (37, 23), (170, 180, 195)).save(elsewhere / "some.png")
    run(cddgan, "apply", "dcp", "some.png", "--out", "o", "--compare", "--quiet")
    with Image.open(elsewhere / "o" / "some.png") as out:
        assert out.size == (37, 23)
    assert (elsewhere / "o" / "compare.html").is_file()
    assert (elsewhere / "o" / "compare" / "static" / "report.js").is_file()
    tiny = (
        "import torch\n"
        "from cddgan.methods.registry import build_method\n"
        "from cddgan.modelfile import describe, write_model\n"
        "spec = {'experiment': 'e', 'run': 'tiny', 'seed': 0, 'method': 'cut', 'training': {}, 'plugins': [],\n"
        "        'settings': {'ngf': 4, 'n_blocks': 1, 'ndf': 4, 'netF_nc': 8, 'num_patches': 8}}\n"
        "method = build_method(spec, torch.device('cpu'))\n"
        "about = describe(spec, method, {'dataset': 'd'})\n"
        "write_model('tiny.pt', spec, {}, 1, method.state_dict(), description=about)\n"
    )
    run(str(python), "-c", tiny)
    info = run(cddgan, "info", "tiny.pt")
    assert "format 2" in info and "cut" in info and f"cddgan-bench {VERSION}, commit not a git checkout" in info, info
    run(cddgan, "apply", "tiny.pt", "some.png", "--out", "m", "--quiet")
    assert (elsewhere / "m" / "some.png").is_file()
