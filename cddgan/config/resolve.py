"""Resolution: defaults filled in and every ablation expanded into a run of its own, so that the rules
and the report only ever see a flat `runs` mapping. The resolved config is what the report snapshots."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path

from cddgan.config.commands import COMMAND_PLACEHOLDERS, _check_template, external_facts
from cddgan.config.datasets import check_dataset, expand_shifts
from cddgan.config.defaults import EXECUTION_KEYS, TOP_DEFAULTS, TRAINING_DEFAULTS
from cddgan.config.files import load_yaml
from cddgan.config.schema import validate_schema
from cddgan.config.settings import check_setting_types
from cddgan.config.shipped import DEFAULT_CONFIG, locate
from cddgan.errors import ConfigError


def merge(base: Mapping, override: Mapping) -> dict:
    """Recursive dict merge: `override` wins; lists and scalars are replaced, not merged."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _check_overrides(overrides: Mapping, known: Mapping, where: str) -> None:
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ConfigError(
            f"{where}: override(s) {unknown} do not exist in the base run; allowed: {', '.join(sorted(known))}"
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
        "facts": external_facts(trainable),
    }


def _resolve_rule_run(name: str, spec: Mapping, config: Mapping) -> dict:
    """A user's own Snakemake rule as a baseline: the file it lives in is included only when a run names it
    (workflow/rules/extra.smk), so each config switches its rule baselines on or off."""
    seeds = list(spec.get("seeds", config["seeds"]))
    return {
        "kind": "rule",
        "method": "rule",
        "rule": spec["rule"],
        "label": spec.get("label", name),
        "trainable": False,
        "settings": {},
        "seeds": seeds[:1] if "seeds" not in spec else seeds,
        "resources": dict(spec.get("resources", {})),
        "facts": external_facts(False),
    }


def _resolve_run(name: str, spec: Mapping, config: Mapping, where: str) -> dict:
    if "command" in spec:
        return _resolve_command_run(name, spec, config, where)
    if "rule" in spec:
        return _resolve_rule_run(name, spec, config)
    from cddgan.methods import method_class, resolve_settings, source_digest  # importing them imports torch

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
        "facts": cls.facts(settings),  # what general code asks about this method (cddgan.methods.base)
        # a digest of the method's source files: a tracked param of its jobs, so editing them reruns them
        "code": source_digest(cls.name),
    }
    if cls.trainable:
        run["training"] = merge(config["training"], spec.get("training", {}))
        if run["training"].get("decay_start") is None:  # the method's reference schedule
            run["training"]["decay_start"] = float(getattr(cls, "decay_start", 0.5))
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


def resolve(raw: Mapping) -> dict:
    """Validate `raw` and return the resolved config (defaults filled, ablations expanded into runs)."""
    validate_schema(raw)
    config = merge(TOP_DEFAULTS, raw)
    config["training"] = merge(TRAINING_DEFAULTS, raw.get("training", {}))
    from cddgan.methods import load_plugins  # here: importing the methods imports torch (1.8 s)

    load_plugins(config["plugins"])
    for name, spec in config["datasets"].items():  # the bases first: an error names the key as written
        if "shift_of" not in spec:
            check_dataset(name, spec)
    config["datasets"] = expand_shifts(config["datasets"])
    for name, spec in config["datasets"].items():
        if "shift_of" in spec:
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
            "settings": merge(base["settings"], ablation.get("settings", {})),
            "training": merge(base_spec.get("training", {}), ablation.get("training", {})),
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
    """Read a config file (default: the shipped config.yaml), apply `overrides`, validate and resolve.

    A relative path not found in the working folder names a shipped config (`config/paper.yaml`): see
    `locate`, which lets the documented commands run from any folder and from an installed package.
    """
    raw = load_yaml(locate(path) if path else DEFAULT_CONFIG)
    if overrides:
        raw = merge(raw, overrides)
    return resolve(raw)
