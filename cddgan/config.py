"""Load, validate and resolve the harness configuration.

Three steps, each with errors that name the config key:

1. structural validation against `workflow/schemas/config.schema.yaml` (jsonschema): types, ranges,
   unknown keys;
2. semantic checks: methods exist, their settings are known keys, ablations override only keys their base
   run has, experiments name datasets that exist;
3. resolution: defaults filled in and every ablation expanded into a run of its own, so that the rules and
   the report only ever see a flat `runs` mapping. The resolved config is what the report snapshots.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cddgan.errors import ConfigError
from cddgan.methods import load_plugins, method_class, resolve_settings

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"
DEFAULT_CONFIG = REPO_ROOT / "config" / "config.yaml"

# Defaults of the shared training loop; a run's own `training:` overrides any of them.
TRAINING_DEFAULTS: dict[str, Any] = {
    "iterations": 1000,
    "batch_size": 1,
    "crop": 256,
    "load_size": None,
    "flip": True,
    "lr": 2e-4,
    "beta1": 0.5,
    "beta2": 0.999,
    "decay_start": 0.5,
    "checkpoint_every": 500,
    "log_every": 10,
    "device": "auto",
    "amp": False,
    "channels_last": False,
    "compile": False,
    "fused_adam": False,
    "cuda_graph": False,
    "cudnn_benchmark": True,
    "seeds_per_job": 1,
    "threads": None,
    "workers": 0,
    "cache_images": "auto",
    "efficiency_iterations": 5,
}

# Training keys that say how a run executes, not what it computes. They change a trained model at most by
# float rounding and the device's random streams (device, threads, fused kernels, graph replay, cuDNN's
# algorithm choice) or not at all (logging, checkpoint cadence, image decoding, the efficiency job's
# repeats). They stay out of the run spec that Snakemake tracks and that fingerprints a checkpoint, so
# changing them, or adding such a key here, retrains nothing and a resubmitted job resumes. The efficiency
# job, which measures exactly these choices, does track them. `amp` (bf16) and `seeds_per_job` (a seed's
# random draws depend on its group) change results and are part of the spec.
EXECUTION_KEYS: frozenset[str] = frozenset(
    {
        "checkpoint_every",
        "log_every",
        "device",
        "threads",
        "workers",
        "cache_images",
        "channels_last",
        "compile",
        "fused_adam",
        "cuda_graph",
        "cudnn_benchmark",
        "efficiency_iterations",
    }
)
EXECUTION_DEFAULTS: dict[str, Any] = {key: TRAINING_DEFAULTS[key] for key in sorted(EXECUTION_KEYS)}

TOP_DEFAULTS: dict[str, Any] = {
    "title": "cddgan-bench",
    "results": "results",
    "reports": "reports",
    "seeds": [0],
    "plugins": [],
    "ablations": {},
    "ablation_tables": {},
    "published": "config/published.yaml",
    "metrics": {"weights": {}},
    "report": {"visual_images": 4, "zoom": [0.5, 0.5, 0.25]},
    "resources": {},
}


class _DuplicateKey(yaml.YAMLError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys without a word, so a run or dataset defined twice would
    silently replace the first; this loader refuses it."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`, whose keys the mapping may override
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                continue
            if key in seen:
                raise _DuplicateKey(
                    f"key {key!r} appears twice in one mapping (lines {seen[key] + 1} and "
                    f"{key_node.start_mark.line + 1}); YAML would keep only the second: rename or merge them"
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def parse_yaml(path: Path) -> Any:
    """Parse a YAML file; a syntax error or a key given twice becomes a ConfigError naming the file."""
    try:
        return yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # a SafeLoader: plain data only
    except _DuplicateKey as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc


def load_yaml(path: str | Path) -> dict:
    """Read a YAML config file, with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    data = parse_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
    return data


def _schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _key(path: Any) -> str:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else "(top level)"


def _describe(error: ValidationError) -> str:
    """One line per schema violation: the key, what is wrong and what is allowed."""
    key = _key(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        where = f"{key}." if error.absolute_path else ""
        names = ", ".join(f"`{where}{e}`" for e in extra)
        return f"unknown key {names}; allowed keys here: {', '.join(allowed)}"
    if error.validator == "oneOf" and key.startswith("runs."):
        return (
            f"`{key}`: a run needs either `method:` (a registered Python method, with optional `settings:` and "
            "`training:`) or `command:` (an external program, with optional `train:`, `setup:`, `vars:`, "
            "`environment:`), not both"
        )
    if error.validator == "required":
        return f"`{key}`: {error.message}"
    if error.validator == "type":
        return f"`{key}`: expected {error.validator_value}, got {json.dumps(error.instance)}"
    if error.validator == "pattern":
        return f"`{key}`: {json.dumps(error.instance)} is not a valid name (letters, digits, _ . + -)"
    return f"`{key}`: {error.message}"


def validate_schema(config: Mapping) -> None:
    """Raise ConfigError listing every schema violation (each naming its key)."""
    # imported here: the training loop, the benchmarks and the GPU tests read only the defaults of this
    # module and run where jsonschema may be missing (the lent GPU machines' image)
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        lines = sorted({_describe(e) for e in errors})
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(lines))


def _merge(base: Mapping, override: Mapping) -> dict:
    """Recursive dict merge: `override` wins; lists and scalars are replaced, not merged."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _check_overrides(overrides: Mapping, known: Mapping, where: str) -> None:
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ConfigError(
            f"{where}: override(s) {unknown} do not exist in the base run; allowed: {', '.join(sorted(known))}"
        )


COMMAND_PLACEHOLDERS = {
    "command": ("input_dir", "output_dir", "model_dir", "seed", "threads", "setup_dir"),
    "train": ("train_hazy_dir", "train_clear_dir", "model_dir", "seed", "threads", "setup_dir"),
    "setup": ("setup_dir", "threads"),
}


def _check_template(template: str, allowed: tuple[str, ...], variables: Mapping, where: str) -> None:
    """Every {placeholder} in a command template must be known; literal braces are written {{ }}."""
    import string

    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ConfigError(f"{where}: malformed template ({exc}); write literal braces as {{{{ }}}}") from exc
    unknown = sorted(f for f in fields if f not in allowed and f not in variables)
    if unknown:
        raise ConfigError(
            f"{where}: unknown placeholder(s) {unknown}; allowed: {', '.join(allowed)}"
            + (f", and vars: {', '.join(sorted(variables))}" if variables else " (add others under `vars:`)")
        )


def _resolve_command_run(name: str, spec: Mapping, config: Mapping, where: str) -> dict:
    """An external program as a baseline: its templates are checked now, run by workflow/rules/external.smk."""
    variables = dict(spec.get("vars", {}))
    for key in ("command", "train", "setup"):
        if spec.get(key):
            _check_template(spec[key], COMMAND_PLACEHOLDERS[key], variables, f"{where}.{key}")
    if "{output_dir}" not in spec["command"] or "{input_dir}" not in spec["command"]:
        raise ConfigError(f"{where}.command: the template must use both {{input_dir}} and {{output_dir}}")
    trainable = bool(spec.get("train"))
    seeds = list(spec.get("seeds", config["seeds"]))
    return {
        "kind": "command",
        "method": "command",
        "label": spec.get("label", name),
        "trainable": trainable,
        "settings": {},
        "seeds": seeds if trainable else seeds[:1],
        "resources": dict(spec.get("resources", {})),
        "command": spec["command"],
        "train": spec.get("train"),
        "setup": spec.get("setup"),
        "vars": variables,
        "environment": spec.get("environment"),
    }


def _resolve_run(name: str, spec: Mapping, config: Mapping, where: str) -> dict:
    if "command" in spec:
        return _resolve_command_run(name, spec, config, where)
    try:
        cls = method_class(spec["method"])
    except ConfigError as exc:
        raise ConfigError(f"{where}.method: {exc}") from exc
    settings = resolve_settings(cls, spec.get("settings"), f"{where}.settings")
    check_setting_types(cls.defaults, settings, f"{where}.settings")
    run = {
        "kind": "method",
        "method": cls.name,
        "label": spec.get("label", name),
        "trainable": bool(cls.trainable),
        "settings": settings,
        "seeds": list(spec.get("seeds", config["seeds"])),
        "resources": dict(spec.get("resources", {})),
    }
    if cls.trainable:
        run["training"] = _merge(config["training"], spec.get("training", {}))
    else:
        # Training-free methods are deterministic: one seed is the whole story.
        run["seeds"] = run["seeds"][:1]
        own = dict(spec.get("training") or {})
        unused = sorted(set(own) - EXECUTION_KEYS)
        if unused:
            raise ConfigError(
                f"{where}.training.{unused[0]}: method {cls.name!r} is training-free, so nothing reads it; "
                f"remove it (only how its jobs run may be set here: {', '.join(sorted(EXECUTION_KEYS))})"
            )
        if own:
            run["execution"] = own
    return run


def _kind(value: Any) -> str | None:
    """The type family a setting's default fixes for it (None: anything goes)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    return None


def _fits(value: Any, kind: str) -> bool:
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return _kind(value) == kind


def check_setting_types(defaults: Mapping, settings: Mapping, where: str) -> None:
    """A method setting keeps the type of its default (an integer may stand for a number), and a number
    whose default is >= 0 may not be negative: a typo fails here, not hours later inside a job."""
    for key, default in defaults.items():
        value, kind = settings[key], _kind(default)
        items = [(f"{where}.{key}", value, default, kind)]
        if kind == "list" and _fits(value, "list") and default and len({_kind(d) for d in default}) == 1:
            items = [(f"{where}.{key}.{i}", v, min(default), _kind(default[0])) for i, v in enumerate(value)]
        for path, item, reference, item_kind in items:
            if item_kind is None:
                continue
            if not _fits(item, item_kind):
                raise ConfigError(f"`{path}`: expected {item_kind} (the default is {default!r}), got {item!r}")
            if item_kind in ("integer", "number") and reference >= 0 and item < 0:
                raise ConfigError(f"`{path}`: must not be negative (the default is {default!r}), got {item!r}")


def check_dataset(name: str, spec: Mapping) -> None:
    """The dataset's adapter exists, its keys are ones that adapter reads, its protocol is known, and a
    synthetic dataset's parameters are valid: checked before any job starts (the jobs check them again)."""
    from cddgan.data.adapters import ADAPTERS
    from cddgan.data.synthetic import validate_params
    from cddgan.protocols import Protocol

    where = f"datasets.{name}"
    adapter = ADAPTERS.get(spec["adapter"])
    if adapter is None:
        raise ConfigError(
            f"{where}.adapter: {spec['adapter']!r} is not a known adapter; choose one of {', '.join(ADAPTERS)}"
        )
    if adapter.find is None:
        validate_params(name, spec)
    else:
        unknown = sorted(set(spec) - set(adapter.allowed_keys))
        if unknown:
            raise ConfigError(
                f"{where}.{unknown[0]}: unknown key for adapter {adapter.name!r}; "
                f"allowed keys: {', '.join(adapter.allowed_keys)}"
            )
    Protocol.from_config(spec.get("protocol"), f"{where}.protocol")


def check_dataset_roots(config: Mapping) -> None:
    """Every dataset an experiment uses has its root folder: checked before any job is planned, because a
    mistyped root would otherwise fail inside `make_data` after Snakemake had removed the old manifest, and
    the manifest rebuilt after the fix would make every model retrain. Not part of `resolve`: a config can
    be resolved (tested, summarised) on a machine without the data."""
    from cddgan.data.adapters import ADAPTERS
    from cddgan.data.adapters.build import dataset_root
    from cddgan.errors import DatasetError

    used = {e["train"] for e in config["experiments"].values()}
    used |= {d for e in config["experiments"].values() for d in e["test"]}
    for name in sorted(used):
        spec = config["datasets"][name]
        adapter = ADAPTERS[spec["adapter"]]
        if adapter.find is not None:
            try:
                dataset_root(name, spec, adapter)
            except DatasetError as exc:
                raise ConfigError(str(exc)) from exc


def resolve(raw: Mapping) -> dict:
    """Validate `raw` and return the resolved config (defaults filled, ablations expanded into runs)."""
    validate_schema(raw)
    config = _merge(TOP_DEFAULTS, raw)
    config["training"] = _merge(TRAINING_DEFAULTS, raw.get("training", {}))
    load_plugins(config["plugins"])
    for name, spec in config["datasets"].items():
        check_dataset(name, spec)

    for name, experiment in config["experiments"].items():
        for role, datasets in (("train", [experiment["train"]]), ("test", experiment["test"])):
            for dataset in datasets:
                if dataset not in config["datasets"]:
                    raise ConfigError(
                        f"experiments.{name}.{role}: unknown dataset {dataset!r}; "
                        f"datasets in the config: {', '.join(sorted(config['datasets']))}"
                    )
        experiment.setdefault("label", name)

    runs: dict[str, dict] = {}
    for name, spec in config["runs"].items():
        if spec.get("enabled", True):
            runs[name] = _resolve_run(name, spec, config, f"runs.{name}")
    if not runs:
        raise ConfigError("runs: every run is disabled; enable at least one")

    ablation_seeds = config.get("ablation_seeds", config["seeds"])
    tables: dict[str, dict] = {}
    for name, ablation in config["ablations"].items():
        where = f"ablations.{name}"
        if name in runs or name in config["runs"]:
            raise ConfigError(f"{where}: the name is already used by a run; pick another")
        base_name = ablation["base"]
        if base_name not in config["runs"]:
            raise ConfigError(f"{where}.base: unknown run {base_name!r}; runs: {', '.join(sorted(runs))}")
        if not ablation.get("enabled", True) or base_name not in runs:
            continue
        base_spec = config["runs"][base_name]
        base = runs[base_name]
        if base["kind"] != "method":
            raise ConfigError(f"{where}.base: {base_name!r} is a command baseline; ablations need a method run")
        _check_overrides(ablation.get("settings", {}), base["settings"], f"{where}.settings")
        if ablation.get("training"):
            if not base["trainable"]:
                raise ConfigError(f"{where}.training: base run {base_name!r} is not trainable")
            _check_overrides(ablation["training"], base["training"], f"{where}.training")
        merged = {
            "method": base_spec["method"],
            "label": ablation.get("label", name),
            "settings": _merge(base["settings"], ablation.get("settings", {})),
            "training": _merge(base_spec.get("training", {}), ablation.get("training", {})),
            "seeds": ablation.get("seeds", ablation_seeds),
            "resources": base_spec.get("resources", {}),
        }
        run = _resolve_run(name, merged, config, where)
        run.update(base=base_name, ablation=ablation["table"])
        runs[name] = run
        table = tables.setdefault(
            ablation["table"],
            {"reference": base_name, "rows": [], **config["ablation_tables"].get(ablation["table"], {})},
        )
        if table["reference"] != base_name:
            raise ConfigError(
                f"{where}.base: every row of ablation table {ablation['table']!r} must share one base run "
                f"({table['reference']!r}), got {base_name!r}"
            )
        table["rows"].append(name)
    used = {a["table"] for a in config["ablations"].values()}
    for table_name in config["ablation_tables"]:
        if table_name not in used:
            raise ConfigError(
                f"ablation_tables.{table_name}: no ablation has `table: {table_name}`; "
                f"tables in use: {', '.join(sorted(used)) or '(none)'}"
            )
    for table_name, table in tables.items():
        table.setdefault("title", table_name)

    main_runs = config.get("main_runs") or [n for n in runs if "ablation" not in runs[n]]
    for name in main_runs:
        if name not in runs:
            raise ConfigError(f"main_runs: unknown or disabled run {name!r}; runs: {', '.join(sorted(runs))}")

    config["runs"] = runs
    config["ablation_tables"] = tables
    config["main_runs"] = list(main_runs)
    config.pop("ablations", None)
    return config


def load(path: str | Path | None = None, overrides: Mapping | None = None) -> dict:
    """Read a config file (default: config/config.yaml), apply `overrides`, validate and resolve."""
    raw = load_yaml(path or DEFAULT_CONFIG)
    if overrides:
        raw = _merge(raw, overrides)
    return resolve(raw)


def run_spec(config: Mapping, experiment: str, run: str, seed: int) -> dict:
    """What one (run, seed) computes, as a JSON-able dict: Snakemake tracks it, so a change retrains.

    The run's execution keys (`EXECUTION_KEYS`) are left out; `run_execution` gives them.
    """
    spec = config["runs"][run]
    return {
        "experiment": experiment,
        "run": run,
        "seed": int(seed),
        "method": spec["method"],
        "settings": spec["settings"],
        "training": computed_training(spec.get("training", {})),
        "plugins": list(config.get("plugins", [])),
    }


def computed_training(training: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of `training` that say what a run computes: all but the `EXECUTION_KEYS`."""
    return {key: value for key, value in training.items() if key not in EXECUTION_KEYS}


def run_execution(config: Mapping, run: str) -> dict:
    """How a run's jobs execute (device, threads, CUDA options, logging): its `EXECUTION_KEYS`.

    Training-free runs have no `training` of their own; they take the config-wide one (its device), with
    the execution keys of their own `training:` on top.
    """
    spec = config["runs"][run]
    training = spec.get("training") or {**(config.get("training") or {}), **spec.get("execution", {})}
    return {**EXECUTION_DEFAULTS, **{key: value for key, value in training.items() if key in EXECUTION_KEYS}}


def job_training(spec: Mapping[str, Any], execution: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The training settings a job runs with: the spec's, then the execution keys on top.

    A spec may still carry execution keys itself (hand-written specs, older tools); `execution` wins.
    """
    return {**EXECUTION_DEFAULTS, **(spec.get("training") or {}), **(execution or {})}
