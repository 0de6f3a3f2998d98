"""Dataset entries: the adapter exists and knows the keys; the roots an experiment uses exist."""

from __future__ import annotations

from collections.abc import Mapping

from cddgan.errors import ConfigError

# A shifted test set takes its base's test scenes and none of its training or validation images.
SHIFT_DROPS = {"n_train_clear": 0, "n_train_hazy": 0, "n_val": 0}


def expand_shifts(datasets: Mapping[str, Mapping]) -> dict[str, dict]:
    """Resolve every `shift_of:` entry into a full synthetic spec: its base's parameters (the same seed,
    size and test scenes, so scores pair image by image), no training or validation images, then the
    entry's own keys (the haze it shifts). The base must be a synthetic dataset that is not a shift."""
    out = {name: dict(spec) for name, spec in datasets.items()}
    for name, spec in datasets.items():
        base_name = spec.get("shift_of")
        if base_name is None:
            continue
        where = f"datasets.{name}.shift_of"
        base = datasets.get(base_name)
        if base is None:
            raise ConfigError(f"{where}: unknown dataset {base_name!r}; datasets: {', '.join(sorted(datasets))}")
        if base.get("adapter") != "synthetic" or spec.get("adapter") != "synthetic":
            raise ConfigError(f"{where}: shifted test sets are synthetic, of a synthetic dataset; "
                              f"{name!r} and {base_name!r} must both have `adapter: synthetic`")
        if "shift_of" in base:
            raise ConfigError(f"{where}: {base_name!r} is itself a shift of {base['shift_of']!r}; name that one")
        own = {key: value for key, value in spec.items() if key not in SHIFT_DROPS}
        out[name] = {**base, **SHIFT_DROPS, **own}
    return out


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
