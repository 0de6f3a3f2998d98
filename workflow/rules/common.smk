# Configuration, globals and the input functions every rule file uses. The logic behind them lives in the
# library: cddgan.config (load, validate, resolve), cddgan.layout (every path), cddgan.plan (jobs, groups,
# command values), cddgan.resources (what a job asks the scheduler for). Nothing here imports torch.
import json
import os
import sys
from pathlib import Path

import yaml

from cddgan import config as cddgan_config
from cddgan import plan
from cddgan import resources as cddgan_resources
from cddgan.data.fingerprint import dataset_fingerprint
from cddgan.errors import ConfigError
from cddgan.layout import Layout

REPO = Path(workflow.basedir)
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
    config.update(cddgan_config.merge(cddgan_config.load_yaml(cddgan_config.DEFAULT_CONFIG), _overrides))

try:
    for _configfile in workflow.configfiles:  # Snakemake's loader drops a key given twice without a word
        if str(_configfile).endswith((".yaml", ".yml")):
            cddgan_config.load_yaml(_configfile)
    # Resolution imports every method (and so torch); its result is cached under .snakemake/ by the
    # digest of the config and of the code it depends on, so a parse of an unchanged workflow does not.
    C = cddgan_config.resolve_cached(config, Path(".snakemake") / "cddgan")
    cddgan_config.check_dataset_roots(C)
except ConfigError as _error:
    sys.stderr.write(f"\nConfig error (nothing was run):\n{_error}\n\n")
    raise SystemExit(1)

L = Layout.of(C)
RUNS = C["runs"]
EXPERIMENTS = C["experiments"]
DATASETS = C["datasets"]


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


def spec_json(experiment, run, seed):
    """The JSON spec of one (experiment, run, seed); a param, so Snakemake reruns only what it changes."""
    return json.dumps(cddgan_config.run_spec(C, experiment, run, int(seed)), sort_keys=True)


def run_spec(wildcards):
    return spec_json(wildcards.experiment, wildcards.run, wildcards.seed)


def execution_json(run):
    """The run's execution keys as JSON (`--execution` of train, train-group and efficiency)."""
    return json.dumps(cddgan_config.run_execution(C, run), sort_keys=True)


def untracked_execution(wildcards):
    return Untracked(execution_json(wildcards.run))


def untracked_device(wildcards):
    return Untracked(cddgan_config.run_execution(C, wildcards.run)["device"])


def method_code(wildcards):
    """The digest of the run's method source files (resolved with the config): tracked, so that editing
    them reruns the run's jobs (Snakemake itself only sees the rules' code)."""
    return RUNS[wildcards.run].get("code", "")


def config_text():
    """The resolved config as YAML, as the aggregate job writes it beside the tables it describes."""
    return yaml.safe_dump(C, sort_keys=False)


def config_digest():
    import hashlib

    return hashlib.sha256(config_text().encode()).hexdigest()[:16]


def pending_config(wildcards):
    """The resolved config for the aggregate job, in a file named by its digest under .snakemake/: the
    job copies it to results/ together with the tables, so a run that fails earlier leaves the last
    snapshot and the tables it describes as they were."""
    from cddgan.io import write_text

    path = Path(".snakemake") / "cddgan" / f"config-{config_digest()}.yaml"
    if not path.is_file():
        write_text(path, config_text())
    return str(path)


def train_manifest(wildcards):
    return L.manifest(EXPERIMENTS[wildcards.experiment]["train"])


def dataset_manifest(wildcards):
    return L.manifest(wildcards.dataset)


def dehaze_inputs(wildcards):
    inputs = {"manifest": dataset_manifest(wildcards)}
    if RUNS[wildcards.run]["trainable"]:
        inputs["model"] = L.model(wildcards.experiment, wildcards.run, wildcards.seed)
    return inputs


def job_resources(kind, sized=False):
    """A rule's `resources:` for its kind of job (train, inference, light); see cddgan/resources.py.
    `sized`: memory and wall time also follow the test images of the rule's `input.manifest`."""
    return cddgan_resources.rule_resources(C, kind, sized)


def job_threads(kind):
    """A rule's `threads:` (the job's CPUs; SLURM's --cpus-per-task)."""
    return cddgan_resources.rule_threads(C, kind)
