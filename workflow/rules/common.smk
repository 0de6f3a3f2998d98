# Configuration, validation and the target lists every other rule file uses.
import json
import os
import re
import shlex
import sys
from pathlib import Path

import yaml
from snakemake.io import strip_wildcard_constraints

from cddgan import config as cddgan_config
from cddgan.errors import ConfigError

REPO = Path(workflow.basedir)
DEFAULT_CONFIG = REPO / "config" / "config.yaml"
CONDA_ENV = str(REPO / "environment.yml")


# Jobs run this checkout's code (`python3 -m cddgan`), whichever environment (venv, conda env) provides
# the dependencies; job processes inherit this, on the local executor and through SLURM alike.
# `python3` in the rules is this Snakemake's interpreter (first on PATH), or the rule's env with --use-conda.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))
if "conda" not in str(getattr(workflow.deployment_settings, "deployment_method", "")).lower():
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])


envvars:
    "PYTHONPATH",
    "PATH",


# Without --configfile the embedded default applies, with any --config overrides merged on top.
if "datasets" not in config:
    _overrides = dict(config)
    config.clear()
    config.update(cddgan_config._merge(cddgan_config.load_yaml(DEFAULT_CONFIG), _overrides))

try:
    for _configfile in workflow.configfiles:  # Snakemake's loader drops a key given twice without a word
        if str(_configfile).endswith((".yaml", ".yml")):
            cddgan_config.load_yaml(_configfile)
    C = cddgan_config.resolve(config)
    cddgan_config.check_dataset_roots(C)
except ConfigError as _error:
    sys.stderr.write(f"\nConfig error (nothing was run):\n{_error}\n\n")
    raise SystemExit(1)

RESULTS = C["results"]
REPORTS = C["reports"]
RUNS = C["runs"]
EXPERIMENTS = C["experiments"]
DATASETS = C["datasets"]

if C.get("published") and not Path(C["published"]).is_absolute() and not Path(C["published"]).exists():
    C["published"] = str(Path(workflow.basedir) / C["published"])


def check_extra_rule_names(extras, harness_files):
    """Stop with the user's file named when one of its rules takes a name the harness uses."""
    pattern = re.compile(r"^(?:rule|checkpoint)\s+(\w+)\s*:", re.MULTILINE)
    ours = {name: path for path in harness_files for name in pattern.findall(Path(path).read_text())}
    for extra in extras:
        for name in pattern.findall(Path(extra).read_text()):
            if name in ours:
                sys.stderr.write(
                    f"\nConfig error (nothing was run):\n{extra}: rule {name!r} clashes with the harness's rule of "
                    f"that name ({Path(ours[name]).relative_to(REPO)}); give yours another name\n\n"
                )
                raise SystemExit(1)


def _alternatives(names):
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))




def manifest(dataset):
    return f"{RESULTS}/data/{dataset}/manifest.csv"


def spec_json(experiment, run, seed):
    """The JSON spec of one (experiment, run, seed); a param, so Snakemake reruns only what it changes."""
    return json.dumps(cddgan_config.run_spec(C, experiment, run, int(seed)), sort_keys=True)


def run_spec(wildcards):
    return spec_json(wildcards.experiment, wildcards.run, wildcards.seed)


class Untracked:
    """A param that reaches the job's command line but not Snakemake's rerun check.

    Snakemake compares a job's params with those recorded at its last run and compares only builtin
    values (str, int, dict, ...), so this wrapper keeps the execution keys (device, threads, logging, CUDA
    options: cddgan.config.EXECUTION_KEYS) out of the check: changing them retrains nothing.
    `tests/test_rerun_exact.py` checks that. The repr is constant, so a Snakemake that did compare reprs
    would still see no change.
    """

    def __init__(self, text):
        self.text = text

    def __str__(self):
        return self.text

    def __repr__(self):
        return "Untracked()"


def config_text():
    """The resolved config as YAML: results/config.resolved.yaml, which the report reads."""
    return yaml.safe_dump(C, sort_keys=False)


def config_digest():
    import hashlib

    return hashlib.sha256(config_text().encode()).hexdigest()[:16]


def execution_json(run):
    """The run's execution keys as JSON (`--execution` of train, train-group and efficiency)."""
    return json.dumps(cddgan_config.run_execution(C, run), sort_keys=True)


def untracked_execution(wildcards):
    return Untracked(execution_json(wildcards.run))


def method_code(wildcards):
    """The digest of the run's method source files: tracked, so that editing them reruns the run."""
    from cddgan.methods import source_digest

    return source_digest(RUNS[wildcards.run]["method"])


def untracked_device(wildcards):
    return Untracked(cddgan_config.run_execution(C, wildcards.run)["device"])


def checkpoint_dir(experiment, run, seed):
    """Where a seed's training keeps its checkpoint: outside the outputs, so a killed job resumes."""
    return f"{RESULTS}/checkpoints/{experiment}/{run}/seed{seed}"


def status_file(experiment, run, seed):
    """Where a diverged seed is recorded (read by cddgan.report.results)."""
    return f"{RESULTS}/status/{experiment}/{run}/seed{seed}.failed"


def jobs():
    """Every (experiment, run, seed, test dataset) the config asks for."""
    for experiment, spec in EXPERIMENTS.items():
        for run, run_cfg in RUNS.items():
            for seed in run_cfg["seeds"]:
                for dataset in spec["test"]:
                    yield experiment, run, seed, dataset


def metric_files():
    return [f"{RESULTS}/metrics/{e}/{r}/seed{s}/{d}.csv" for e, r, s, d in jobs()]


def loss_files():
    return [
        f"{RESULTS}/runs/{e}/{r}/seed{s}/losses.csv"
        for e in EXPERIMENTS
        for r, cfg in RUNS.items()
        if cfg["trainable"] and cfg.get("kind") == "method"
        for s in cfg["seeds"]
    ]


def efficiency_files():
    return [f"{RESULTS}/efficiency/{e}/{r}.json" for e in EXPERIMENTS for r in RUNS if RUNS[r].get("kind") == "method"]


from cddgan import resources as cddgan_resources


def train_resources(run):
    """Scheduler resources of a training job: the estimate of cddgan/resources.py, config, run's own."""
    return cddgan_resources.train_resources(C, run)


def job_resources(kind, sized=False):
    """A rule's `resources:` for its kind of job (train, inference, light); see cddgan/resources.py.
    `sized`: memory and wall time also follow the test images of the rule's `input.manifest`."""
    return cddgan_resources.rule_resources(C, kind, sized)


def job_threads(kind):
    """A rule's `threads:` (the job's CPUs; SLURM's --cpus-per-task)."""
    return cddgan_resources.rule_threads(C, kind)


def dehaze_inputs(w):
    inputs = {"manifest": manifest(w.dataset)}
    if RUNS[w.run]["trainable"]:
        inputs["model"] = f"{RESULTS}/runs/{w.experiment}/{w.run}/seed{w.seed}/model.pt"
    return inputs


# ---- External baselines: command templates in the config, user rules in workflow/rules/extra/*.smk


NO_MATCH = "(?!)"  # a wildcard constraint that matches nothing (no runs of that kind)
COMMAND_RUNS = [name for name, run in RUNS.items() if run.get("kind") == "command"]
RULE_RUNS = []  # filled by register_rule_baseline() in workflow/rules/extra/*.smk


def method_runs():
    return [name for name, run in RUNS.items() if run.get("kind", "method") == "method"]


def external_runs():
    return COMMAND_RUNS + RULE_RUNS


def register_rule_baseline(name, label=None, seeds=None):
    """Declare a run produced by a user's own rule; returns its raw output pattern (a directory).

    The rule must write one image per file of `staged_test_inputs()` (same stem, same size) into that
    directory; the harness checks, converts, scores and reports it like any other run.
    """
    if name in RUNS:
        raise ValueError(f"workflow/rules/extra: run name {name!r} is already used by the config")
    RUNS[name] = {
        "kind": "rule",
        "method": "rule",
        "label": label or name,
        "trainable": False,
        "settings": {},
        "seeds": list(seeds or C["seeds"][:1]),
        "resources": {},
    }
    if name not in C["main_runs"]:
        C["main_runs"].append(name)
    RULE_RUNS.append(name)
    return raw_outputs(name)


def raw_outputs(run):
    """The directory a run's external program (or user rule) writes, per experiment, seed and dataset."""
    return f"{RESULTS}/raw/{{experiment}}/{run}/seed{{seed}}/{{dataset}}"


def staged_test_inputs(dataset="{dataset}"):
    """The staged hazy test images of a dataset: `<image_id>.png`, 8-bit RGB."""
    return f"{RESULTS}/inputs/{dataset}/test_hazy"


def command_environment(wildcards):
    """The conda env of a command run: its `environment:` file, or the harness's own."""
    env = RUNS[wildcards.run].get("environment")
    return str(Path(env).resolve()) if env else CONDA_ENV


def command_line(wildcards, key, threads=1, **paths):
    """The run's `command`/`train`/`setup` template filled with quoted paths and its `vars`;
    `{threads}` is the job's threads (the run's `resources: {cpus: N}`, SLURM's --cpus-per-task)."""
    from cddgan.external import format_command

    run = RUNS[wildcards.run]
    values = {
        "seed": getattr(wildcards, "seed", 0),
        "threads": threads,
        "setup_dir": f"{RESULTS}/external/{wildcards.run}/setup",
        **paths,
    }
    if key == "train":
        train = EXPERIMENTS[wildcards.experiment]["train"]
        values["train_hazy_dir"] = f"{RESULTS}/inputs/{train}/train/hazy"
        values["train_clear_dir"] = f"{RESULTS}/inputs/{train}/train/clear"
    return format_command(run[key], values, run.get("vars", {}))


def _setup_input(run):
    return [f"{RESULTS}/external/{run}/setup.done"] if RUNS[run].get("setup") else []


def command_train_inputs(w):
    train = EXPERIMENTS[w.experiment]["train"]
    return {"train": f"{RESULTS}/inputs/{train}/train", "setup": _setup_input(w.run)}


def command_dehaze_inputs(w):
    inputs = {"inputs": staged_test_inputs(w.dataset), "setup": _setup_input(w.run)}
    if RUNS[w.run]["trainable"]:
        inputs["model_dir"] = f"{RESULTS}/runs/{w.experiment}/{w.run}/seed{w.seed}/model_dir"
    return inputs


def command_resource(name, default):
    return lambda w: RUNS[w.run].get("resources", {}).get(name, default)


def external_log(w):
    """The log of the program (or rule) that wrote a run's raw outputs, named in collect's errors."""
    if w.run in COMMAND_RUNS:
        return f"{RESULTS}/logs/command_dehaze/{w.experiment}/{w.run}/seed{w.seed}/{w.dataset}.log"
    pattern = raw_outputs(w.run)
    for candidate in workflow.rules:  # the user's rule is the one whose output is the run's raw folder
        if pattern in [strip_wildcard_constraints(str(out)) for out in candidate.output]:
            if candidate.log:
                try:
                    return str(candidate.log[0]).format(**dict(w.items()))
                except (KeyError, IndexError, ValueError):
                    break
            return f"none: your {candidate.name!r} declares no log; add a `log` directive to it"
    return f"the log of your rule for run {w.run} (workflow/rules/extra/)"


# ---- Seeds trained together (training.seeds_per_job > 1): rules train_group and train_member


def seeds_per_job(run):
    return int(RUNS[run].get("training", {}).get("seeds_per_job", 1))


GROUPED_RUNS = [r for r in method_runs() if RUNS[r]["trainable"] and seeds_per_job(r) > 1]


def seed_group(run, seed):
    """The seeds trained in one job with `seed`: consecutive chunks of the run's seeds."""
    seeds, size = list(RUNS[run]["seeds"]), seeds_per_job(run)
    first = seeds.index(int(seed)) // size * size
    return seeds[first : first + size]


def group_folder(experiment, run, seeds):
    """The output folder of rule train_group for `seeds`, e.g. "0-1-2-3"."""
    return f"{RESULTS}/groups/{experiment}/{run}/seeds{seeds}"


def group_dir(w):
    return group_folder(w.experiment, w.run, "-".join(str(s) for s in seed_group(w.run, w.seed)))


def group_args(w):
    """`--spec/--model/--losses/--checkpoint-dir/--status` per seed of the group, shell-quoted."""
    parts = []
    for seed in (int(s) for s in w.seeds.split("-")):
        out = f"{group_folder(w.experiment, w.run, w.seeds)}/seed{seed}"
        parts += ["--spec", spec_json(w.experiment, w.run, seed)]
        parts += ["--model", f"{out}/model.pt", "--losses", f"{out}/losses.csv"]
        parts += ["--checkpoint-dir", checkpoint_dir(w.experiment, w.run, seed)]
        parts += ["--status", status_file(w.experiment, w.run, seed)]
    return " ".join(shlex.quote(p) for p in parts)


def group_resources():
    """A training job's resources, with runtime and memory for every seed of the group."""
    base = job_resources("train")
    out = dict(base)
    out["runtime"] = lambda w: int(base["runtime"](w)) * len(w.seeds.split("-"))
    out["mem_mb"] = lambda w, attempt: int(base["mem_mb"](w, attempt)) * len(w.seeds.split("-"))
    return out
