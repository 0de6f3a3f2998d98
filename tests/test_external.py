"""External baselines: a program given as a command template, and a user's own Snakemake rule, run
through the smoke DAG and appear in the tables and the report; broken programs fail with clear lists."""

from __future__ import annotations

import json
import shutil
import sys

import pandas as pd
import pytest
import smoke
from smoke import REPO, TESTS_DIR, run_snakemake, write_config

pytestmark = pytest.mark.slow

GAMMA = TESTS_DIR / "external" / "gamma.py"
RULE_BASELINE = f'''
# A user's own baseline rule, dropped into workflow/rules/extra/.
GAMMA_RULE_OUT = register_rule_baseline("gamma-rule", label="Gamma (rule)")


rule gamma_rule:
    input:
        staged_test_inputs(),
    output:
        directory(GAMMA_RULE_OUT),
    log:
        f"{{RESULTS}}/logs/gamma_rule/{{{{experiment}}}}/seed{{{{seed}}}}/{{{{dataset}}}}.log",
    shell:
        "{sys.executable} {GAMMA} --gamma 1.3 --input {{input:q}} --output {{output:q}} > {{log:q}} 2>&1"
'''


def workflow_copy(tmp_path):
    """A copy of the workflow (not the library) with a user rule file in workflow/rules/extra/."""
    copy = tmp_path / "checkout"
    copy.mkdir()
    shutil.copy(REPO / "Snakefile", copy / "Snakefile")
    shutil.copy(REPO / "environment.yml", copy / "environment.yml")
    shutil.copytree(REPO / "workflow", copy / "workflow", ignore=shutil.ignore_patterns("*.smk.extra"))
    shutil.copytree(REPO / "config", copy / "config")
    (copy / "workflow" / "rules" / "extra").mkdir(exist_ok=True)
    (copy / "workflow" / "rules" / "extra" / "gamma_rule.smk").write_text(RULE_BASELINE)
    return copy


def command_run(extra: str = "") -> dict:
    return {
        "command": f"{{python}} {{script}} --input {{input_dir}} --output {{output_dir}} {extra}".strip(),
        "vars": {"python": sys.executable, "script": str(GAMMA)},
        "label": "Gamma (command)",
    }


def test_command_and_rule_baselines_are_scored_and_reported(tmp_path):
    checkout = workflow_copy(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    config = write_config(
        tmp_path / "ext.yaml",
        {"runs": {"identity": {"method": "identity", "label": "Hazy input"}, "gamma-cmd": command_run()}},
    )
    result = smoke.subprocess.run(
        [str(smoke.Path(sys.executable).parent / "snakemake"), "-s", str(checkout / "Snakefile"),
         "--directory", str(work), "--configfile", str(config), "--cores", "2", "all"],
        capture_output=True, text=True, env=smoke.snakemake_env(), check=False, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    comparison = pd.read_csv(work / "results" / "tables" / "comparison.csv")
    assert set(comparison["run"]) == {"identity", "gamma-cmd", "gamma-rule"}
    psnr = comparison[comparison["metric"] == "psnr"].set_index("run")["mean"]
    assert psnr["gamma-cmd"] != psnr["identity"] and psnr["gamma-rule"] != psnr["gamma-cmd"]
    out_dir = work / "results" / "outputs" / "synthetic" / "gamma-cmd" / "seed0" / "synthetic"
    outputs = sorted(p for p in out_dir.iterdir() if not p.name.startswith("."))
    assert outputs and all(p.suffix == ".png" for p in outputs)  # the program wrote JPEGs; collected as PNG
    html = (work / "reports" / "index.html").read_text()
    assert "Gamma (command)" in html and "Gamma (rule)" in html


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("--drop 2", r"2 missing: test_00000, test_00001"),
        ("--shrink", r"4 with the wrong size: test_00000.jpg is 47x48"),
    ],
)
def test_command_with_missing_or_mis_sized_outputs_fails_with_the_list(tmp_path, flag, expected):
    config = write_config(tmp_path / "bad.yaml", {"runs": {"gamma-cmd": command_run(flag)}})
    result = run_snakemake(tmp_path, "--cores", "2", "all", configfile=config, check=False)
    assert result.returncode != 0
    log = tmp_path / "results" / "logs" / "collect_outputs" / "synthetic" / "gamma-cmd" / "seed0" / "synthetic.log"
    assert "collect_outputs" in result.stdout + result.stderr and str(log.relative_to(tmp_path)) in result.stderr
    import re

    text = log.read_text()
    assert re.search(expected, text), text
    assert "command log: results/logs/command_dehaze/synthetic/gamma-cmd/seed0/synthetic.log" in text
    assert not (tmp_path / "results" / "outputs" / "synthetic" / "gamma-cmd").exists()


def test_failing_command_names_its_log(tmp_path):
    config = write_config(tmp_path / "crash.yaml", {"runs": {"gamma-cmd": command_run("--crash")}})
    result = run_snakemake(tmp_path, "--cores", "2", "all", configfile=config, check=False)
    assert result.returncode != 0
    log = "results/logs/command_dehaze/synthetic/gamma-cmd/seed0/synthetic.log"
    assert log in result.stderr
    assert "simulated crash" in (tmp_path / log).read_text()


def test_unknown_placeholder_is_a_config_error(tmp_path):
    config = write_config(
        tmp_path / "typo.yaml",
        {"runs": {"gamma-cmd": {"command": "prog {input_dir} {output_dir} {modle_dir}"}}},
    )
    result = run_snakemake(tmp_path, "--cores", "1", "all", configfile=config, check=False)
    assert result.returncode != 0
    assert "runs.gamma-cmd.command: unknown placeholder(s) ['modle_dir']" in result.stderr


def test_a_trainable_command_trains_per_seed_and_dehazes_from_its_model_dir(tmp_path):
    run = {
        "train": "{python} {script} --train-hazy {train_hazy_dir} --train-clear {train_clear_dir} "
        "--model {model_dir} --seed {seed} --threads {threads}",
        "command": "{python} {script} --model {model_dir} --input {input_dir} --output {output_dir}",
        "vars": {"python": sys.executable, "script": str(GAMMA)},
        "label": "Gamma (fitted)",
        "seeds": [0, 1],
        "resources": {"cpus": 2},
    }
    config = write_config(
        tmp_path / "trained.yaml", {"runs": {"identity": {"method": "identity"}, "gamma-fit": run}}
    )
    run_snakemake(tmp_path, "--cores", "2", "all", configfile=config)
    fitted = []
    for seed in (0, 1):
        model = json.loads(
            (tmp_path / "results" / "runs" / "synthetic" / "gamma-fit" / f"seed{seed}" / "model_dir" / "gamma.json")
            .read_text()
        )
        assert model["seed"] == seed and model["threads"] == 2  # {seed} and {threads} reached the command
        fitted.append(model["gamma"])
    assert fitted[0] == fitted[1] > 1  # deterministic; hazy images are brighter, so the fit darkens
    comparison = pd.read_csv(tmp_path / "results" / "tables" / "comparison.csv")
    row = comparison[(comparison["run"] == "gamma-fit") & (comparison["metric"] == "psnr")].iloc[0]
    identity = comparison[(comparison["run"] == "identity") & (comparison["metric"] == "psnr")].iloc[0]
    assert row["n_seeds"] == 2 and row["mean"] != identity["mean"]


@pytest.mark.parametrize(("rule", "harness_file"), [("test", "workflow/rules/test.smk"), ("all", "Snakefile")])
def test_a_user_rule_named_like_a_harness_rule_names_the_users_file(tmp_path, rule, harness_file):
    """Snakemake would blame the harness's file, which is included after the user's."""
    checkout = workflow_copy(tmp_path)
    mine = checkout / "workflow" / "rules" / "extra" / "mine.smk"
    mine.write_text(f'rule {rule}:\n    output:\n        "x.txt",\n    shell:\n        "touch {{output}}"\n')
    result = smoke.subprocess.run(
        [str(smoke.Path(sys.executable).parent / "snakemake"), "-s", str(checkout / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(smoke.SMOKE), "-n", "all"],
        capture_output=True, text=True, env=smoke.snakemake_env(), check=False, timeout=300,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"{mine}: rule '{rule}' clashes with the harness's rule of that name ({harness_file})" in result.stderr


def test_a_rule_baseline_with_missing_outputs_names_its_rules_log(tmp_path):
    checkout = workflow_copy(tmp_path)
    rule_file = checkout / "workflow" / "rules" / "extra" / "gamma_rule.smk"
    rule_file.write_text(rule_file.read_text().replace("--gamma 1.3", "--gamma 1.3 --drop 1"))
    work = tmp_path / "work"
    work.mkdir()
    config = write_config(tmp_path / "rule.yaml", {"runs": {"identity": {"method": "identity"}}})
    result = smoke.subprocess.run(
        [str(smoke.Path(sys.executable).parent / "snakemake"), "-s", str(checkout / "Snakefile"),
         "--directory", str(work), "--configfile", str(config), "--cores", "2", "all"],
        capture_output=True, text=True, env=smoke.snakemake_env(), check=False, timeout=900,
    )
    text = (work / "results" / "logs" / "collect_outputs" / "synthetic" / "gamma-rule" / "seed0" / "synthetic.log")
    assert result.returncode != 0
    assert "1 missing: test_00000" in text.read_text()
    assert "command log: results/logs/gamma_rule/synthetic/seed0/synthetic.log" in text.read_text()
