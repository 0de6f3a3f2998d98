"""Config validation and resolution: every error names its key; ablations expand into runs."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import toy_method

from cddgan import config as cfg
from cddgan.config import CONFIGS_DIR
from cddgan.errors import ConfigError

BASE = {
    "seeds": [0, 1],
    "datasets": {"synth": {"adapter": "synthetic", "size": 32}},
    "experiments": {"e": {"train": "synth", "test": ["synth"]}},
    "training": {"iterations": 10, "crop": 16},
    "plugins": ["toy_method"],
    "runs": {
        "identity": {"method": "identity"},
        "toy": {"method": "toy-gan", "settings": {"width": 4}, "training": {"iterations": 20}},
    },
    "ablations": {
        "toy-wide": {"base": "toy", "table": "width", "label": "wider", "settings": {"width": 8}},
        "toy-short": {"base": "toy", "table": "width", "training": {"iterations": 5}, "seeds": [3]},
    },
    "ablation_tables": {"width": {"title": "Width"}},
}


def resolve(**changes):
    raw = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        node = raw
        keys = dotted.split("__")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        if value is DELETE:
            node.pop(keys[-1])
        else:
            node[keys[-1]] = value
    return cfg.resolve(raw)


DELETE = object()


def test_ablations_expand_into_runs_with_merged_settings():
    c = resolve()
    assert set(c["runs"]) == {"identity", "toy", "toy-wide", "toy-short"}
    wide, short = c["runs"]["toy-wide"], c["runs"]["toy-short"]
    assert wide["settings"]["width"] == 8 and wide["training"]["iterations"] == 20
    assert short["settings"]["width"] == 4 and short["training"]["iterations"] == 5
    assert wide["base"] == "toy" and wide["ablation"] == "width" and wide["label"] == "wider"
    assert short["seeds"] == [3] and wide["seeds"] == [0, 1]
    assert c["ablation_tables"]["width"] == {"reference": "toy", "rows": ["toy-wide", "toy-short"], "title": "Width"}
    assert c["main_runs"] == ["identity", "toy"]


def test_defaults_are_filled_and_training_free_runs_get_one_seed():
    c = resolve()
    assert c["runs"]["identity"]["seeds"] == [0] and not c["runs"]["identity"]["trainable"]
    assert c["runs"]["toy"]["seeds"] == [0, 1]
    assert c["runs"]["toy"]["training"]["lr"] == cfg.TRAINING_DEFAULTS["lr"]
    assert c["runs"]["toy"]["training"]["crop"] == 16
    assert c["runs"]["toy"]["settings"] == {**toy_method.ToyGAN.defaults, "width": 4}


def test_execution_keys_stay_out_of_the_run_spec_and_come_back_through_run_execution():
    """A run's spec is what Snakemake tracks: changing how a run executes must not change it."""
    c = resolve(training__threads=3, runs__toy__training={"log_every": 7, "lr": 1e-3, "amp": True})
    spec = cfg.run_spec(c, "e", "toy", 0)
    assert not set(spec["training"]) & cfg.EXECUTION_KEYS
    assert spec["training"]["lr"] == 1e-3 and spec["training"]["amp"] is True  # bf16 changes results: tracked
    assert spec == cfg.run_spec(resolve(runs__toy__training={"lr": 1e-3, "amp": True}), "e", "toy", 0)
    execution = cfg.run_execution(c, "toy")
    assert set(execution) == cfg.EXECUTION_KEYS
    assert execution["threads"] == 3 and execution["log_every"] == 7 and execution["cudnn_benchmark"] is True
    assert cfg.run_execution(c, "identity")["threads"] == 3  # training-free: the config-wide settings
    assert cfg.job_training(spec, execution) == c["runs"]["toy"]["training"]


def test_cudnn_benchmark_is_an_execution_default_a_run_can_turn_off():
    assert cfg.run_execution(resolve(), "toy")["cudnn_benchmark"] is True
    assert cfg.run_execution(resolve(training__cudnn_benchmark=False), "toy")["cudnn_benchmark"] is False
    assert cfg.run_execution(resolve(runs__toy__training={"cudnn_benchmark": False}), "toy")["cudnn_benchmark"] is False


def test_command_line_refuses_result_keys_in_execution(tmp_path, capsys):
    from cddgan.cli import main

    code = main(["efficiency", "--spec", '{"method": "identity", "settings": {}}', "--execution", '{"lr": 0.1}',
                 "--out", str(tmp_path / "e.json")])
    assert code == 1
    err = capsys.readouterr().err
    assert "--execution: unknown key(s) ['lr']" in err and "belongs in --spec" in err
    assert not (tmp_path / "e.json").exists()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"runs__toy__setings": {}}, r"unknown key `runs\.toy\.setings`"),
        ({"trainig": {}}, r"unknown key `trainig`"),
        ({"training__crop": -4}, r"`training\.crop`"),
        ({"training__iterations": "many"}, r"`training\.iterations`: expected integer"),
        ({"seeds": []}, r"`seeds`"),
        ({"runs": {}}, r"`runs`"),
        ({"runs__toy__method": "nope"}, r"unknown method 'nope'"),
        ({"runs__toy__settings": {"depth": 3}}, r"runs\.toy\.settings: unknown setting\(s\) \['depth'\]"),
        ({"experiments__e__test": ["missing"]}, r"experiments\.e\.test: unknown dataset 'missing'"),
        ({"ablations__toy-wide__settings": {"depth": 3}}, r"ablations\.toy-wide\.settings: override\(s\) \['depth'\]"),
        ({"ablations__toy-wide__base": "ghost"}, r"ablations\.toy-wide\.base: unknown run 'ghost'"),
        ({"ablations__toy-wide__training": {"epochs": 3}}, r"unknown key `ablations\.toy-wide\.training\.epochs`"),
        ({"main_runs": ["ghost"]}, r"main_runs: unknown or disabled run 'ghost'"),
        ({"datasets__synth__adapter": DELETE}, r"`datasets\.synth`: 'adapter' is a required property"),
        ({"runs__toy__command": "x {input_dir} {output_dir}"}, r"`runs\.toy`: a run needs either"),
        ({"runs__toy__method": DELETE}, r"`runs\.toy`: a run needs either"),
        ({"runs__identity__training": {"iterations": 5}},
         r"runs\.identity\.training\.iterations: method 'identity' is training-free, so nothing reads it"),
    ],
)
def test_bad_configs_name_the_key(change, expected):
    with pytest.raises(ConfigError, match=expected):
        resolve(**change)


def test_a_training_free_run_takes_its_own_execution_keys_over_the_config_wide_ones():
    config = resolve(runs__identity__training={"device": "cpu", "threads": 3}, training__threads=2)
    assert "training" not in config["runs"]["identity"]  # still training-free: no training job
    assert cfg.run_execution(config, "identity")["device"] == "cpu"
    assert cfg.run_execution(config, "identity")["threads"] == 3
    assert cfg.run_execution(resolve(training__threads=2), "identity")["threads"] == 2


def test_disabled_runs_and_their_ablations_drop_out():
    c = resolve(runs__toy__enabled=False, main_runs=["identity"])
    assert set(c["runs"]) == {"identity"}


@pytest.mark.parametrize("name", ["config.yaml", "smoke.yaml"])
def test_shipped_configs_resolve(name):
    c = cfg.load(CONFIGS_DIR / name)
    assert c["main_runs"] and all(r in c["runs"] for r in c["main_runs"])
    assert "identity" in c["runs"] and "dcp" in c["runs"]


def test_importing_the_config_package_does_not_import_torch():
    """The Snakefile imports cddgan.config on every parse; torch costs seconds and nothing there needs it."""
    code = "import cddgan.config, sys; assert 'torch' not in sys.modules, 'torch imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
