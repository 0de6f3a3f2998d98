"""cddgan.plan and cddgan.layout: the jobs a resolved config asks for and the files they write, without
Snakemake (the same functions declare the rules' inputs and feed the aggregate job and the report)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cddgan import plan
from cddgan.layout import JOB_FIELDS, TABLES, Layout


def config(seeds_per_job: int = 1) -> dict:
    """A resolved config in miniature: two experiments, a training-free run, a trained one with three seeds,
    a command baseline and an ablation."""
    training = {"iterations": 10, "seeds_per_job": seeds_per_job}
    return {
        "results": "res",
        "reports": "rep",
        "seeds": [0, 1, 2],
        "datasets": {"a": {}, "b": {}, "unused": {}},
        "experiments": {"x": {"train": "a", "test": ["a", "b"]}, "y": {"train": "b", "test": ["b"]}},
        "runs": {
            "hazy": {"kind": "method", "trainable": False, "seeds": [0], "facts": {"reference_floor": True}},
            "gan": {"kind": "method", "trainable": True, "seeds": [0, 1, 2], "training": training, "label": "GAN"},
            "prog": {"kind": "command", "trainable": True, "seeds": [0], "setup": "make"},
            "gan-abl": {"kind": "method", "trainable": True, "seeds": [0], "training": training, "ablation": "t"},
        },
        "main_runs": ["hazy", "gan", "prog"],
    }


def test_jobs_follow_the_config_and_nothing_else():
    c = config()
    assert plan.method_runs(c) == ["hazy", "gan", "gan-abl"]
    assert plan.trained_runs(c) == ["gan", "gan-abl"]
    assert plan.external_runs(c) == ["prog"]
    assert len(plan.train_jobs(c)) == 2 * (3 + 1)
    # x tests on two sets, y on one: (1 + 3 + 1 + 1) seeds x 3 (experiment, test set) pairs
    assert len(plan.test_jobs(c)) == 6 * 3
    assert plan.used_datasets(c) == ["a", "b"]
    layout = Layout.of(c)
    files = plan.metric_files(c, layout)  # one per run and seed: its test job scores every test set
    assert "res/metrics/x/gan/seed2.csv" in files and len(set(files)) == len(files) == 2 * 6
    assert not [f for f in files if "seed3" in f or "unused" in f]
    assert plan.test_sets(c, layout, "x") == [
        {"dataset": "a", "manifest": "res/data/a/manifest.csv", "protocol": "rgb"},
        {"dataset": "b", "manifest": "res/data/b/manifest.csv", "protocol": "rgb"},
    ]
    # declared outputs: a method run's folder per seed, an external run's folder per test set
    outputs = plan.output_dirs(c, layout)
    assert "res/outputs/x/gan/seed0" in outputs and "res/outputs/x/prog/seed0/a" in outputs
    assert "res/outputs/x/prog/seed0" not in outputs
    assert plan.loss_files(c, layout)[0] == "res/runs/x/gan/seed0/losses.csv"
    assert plan.efficiency_files(c, layout) == [f"res/efficiency/{e}/{r}.json" for e in "xy" for r in
                                                ("hazy", "gan", "gan-abl")]


def test_labels_main_runs_and_reference_floors():
    c = config()
    assert plan.label(c, "gan") == "GAN" and plan.label(c, "prog") == "prog"
    assert plan.main_runs(c) == ["hazy", "gan", "prog"]
    assert plan.reference_runs(c) == ["hazy"]
    assert plan.visual_outputs(c, Layout.of(c)) == [
        o for o in plan.output_dirs(c, Layout.of(c)) if "/gan-abl/" not in o
    ]
    assert plan.output_dirs(c, Layout.of(c), ["hazy"]) == ["res/outputs/x/hazy/seed0", "res/outputs/y/hazy/seed0"]


def test_seed_groups_and_their_arguments():
    c = config(seeds_per_job=2)
    assert plan.grouped_runs(c) == ["gan", "gan-abl"]
    assert plan.seed_group(c, "gan", 2) == [2] and plan.seed_group(c, "gan", 1) == [0, 1]
    assert plan.seed_group(c, "gan-abl", 0) == [0]
    args = plan.group_arguments(c, Layout.of(c), "x", "gan", "0-1", lambda e, r, s: f"spec-{s}")
    assert args[:12] == ["--spec", "spec-0", "--model", "res/groups/x/gan/seeds0-1/seed0/model.pt", "--losses",
                         "res/groups/x/gan/seeds0-1/seed0/losses.csv", "--validation",
                         "res/groups/x/gan/seeds0-1/seed0/validation.csv", "--run-info",
                         "res/groups/x/gan/seeds0-1/seed0/run.json", "--checkpoint-dir",
                         "res/checkpoints/x/gan/seed0"]
    assert args.count("--spec") == 2


def test_job_benchmarks_name_each_job_once_as_the_rules_do():
    c = config(seeds_per_job=2)
    layout = Layout.of(c)
    files = plan.job_benchmarks(c, layout)
    assert len(files) == len(set(files))
    assert "res/benchmarks/train_group/x/gan/seeds0-1.tsv" in files
    assert "res/benchmarks/train_group/x/gan/seeds2.tsv" in files
    assert not [f for f in files if "/train/x/gan/" in f]
    assert "res/benchmarks/command_setup/prog.tsv" in files
    assert "res/benchmarks/command_dehaze/y/prog/seed0/b.tsv" in files
    assert "res/benchmarks/evaluate/y/prog/seed0.tsv" in files and "res/benchmarks/test/x/gan/seed2.tsv" in files
    assert "res/benchmarks/aggregate.tsv" in files
    # every benchmark path is one a rule declares: rule name, then its naming fields
    for path in files:
        rule = Path(path).relative_to("res/benchmarks").parts[0].removesuffix(".tsv")
        assert rule in JOB_FIELDS


def test_alternatives_and_rule_name_clashes(tmp_path):
    assert plan.alternatives([]) == plan.NO_MATCH
    pattern = plan.alternatives(["cut", "cut-v2", "a.b"])
    assert re.fullmatch(pattern, "cut-v2") and re.fullmatch(pattern, "a.b") and not re.fullmatch(pattern, "aXb")
    ours = tmp_path / "dehaze.smk"
    ours.write_text("rule dehaze:\n    shell: 'x'\n")
    mine = tmp_path / "mine.smk"
    mine.write_text("rule clahe:\n    shell: 'y'\n\nrule dehaze:\n    shell: 'z'\n")
    (message,) = plan.rule_name_clashes([mine], [ours], tmp_path.parent)
    assert str(mine) in message and "'dehaze'" in message and f"({tmp_path.name}/dehaze.smk)" in message


def test_layout_names_every_path_from_its_two_roots():
    layout = Layout("R", "P")
    assert layout.model("e", "r", 3) == "R/runs/e/r/seed3/model.pt"
    assert layout.outputs("{experiment}", "{run}", "{seed}", "{dataset}") == (
        "R/outputs/{experiment}/{run}/seed{seed}/{dataset}"
    )
    assert layout.job_log("test") == "R/logs/test/{experiment}/{run}/seed{seed}.log"
    assert layout.metrics("e", "r", 1) == "R/metrics/e/r/seed1.csv"
    assert layout.job_benchmark("aggregate") == "R/benchmarks/aggregate.tsv"
    assert layout.table(TABLES[0]) == "R/tables/scores.csv"
    assert layout.report_index() == "P/index.html"
    with pytest.raises(ValueError, match="unknown table"):
        layout.table("nope")
    with pytest.raises(ValueError, match="names its files by"):
        layout.log("train", experiment="e")


FOLDERS = ("data", "runs", "checkpoints", "groups", "efficiency", "outputs", "metrics", "inputs", "raw", "external",
           "tables", "logs", "benchmarks", "status", "figures", "images", "static")


def _builds_results_path(node: ast.AST) -> bool:
    """An f-string `f"{x}/runs/..."`, a join `x / "runs"` (not a package's own files) or a glob of
    "metrics/*" in code."""
    folders = "|".join(FOLDERS)
    if isinstance(node, ast.JoinedStr):
        text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        return bool(re.search(rf"\{{\}}/({folders})(/|$)", text))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        package = isinstance(node.left, ast.Call) and getattr(node.left.func, "attr", "") == "files"
        return not package and isinstance(node.right, ast.Constant) and node.right.value in FOLDERS
    if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("glob", "rglob") and node.args:
        arg = node.args[0]
        return isinstance(arg, ast.Constant) and bool(re.match(rf"({folders})/", str(arg.value)))
    return False


# Modules that write folders of their own, outside results/ and reports/, with names a report also uses.
OWN_FOLDERS = {"comparepage.py": "the `cddgan apply --compare` page beside the user's outputs"}


def test_no_other_module_builds_results_paths():
    """The layout is the one home of results/ paths: no other library module joins or globs one."""
    repo = Path(__file__).resolve().parents[1]
    offenders = []
    for path in sorted((repo / "cddgan").rglob("*.py")):
        if path.name == "layout.py" or path.name in OWN_FOLDERS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if _builds_results_path(node):
                offenders.append(f"{path.relative_to(repo)}:{node.lineno}")
    assert not offenders, offenders


def test_plan_and_layout_do_not_import_torch():
    code = "import cddgan.plan, cddgan.layout, sys; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_external_runs_have_the_method_interfaces_default_facts():
    from cddgan.config.commands import external_facts
    from cddgan.methods import Method

    assert external_facts(True) == {**Method.facts({}), "trainable": True}


def test_rule_runs_name_their_files(tmp_path):
    c = config()
    c["runs"]["mine"] = {"kind": "rule", "rule": "clahe.smk", "seeds": [0], "trainable": False}
    c["runs"]["theirs"] = {"kind": "rule", "rule": "/opt/rules/x.smk", "seeds": [0], "trainable": False}
    c["runs"]["here"] = {"kind": "rule", "rule": "rules/y.smk", "seeds": [0], "trainable": False}
    assert plan.rule_files(c, tmp_path) == {"mine": tmp_path / "clahe.smk", "theirs": Path("/opt/rules/x.smk"),
                                            "here": Path("rules/y.smk")}
    assert "mine" in plan.external_runs(c)
