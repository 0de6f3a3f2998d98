"""Every command that README.md and docs/ tell a user to type is checked, so an argument in the wrong
place fails a test, not a user: each `cddgan ...` and `python -m cddgan ...` command is parsed by the real
argument parser, each benchmark command by its script's parser, each `snakemake ...` command by
Snakemake's own parser (its config files, profiles and rule names must exist), and each `pytest -m` by the
declared markers; the slow test then dry-runs (`-n`) every distinct Snakemake command of the docs.

Written commands stand for a family where the docs use placeholders: `config/<yours>.yaml` and
`config/my.yaml` are checked as config/smoke.yaml, `<experiment>`/`<run>` as real names, `...` and
alternatives `a|b|c` are expanded or dropped as documented below.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from doc_commands import REPO, Command, documented_commands
from smoke import snakemake_env

from cddgan.cli import build_parser

COMMANDS = documented_commands()
PLACEHOLDERS = {"config/<yours>.yaml": "config/smoke.yaml", "config/my.yaml": "config/smoke.yaml",
                "<experiment>": "synthetic", "<run>": "cut", "gpu_slots=N": "gpu_slots=4"}
# Executors whose plugin the docs tell the user to install first; not installed here.
FOREIGN_EXECUTORS = ("kubernetes", "<plugin>")
RULES = {"all", "make_data", "train", "train_group", "train_member", "test", "evaluate", "efficiency",
         "aggregate", "report", "stage_test_inputs", "stage_train_inputs", "command_setup", "command_train",
         "command_dehaze", "collect_outputs"}


def concrete(command: Command) -> list[list[str]] | None:
    """The argument lists a documented command stands for (alternatives expanded, placeholders filled,
    `...` dropped), or None for a command that names no runnable arguments (a shell substitution)."""
    if "$(" in command.text:
        return None
    words = [PLACEHOLDERS.get(w, w) for w in command.words if w not in ("...",)]
    words = [w.replace("config/<yours>.yaml", "config/smoke.yaml") for w in words]
    variants = [words]
    for i, word in enumerate(words):
        if "|" in word and not word.startswith("-"):
            variants = [[*v[:i], alt, *v[i + 1:]] for v in variants for alt in word.split("|")]
    return variants


def of(program: str) -> list[tuple[Command, list[str]]]:
    out = []
    for command in COMMANDS:
        if command.program != program:
            continue
        for words in concrete(command) or []:
            out.append((command, words))
    return out


def test_the_docs_hold_commands_of_every_kind():
    kinds = {c.program for c in COMMANDS}
    assert {"snakemake", "cddgan", "python", "pytest"} <= kinds
    assert len(COMMANDS) > 40


@pytest.mark.parametrize(("command", "words"), of("cddgan") + [
    (c, w) for c, w in of("python") + of("python3") if w[1:3] == ["-m", "cddgan"]
], ids=str)
def test_cddgan_commands_parse(command, words):
    args = words[1:] if words[0] == "cddgan" else words[3:]
    if not args:
        return  # `python -m cddgan` alone: the program's name in prose
    subcommands = build_parser()._subparsers._group_actions[0].choices
    assert args[0] in subcommands, f"{command}: no subcommand {args[0]!r}"
    if len(args) == 1:
        return  # a subcommand named in prose (`cddgan train`), not a command line
    try:
        build_parser().parse_args(args if "--help" not in args else [args[0], "--help"])
    except SystemExit as exc:
        assert exc.code == 0 and "--help" in args, f"{command}: exits {exc.code}"
    for word in args:
        if word.startswith("config/"):
            assert (REPO / word).is_file(), f"{command}: {word} does not exist"


@pytest.mark.parametrize(("command", "words"), [
    (c, w) for c, w in of("python") + of("python3") if w[1:3] == ["-m", "cddgan.resources"]
], ids=str)
def test_resources_summary_commands_name_a_config(command, words):
    assert len(words) <= 4
    if len(words) == 4:
        assert (REPO / words[3]).is_file(), f"{command}: {words[3]} does not exist"


@pytest.mark.parametrize(("command", "words"), [
    (c, w) for c, w in of("python") + of("python3") if w[1].startswith("benchmarks/")
], ids=str)
def test_benchmark_commands_parse(command, words):
    script = REPO / words[1]
    assert script.is_file(), f"{command}: no such script"
    spec = importlib.util.spec_from_file_location(script.stem, script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        module.build_parser().parse_args(words[2:])
    except SystemExit as exc:
        raise AssertionError(f"{command}: the script's parser refuses it (exit {exc.code})") from exc


def _snakemake_args(words: list[str]):
    from snakemake.cli import get_argument_parser

    return get_argument_parser().parse_args(words[1:])


@pytest.mark.parametrize(("command", "words"), of("snakemake"), ids=str)
def test_snakemake_commands_parse_and_name_what_exists(command, words):
    if any(f"--executor {e}" in " ".join(words) for e in FOREIGN_EXECUTORS):
        return  # needs a plugin the docs say to install first
    try:
        args = _snakemake_args(words)
    except SystemExit as exc:
        raise AssertionError(f"{command}: Snakemake refuses its arguments (exit {exc.code})") from exc
    for configfile in args.configfile or []:
        assert str(configfile).endswith((".yaml", ".yml")), (
            f"{command}: {configfile} is taken as a config file (put targets before --configfile)")
        assert (REPO / configfile).is_file(), f"{command}: {configfile} does not exist"
    for profile in args.profile or []:
        assert (REPO / profile).is_dir() or profile == "none", f"{command}: no profile {profile}"
    for target in args.targets or []:
        assert target in RULES or target.startswith(("results/", "reports/")), f"{command}: unknown target {target}"
    for name in args.forcerun or []:
        assert name in RULES or name.startswith("results/"), f"{command}: --forcerun {name} is no rule"


def test_pytest_marker_expressions_use_declared_markers():
    declared = {m.split(":")[0] for m in
                tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]}
    for command, words in of("pytest"):
        if "-m" in words:
            expression = words[words.index("-m") + 1]
            names = set(re.findall(r"[A-Za-z_]+", expression)) - {"not", "and", "or"}
            assert names <= declared, f"{command}: unknown markers {names - declared}"
        for word in words[1:]:
            if word.startswith("tests/"):
                assert (REPO / word).is_file(), f"{command}: {word} does not exist"


@pytest.mark.slow
def test_every_documented_snakemake_command_plans(tmp_path):
    """Each distinct Snakemake command, as a dry run (`-n`), from the checkout (where the docs' relative
    config paths live) with the working folder in a scratch place holding fake dataset trees at the paths
    config/paper.yaml names. Commands that change Snakemake's records (--touch, --unlock, --cleanup-*) or
    build a report of a finished run are only parsed (above)."""
    from test_paper_config import make_paper_trees

    make_paper_trees(tmp_path)
    skip = ("--touch", "--unlock", "--report", "--cleanup-metadata", "--lint", "--executor", "-s")
    seen, failures = set(), []
    for command, words in of("snakemake"):
        if any(flag in words for flag in skip) or any("<" in w for w in words):
            continue
        args = [w for w in words[1:] if w not in ("-n", "--dry-run")]
        key = tuple(args)
        if key in seen:
            continue
        seen.add(key)
        result = subprocess.run(
            [str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory",
             str(tmp_path), *args, "-n", "--quiet", "rules"],
            cwd=REPO, capture_output=True, text=True, env=snakemake_env(), timeout=300, check=False,
        )
        if result.returncode != 0:
            failures.append(f"{command}\n{result.stderr[-1500:]}")
    shutil.rmtree(tmp_path / ".snakemake", ignore_errors=True)
    assert len(seen) > 8
    assert not failures, "\n\n".join(failures)
