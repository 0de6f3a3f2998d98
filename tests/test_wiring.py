"""cddgan.wiring: what the rules fill in, checked without Snakemake on a resolved smoke config."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from smoke import SMOKE

from cddgan import config as cfg
from cddgan.layout import Layout
from cddgan.wiring import Untracked, Wiring


class Wildcards(SimpleNamespace):
    def items(self):
        return vars(self).items()


@pytest.fixture(scope="module")
def resolved() -> dict:
    raw = yaml.safe_load(SMOKE.read_text())
    raw["seeds"] = [0, 1, 2]
    raw["training"]["seeds_per_job"] = 2
    raw["runs"]["prog"] = {"command": "tool --in {input_dir} --out {output_dir} -j {threads} --w {weights}",
                           "train": "fit {train_hazy_dir} {train_clear_dir} {model_dir} {seed}",
                           "vars": {"weights": "/opt/w.pth"}, "resources": {"cpus": 3}}
    return json.loads(json.dumps(cfg.resolve(raw)))


@pytest.fixture
def wiring(resolved) -> Wiring:
    return Wiring(resolved, Layout("R", "P"))


def test_specs_are_tracked_and_execution_is_not(wiring, resolved):
    w = Wildcards(experiment="synthetic", run="cut", seed="1")
    spec = json.loads(wiring.run_spec(w))
    assert spec == cfg.run_spec(resolved, "synthetic", "cut", 1) and spec["seed"] == 1
    assert "threads" not in spec["training"]
    untracked = wiring.untracked_execution(w)
    assert isinstance(untracked, Untracked) and repr(untracked) == "Untracked()"
    assert json.loads(str(untracked))["threads"] == 1
    assert wiring.method_code(w) == resolved["runs"]["cut"]["code"] and len(wiring.method_code(w)) == 16
    assert json.loads(wiring.first_seed_spec(w))["seed"] == 0


def test_inputs_follow_the_run(wiring):
    manifests = ["R/data/synthetic/manifest.csv", "R/data/synthetic-dense/manifest.csv"]  # smoke: a shifted set too
    trained = wiring.test_inputs(Wildcards(experiment="synthetic", run="cut", seed="2"))
    assert trained == {"manifests": manifests, "model": "R/runs/synthetic/cut/seed2/model.pt"}
    free = wiring.test_inputs(Wildcards(experiment="synthetic", run="dcp", seed="0"))
    assert free == {"manifests": manifests}
    assert [t["dataset"] for t in json.loads(wiring.test_sets(Wildcards(experiment="synthetic")))] == [
        "synthetic", "synthetic-dense"]
    scored = wiring.evaluate_inputs(Wildcards(experiment="synthetic", run="prog", seed="0"))
    assert scored["outputs"] == [f"R/outputs/synthetic/prog/seed0/{d}" for d in ("synthetic", "synthetic-dense")]
    assert wiring.train_manifest(Wildcards(experiment="synthetic")) == "R/data/synthetic/manifest.csv"


def test_seed_groups(wiring):
    assert wiring.group_dir(Wildcards(experiment="synthetic", run="cut", seed="1")) == "R/groups/synthetic/cut/seeds0-1"
    assert wiring.group_dir(Wildcards(experiment="synthetic", run="cut", seed="2")) == "R/groups/synthetic/cut/seeds2"
    args = shlex.split(wiring.group_args(Wildcards(experiment="synthetic", run="cut", seeds="0-1")))
    assert args.count("--spec") == 2 and json.loads(args[args.index("--spec") + 1])["seed"] == 0
    assert "R/groups/synthetic/cut/seeds0-1/seed1/losses.csv" in args
    resources = wiring.group_resources()
    one = wiring.resources("train")
    w = Wildcards(experiment="synthetic", run="cut", seeds="0-1")
    assert resources["runtime"](w) == 2 * one["runtime"](w)
    assert resources["mem_mb"](w, 1) == 2 * one["mem_mb"](w, 1)


def test_command_lines_quote_harness_paths_and_keep_user_vars(wiring):
    w = Wildcards(experiment="synthetic", run="prog", seed="0", dataset="synthetic")
    line = wiring.command_line(w, "command", 3, input_dir="R/in put", output_dir="R/out", model_dir="")
    assert line == "tool --in 'R/in put' --out R/out -j 3 --w /opt/w.pth"
    train = wiring.command_line(w, "train", 1, model_dir="R/m")
    assert train == "fit R/inputs/synthetic/train/hazy R/inputs/synthetic/train/clear R/m 0"
    assert wiring.command_resource("cpus", 1)(w) == 3 and wiring.command_resource("gpus", 0)(w) == 0
    assert wiring.command_dehaze_inputs(w)["model_dir"] == "R/runs/synthetic/prog/seed0/model_dir"
    assert wiring.external_log(w, []) == "R/logs/command_dehaze/synthetic/prog/seed0/synthetic.log"
    assert wiring.command_environment("env.yml")(w) == "env.yml"


def test_the_pending_config_is_named_by_its_digest(wiring, tmp_path):
    first = wiring.pending_config(folder=tmp_path)
    assert first.endswith(f"config-{wiring.config_digest()}.yaml")
    assert yaml.safe_load(Path(first).read_text()) == wiring.config
    assert wiring.pending_config(folder=tmp_path) == first
    changed = Wiring({**wiring.config, "title": "other"}, wiring.layout)
    assert changed.pending_config(folder=tmp_path) != first
