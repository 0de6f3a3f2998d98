"""Load, validate and resolve the harness configuration.

Three steps, each with errors that name the config key:

1. structural validation against the shipped schema, `cddgan/schemas/config.schema.yaml` (jsonschema):
   types, ranges, unknown keys (`schema.py`);
2. semantic checks: methods exist, their settings are known keys, ablations override only keys their base
   run has, experiments name datasets that exist (`settings.py`, `datasets.py`, `commands.py`);
3. resolution: defaults filled in and every ablation expanded into a run of its own, so that the rules and
   the report only ever see a flat `runs` mapping (`resolve.py`). The resolved config is what the report
   snapshots. `runs.py` splits a resolved run into what it computes and how its jobs execute.

`cache.py` gives the Snakefile the same resolution without importing torch: cached on disk, resolved in
a child process (`__main__.py`) on a miss.
"""

from __future__ import annotations

from cddgan.config.cache import resolve_cached
from cddgan.config.commands import COMMAND_PLACEHOLDERS
from cddgan.config.datasets import check_dataset, check_dataset_roots
from cddgan.config.defaults import EXECUTION_DEFAULTS, EXECUTION_KEYS, TOP_DEFAULTS, TRAINING_DEFAULTS
from cddgan.config.files import load_yaml, parse_yaml
from cddgan.config.resolve import load, merge, resolve
from cddgan.config.runs import computed_training, job_training, run_execution, run_spec
from cddgan.config.schema import validate_schema
from cddgan.config.settings import check_setting_types
from cddgan.config.shipped import CONFIGS_DIR, DEFAULT_CONFIG, SCHEMA_PATH, locate

__all__ = [
    "COMMAND_PLACEHOLDERS",
    "CONFIGS_DIR",
    "DEFAULT_CONFIG",
    "EXECUTION_DEFAULTS",
    "EXECUTION_KEYS",
    "SCHEMA_PATH",
    "TOP_DEFAULTS",
    "TRAINING_DEFAULTS",
    "check_dataset",
    "check_dataset_roots",
    "check_setting_types",
    "computed_training",
    "job_training",
    "load",
    "load_yaml",
    "locate",
    "merge",
    "parse_yaml",
    "resolve",
    "resolve_cached",
    "run_execution",
    "run_spec",
    "validate_schema",
]
