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
# A user's own baseline rule, in workflow/rules/extra/ and switched on by `runs.gamma-rule.rule`.
GAMMA_RULE_OUT = register_rule_baseline("gamma-rule")


rule gamma_rule:
    input:
        staged_test_inputs(),
    output:
        directory(GAMMA_RULE_OUT),
    log:
        f"{{RESULTS}}/logs/gamma_rule/{{{{experiment}}}}/seed{{{{seed}}}}/{{{{dataset}}}}.log",
    shell:
        tolerant("{sys.executable} {GAMMA} --gamma 1.3 --input {{input:q}}/images --output {{output:q}}"
                 " > {{log:q}} 2>&1")
'''
RULE_RUN = {"rule": "gamma_rule.smk", "label": "Gamma (rule)"}


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
        {"runs": {"identity": {"method": "identity", "label": "Hazy input"}, "gamma-cmd": command_run(),
                  "gamma-rule": RULE_RUN}},
    )
    result = smoke.subprocess.run(
        [str(smoke.Path(sys.executable).parent / "snakemake"), "-s", str(checkout / "Snakefile"),
         "--directory", str(work), "--configfile", str(config), "--cores", "2", "all"],
        capture_output=True, text=True, env=smoke.snakemake_env(), check=False, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    comparison = pd.read_csv(work / "results" / "tables" / "comparison.csv")
    assert set(comparison["run"]) == {"identity", "gamma-cmd", "gamma-rule"}
    in_distribution = comparison[comparison["dataset"] == "synthetic"]  # the smoke config tests a shift too
    psnr = in_distribution[in_distribution["metric"] == "psnr"].set_index("run")["mean"]
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
        ("--drop 4", r"the program wrote no output for any of the 4 inputs"),
    ],
)
def test_command_with_missing_or_mis_sized_outputs_is_a_failed_result(tmp_path, flag, expected):
    """Wrong outputs are a result, as a diverged GAN is: the run is FAILED with the list, the others go on,
    the tables and report show it, and the workflow still exits non-zero so a script notices."""
    config = write_config(tmp_path / "bad.yaml", {"runs": {"identity": {"method": "identity", "label": "Hazy input"},
                                                         "gamma-cmd": command_run(flag)}})
    result = run_snakemake(tmp_path, "--cores", "2", "all", configfile=config, check=False)
    assert result.returncode != 0
    import re

    marker = tmp_path / "results" / "outputs" / "synthetic" / "gamma-cmd" / "seed0" / "synthetic" / "FAILED"
    text = marker.read_text()
    assert re.search(expected, text), text
    assert "command log: results/logs/command_dehaze/synthetic/gamma-cmd/seed0/synthetic.log" in text
    assert re.search(r"FAILED synthetic/gamma-cmd/seed0: .*" + expected, result.stderr)  # the last word
    failures = pd.read_csv(tmp_path / "results" / "tables" / "failures.csv")
    assert failures["run"].tolist() == ["gamma-cmd"]
    comparison = pd.read_csv(tmp_path / "results" / "tables" / "comparison.csv")
    assert set(comparison["run"]) == {"identity"}  # the rest of the sweep went on
    assert "Gamma (command)" in (tmp_path / "reports" / "index.html").read_text()


def test_failing_command_is_a_failed_result_with_its_log(tmp_path):
    config = write_config(tmp_path / "crash.yaml", {"runs": {"identity": {"method": "identity"},
                                                           "gamma-cmd": command_run("--crash")}})
    result = run_snakemake(tmp_path, "--cores", "2", "all", configfile=config, check=False)
    assert result.returncode != 0
    log = "results/logs/command_dehaze/synthetic/gamma-cmd/seed0/synthetic.log"
    assert "simulated crash" in (tmp_path / log).read_text()
    marker = tmp_path / "results" / "outputs" / "synthetic" / "gamma-cmd" / "seed0" / "synthetic" / "FAILED"
    text = marker.read_text()
    assert "the program failed (exit status 3)" in text and log in text
    assert "simulated crash" in text  # the tail of the program's log, kept with the failure
    assert "FAILED synthetic/gamma-cmd/seed0" in result.stderr
    assert (tmp_path / "reports" / "index.html").is_file()


def test_staged_inputs_hold_images_only(tmp_path):
    """A program that reads every file of its input folder must not meet Snakemake's timestamp file."""
    lister = tmp_path / "lister.py"
    lister.write_text(
        "import shutil, sys\nfrom pathlib import Path\n"
        "src, dst = Path(sys.argv[1]), Path(sys.argv[2])\n"
        "for p in src.iterdir():\n"
        "    assert p.suffix == '.png' and not p.name.startswith('.'), p\n"
        "    shutil.copy(p, dst / p.name)\n"
    )
    run = {"command": f"{sys.executable} {lister} {{input_dir}} {{output_dir}}", "label": "Copy"}
    config = write_config(tmp_path / "copy.yaml", {"runs": {"copy": run}})
    run_snakemake(tmp_path, "--cores", "2", "all", configfile=config)
    staged = tmp_path / "results" / "inputs" / "synthetic" / "test_hazy"
    assert (staged / ".snakemake_timestamp").is_file()  # Snakemake's, one folder above the images
    assert all(p.suffix == ".png" for p in (staged / "images").iterdir())
    comparison = pd.read_csv(tmp_path / "results" / "tables" / "comparison.csv")
    assert "copy" in set(comparison["run"])


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
    comparison = comparison[comparison["dataset"] == "synthetic"]  # the smoke config tests a shift too
    row = comparison[(comparison["run"] == "gamma-fit") & (comparison["metric"] == "psnr")].iloc[0]
    identity = comparison[(comparison["run"] == "identity") & (comparison["metric"] == "psnr")].iloc[0]
    assert row["n_seeds"] == 2 and row["mean"] != identity["mean"]


@pytest.mark.parametrize(("rule", "harness_file"), [("test", "workflow/rules/test.smk"), ("all", "Snakefile")])
def test_a_user_rule_named_like_a_harness_rule_names_the_users_file(tmp_path, rule, harness_file):
    """Snakemake would blame the harness's file, which is included after the user's."""
    checkout = workflow_copy(tmp_path)
    mine = checkout / "workflow" / "rules" / "extra" / "mine.smk"
    mine.write_text(f'rule {rule}:\n    output:\n        "x.txt",\n    shell:\n        "touch {{output}}"\n')
    config = write_config(tmp_path / "mine.yaml", {"runs": {"identity": {"method": "identity"},
                                                          "mine": {"rule": "mine.smk"}}})
    result = smoke.subprocess.run(
        [str(smoke.Path(sys.executable).parent / "snakemake"), "-s", str(checkout / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(config), "-n", "all"],
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
    config = write_config(tmp_path / "rule.yaml", {"runs": {"identity": {"method": "identity"},
                                                          "gamma-rule": RULE_RUN}})
    result = smoke.subprocess.run(
        [str(smoke.Path(sys.executable).parent / "snakemake"), "-s", str(checkout / "Snakefile"),
         "--directory", str(work), "--configfile", str(config), "--cores", "2", "all"],
        capture_output=True, text=True, env=smoke.snakemake_env(), check=False, timeout=900,
    )
    marker = work / "results" / "outputs" / "synthetic" / "gamma-rule" / "seed0" / "synthetic" / "FAILED"
    assert result.returncode != 0
    assert "1 missing: test_00000" in marker.read_text()
    assert "command log: results/logs/gamma_rule/synthetic/seed0/synthetic.log" in marker.read_text()


def test_a_rule_baseline_is_switched_on_by_its_config_entry(tmp_path):
    """The same checkout, two configs: the rule file is used only where a run names it."""
    checkout = workflow_copy(tmp_path)

    def dry_run(config):
        return smoke.subprocess.run(
            [str(smoke.Path(sys.executable).parent / "snakemake"), "-s", str(checkout / "Snakefile"),
             "--directory", str(tmp_path / "work"), "--configfile", str(config), "-n", "all"],
            capture_output=True, text=True, env=smoke.snakemake_env(), check=False, timeout=300,
        )

    with_rule = dry_run(write_config(tmp_path / "on.yaml", {"runs": {"identity": {"method": "identity"},
                                                                    "gamma-rule": RULE_RUN}}))
    assert with_rule.returncode == 0 and "rule gamma_rule:" in with_rule.stdout
    without = dry_run(write_config(tmp_path / "off.yaml", {"runs": {"identity": {"method": "identity"}}}))
    assert without.returncode == 0 and "gamma_rule" not in without.stdout
    assert "gamma_rule.smk, which no run of this config names" in without.stderr
    missing = dry_run(write_config(tmp_path / "typo.yaml", {"runs": {"x": {"rule": "gama_rule.smk"}}}))
    assert missing.returncode != 0 and "runs.x.rule:" in missing.stderr and "gama_rule.smk not found" in missing.stderr
