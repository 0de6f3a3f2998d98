# Configuration and the globals every rule file uses. The logic behind them lives in the library:
# cddgan.config (load, validate, resolve), cddgan.layout (every path), cddgan.plan (jobs, groups, command
# values), cddgan.wiring (the rules' input functions, params and resources). Nothing here imports torch.
import json
import os
import sys
from pathlib import Path

from cddgan import config as cddgan_config
from cddgan import plan
from cddgan.data.fingerprint import dataset_fingerprint
from cddgan.errors import ConfigError
from cddgan.external import STAGED_IMAGES
from cddgan.layout import COMMAND_FAILED, TABLES, Layout
from cddgan.wiring import Wiring

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
RESULTS = L.results  # the results folder: part of the interface of a user's rule files (docs/adding-a-baseline.md)
W = Wiring(C, L)  # every input function, param and resource of the rules (cddgan/wiring.py)
RUNS = C["runs"]
EXPERIMENTS = C["experiments"]
DATASETS = C["datasets"]
