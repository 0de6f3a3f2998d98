# Configuration, validation and the target lists every other rule file uses.
import json
import os
import re
import sys
from pathlib import Path

import yaml

from cddgan import config as cddgan_config
from cddgan.errors import ConfigError

REPO = Path(workflow.basedir)
DEFAULT_CONFIG = REPO / "config" / "config.yaml"
CONDA_ENV = str(REPO / "environment.yml")


# Jobs run this checkout's code (`python -m cddgan`), whichever environment (venv, conda env) provides
# the dependencies; job processes inherit this, on the local executor and through SLURM alike.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))


envvars:
    "PYTHONPATH",


# Without --configfile the embedded default applies, with any --config overrides merged on top.
if "datasets" not in config:
    _overrides = dict(config)
    config.clear()
    config.update(cddgan_config._merge(cddgan_config.load_yaml(DEFAULT_CONFIG), _overrides))

try:
    C = cddgan_config.resolve(config)
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


def _alternatives(names):
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


wildcard_constraints:
    dataset=_alternatives(DATASETS),
    experiment=_alternatives(EXPERIMENTS),
    run=_alternatives(RUNS),
    seed=r"\d+",


def manifest(dataset):
    return f"{RESULTS}/data/{dataset}/manifest.csv"


def run_spec(wildcards):
    """The JSON spec of one (experiment, run, seed); a param, so Snakemake reruns only what it changes."""
    return json.dumps(
        cddgan_config.run_spec(C, wildcards.experiment, wildcards.run, int(wildcards.seed)), sort_keys=True
    )


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
        if cfg["trainable"]
        for s in cfg["seeds"]
    ]


def efficiency_files():
    return [f"{RESULTS}/efficiency/{e}/{r}.json" for e in EXPERIMENTS for r in RUNS]


def train_resources(run):
    """Scheduler resources of a training job: config defaults, overridden by the run's own."""
    merged = {"gpu_slots": 0, "mem_mb": 4000, "cpus": 1, "runtime": 60}
    merged.update(C.get("resources", {}).get("train", {}))
    merged.update(RUNS[run].get("resources", {}))
    return merged


def dehaze_inputs(w):
    inputs = {"manifest": manifest(w.dataset)}
    if RUNS[w.run]["trainable"]:
        inputs["model"] = f"{RESULTS}/runs/{w.experiment}/{w.run}/seed{w.seed}/model.pt"
    return inputs
