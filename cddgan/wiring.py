"""What the Snakemake rules fill in: input functions, params, command lines and resources, as callables of
a job's wildcards, built once from the resolved config and its layout (`W = Wiring(C, L)` in common.smk).

Why a library class rather than functions in the .smk files: the rules then only wire (every value they
fill comes from here), the logic is unit-tested without Snakemake, and each rule file holds rules only,
as Snakemake's linter asks. Torch-free, like everything the Snakefile imports.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cddgan import plan
from cddgan import resources as job_resources
from cddgan.config.runs import run_execution, run_spec
from cddgan.layout import Layout

Wildcards = Any  # Snakemake's Wildcards: attribute access to the job's wildcard values


class Untracked:
    """A param that reaches the job's command line but not Snakemake's rerun check.

    Snakemake compares a job's params with those recorded at its last run and compares only builtin
    values (str, int, dict, ...), so this wrapper keeps the execution keys (device, threads, logging, CUDA
    options: cddgan.config.EXECUTION_KEYS) out of the check: changing them retrains nothing.
    `tests/test_rerun_exact.py` checks that. The repr is constant, so a Snakemake that did compare reprs
    would still see no change.
    """

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return "Untracked()"


@dataclass
class Wiring:
    """The values of one resolved config's rules."""

    config: Mapping[str, Any]
    layout: Layout

    @property
    def runs(self) -> Mapping[str, Any]:
        return self.config["runs"]

    # ---- what a run computes (tracked) and how its jobs execute (untracked) ---------------------------
    def spec_json(self, experiment: str, run: str, seed: int | str) -> str:
        """The JSON spec of one (experiment, run, seed); a param, so Snakemake reruns only what it changes."""
        return json.dumps(run_spec(self.config, experiment, run, int(seed)), sort_keys=True)

    def run_spec(self, w: Wildcards) -> str:
        return self.spec_json(w.experiment, w.run, w.seed)

    def first_seed_spec(self, w: Wildcards) -> str:
        """The spec of the run's first seed (the efficiency job measures one)."""
        return self.spec_json(w.experiment, w.run, self.runs[w.run]["seeds"][0])

    def execution_json(self, run: str) -> str:
        """The run's execution keys as JSON (`--execution` of train, train-group and efficiency)."""
        return json.dumps(run_execution(self.config, run), sort_keys=True)

    def tracked_execution(self, w: Wildcards) -> str:
        """The efficiency job's execution keys, tracked: its figures measure exactly these choices."""
        return self.execution_json(w.run)

    def untracked_execution(self, w: Wildcards) -> Untracked:
        return Untracked(self.execution_json(w.run))

    def untracked_device(self, w: Wildcards) -> Untracked:
        return Untracked(run_execution(self.config, w.run)["device"])

    def untracked_description(self, w: Wildcards) -> Untracked:
        """What a model file says about where it came from and the job does not know itself (`--describe`):
        the config's digest, the training dataset and its metric protocol. Untracked: a change of another
        run or of a label must not retrain this one."""
        dataset = self.config["experiments"][w.experiment]["train"]
        about = {"config_digest": self.config_digest(), "dataset": dataset,
                 "protocol": self.config["datasets"][dataset].get("protocol", "rgb")}
        return Untracked(json.dumps(about, sort_keys=True))

    def method_code(self, w: Wildcards) -> str:
        """The digest of the run's method source files (resolved with the config): tracked, so that editing
        them reruns the run's jobs (Snakemake itself only sees the rules' code)."""
        return str(self.runs[w.run].get("code", ""))

    # ---- inputs -------------------------------------------------------------------------------------
    def train_manifest(self, w: Wildcards) -> str:
        return self.layout.manifest(self.config["experiments"][w.experiment]["train"])

    def dataset_manifest(self, w: Wildcards) -> str:
        return self.layout.manifest(w.dataset)

    def test_manifests(self, w: Wildcards) -> list[str]:
        return [test["manifest"] for test in plan.test_sets(self.config, self.layout, w.experiment)]

    def test_sets(self, w: Wildcards) -> str:
        """The experiment's test sets as the `test` command takes them (`--tests`): dataset, manifest,
        protocol; tracked, so a change of a test set's protocol rescores."""
        return json.dumps(plan.test_sets(self.config, self.layout, w.experiment), sort_keys=True)

    def test_inputs(self, w: Wildcards) -> dict[str, Any]:
        """A method run's test job: the manifests of its test sets, and its model if it is trained."""
        inputs: dict[str, Any] = {"manifests": self.test_manifests(w)}
        if self.runs[w.run]["trainable"]:
            inputs["model"] = self.layout.model(w.experiment, w.run, w.seed)
        return inputs

    def evaluate_inputs(self, w: Wildcards) -> dict[str, Any]:
        """An external run's scoring job: the manifests and its collected outputs on every test set."""
        tests = plan.test_sets(self.config, self.layout, w.experiment)
        return {
            "manifests": [test["manifest"] for test in tests],
            "outputs": [self.layout.outputs(w.experiment, w.run, w.seed, test["dataset"]) for test in tests],
        }

    def model_argument(self, w: Wildcards, input: Any) -> str:
        """`--model PATH` for a trained run (Snakemake passes the job's inputs as `input`), else nothing."""
        has_model = "model" in input.keys()  # noqa: SIM118 (Snakemake's input is a list: `in` tests values)
        return f"--model {shlex.quote(str(input.model))}" if has_model else ""

    # ---- the config snapshot ------------------------------------------------------------------------
    def config_text(self) -> str:
        """The resolved config as YAML, as the aggregate job writes it beside the tables it describes."""
        return yaml.safe_dump(json.loads(json.dumps(self.config)), sort_keys=False)

    def config_digest(self, w: Wildcards = None) -> str:
        return hashlib.sha256(self.config_text().encode()).hexdigest()[:16]

    def pending_config(self, w: Wildcards = None, folder: str | Path = Path(".snakemake") / "cddgan") -> str:
        """The resolved config for the aggregate job, in a file named by its digest: the job copies it to
        results/ together with the tables, so a run that fails earlier leaves the last snapshot and the
        tables it describes as they were. Content-addressed, so writing it while planning is harmless."""
        from cddgan.io import write_text

        path = Path(folder) / f"config-{self.config_digest()}.yaml"
        if not path.is_file():
            write_text(path, self.config_text())
        return str(path)

    # ---- seeds trained together (training.seeds_per_job > 1) ------------------------------------------
    def group_dir(self, w: Wildcards) -> str:
        """The group folder that holds this seed's outputs."""
        seeds = plan.seed_group(self.config, w.run, w.seed)
        return self.layout.group_dir(w.experiment, w.run, plan.seeds_text(seeds))

    def group_args(self, w: Wildcards) -> str:
        """`--spec/--model/--losses/--checkpoint-dir` per seed of the group, shell-quoted."""
        args = plan.group_arguments(self.config, self.layout, w.experiment, w.run, w.seeds, self.spec_json)
        return " ".join(shlex.quote(a) for a in args)

    # ---- resources ----------------------------------------------------------------------------------
    def resources(self, kind: str, sized: bool = False) -> dict[str, Any]:
        """A rule's `resources:` for its kind of job (train, inference, light); see cddgan/resources.py.
        `sized`: memory and wall time also follow the test images of the rule's `input.manifest`."""
        return job_resources.rule_resources(self.config, kind, sized)

    def group_resources(self) -> dict[str, Any]:
        """A training group's resources: a training job's, with runtime and memory for every seed."""
        base = self.resources("train")
        out = dict(base)
        out["runtime"] = lambda w: int(base["runtime"](w)) * len(w.seeds.split("-"))
        out["mem_mb"] = lambda w, attempt: int(base["mem_mb"](w, attempt)) * len(w.seeds.split("-"))
        return out

    def train_priority(self, w: Wildcards) -> int:
        """Longest trainings first (Snakemake runs higher priorities first): the sweep then ends on short
        jobs that fill the cores, not on one long training that leaves them idle. A relative cost, scaled
        so that CDD-GAN at the default scale is about 60."""
        return max(1, round(job_resources.training_cost(self.runs[w.run]) / 1e9))

    def threads(self, kind: str) -> Callable[[Wildcards], int]:
        """A rule's `threads:` (the job's CPUs; SLURM's --cpus-per-task)."""
        return job_resources.rule_threads(self.config, kind)

    # ---- external programs --------------------------------------------------------------------------
    def command_environment(self, default: str) -> Callable[[Wildcards], str]:
        """The conda env of a command run: its `environment:` file, or `default` (the harness's own)."""

        def environment(w: Wildcards) -> str:
            env = self.runs[w.run].get("environment")
            return str(Path(env).resolve()) if env else default

        return environment

    def command_line(self, w: Wildcards, key: str, threads: int = 1, **paths: str) -> str:
        """The run's `command`/`train`/`setup` template filled with quoted paths and its `vars`;
        `{threads}` is the job's threads (the run's `resources: {cpus: N}`, SLURM's --cpus-per-task)."""
        from cddgan.external import format_command

        run = self.runs[w.run]
        values = plan.command_values(
            self.config, self.layout, w.run, key, getattr(w, "experiment", None), getattr(w, "seed", 0), threads,
            **paths,
        )
        return format_command(run[key], values, run.get("vars", {}))

    def setup_input(self, run: str) -> list[str]:
        return [self.layout.setup_done(run)] if self.runs[run].get("setup") else []

    def command_train_inputs(self, w: Wildcards) -> dict[str, Any]:
        train = self.config["experiments"][w.experiment]["train"]
        return {"train": self.layout.staged_train_inputs(train), "setup": self.setup_input(w.run)}

    def command_dehaze_inputs(self, w: Wildcards) -> dict[str, Any]:
        inputs: dict[str, Any] = {"inputs": self.layout.staged_test_inputs(w.dataset), "setup": self.setup_input(w.run)}
        if self.runs[w.run]["trainable"]:
            inputs["model_dir"] = self.layout.model_dir(w.experiment, w.run, w.seed)
        return inputs

    def command_resource(self, name: str, default: Any) -> Callable[[Wildcards], Any]:
        """One of a command run's own `resources:`, or `default`."""
        return lambda w: self.runs[w.run].get("resources", {}).get(name, default)

    def external_log(self, w: Wildcards, rules: Sequence[Any]) -> str:
        """The log of the program (or the user's rule, found among Snakemake's `rules` as the one whose
        output is the run's raw folder) that wrote a run's raw outputs: named in collect's errors."""
        from snakemake.io import strip_wildcard_constraints

        if plan.kind(self.config, w.run) == "command":
            return self.layout.log("command_dehaze", experiment=w.experiment, run=w.run, seed=w.seed, dataset=w.dataset)
        pattern = self.layout.raw_outputs("{experiment}", w.run, "{seed}", "{dataset}")
        for candidate in rules:
            if pattern in [strip_wildcard_constraints(str(out)) for out in candidate.output]:
                if candidate.log:
                    try:
                        return str(candidate.log[0]).format(**dict(w.items()))
                    except (KeyError, IndexError, ValueError):
                        break
                return f"none: your {candidate.name!r} declares no log; add a `log` directive to it"
        return f"the log of your rule for run {w.run} (workflow/rules/extra/)"
