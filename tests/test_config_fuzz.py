"""Property-based: invalid configs derived from the valid smoke config are all rejected before any job starts.

Each example applies one mutation (wrong type, unknown key at any level, negative size, empty list or
mapping, unknown dataset/method/adapter/plugin, an ablation overriding what does not exist) and records
the key path it broke; `cddgan.config.resolve` must raise `ConfigError` naming that key, never anything
else. A few examples also go through the real entry, `snakemake -n`.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from smoke import SMOKE, run_snakemake, write_config

from cddgan import config as cfg
from cddgan.errors import ConfigError

BASE: dict = yaml.safe_load(SMOKE.read_text())
Path_ = tuple[Any, ...]
Mutation = tuple[dict, Path_]

# 6 properties x 25 examples (one property has only 7 distinct cases): 132 configs in total;
# resolve() is fast, so this takes seconds.
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def walk(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))


NODES = list(walk(BASE))
MAPPINGS = [p for p, v in NODES if isinstance(v, dict)]
LEAVES = [p for p, v in NODES if p and not isinstance(v, bool) and isinstance(v, int | float | str | list)]
NUMBERS = [p for p, v in NODES if isinstance(v, int | float) and not isinstance(v, bool) and v >= 0]
RUNS = list(BASE["runs"])
TRAINABLE = [r for r in RUNS if r in ("cyclegan", "cut")]
UNKNOWN_NAME = st.from_regex(r"zz[a-z0-9]{0,6}", fullmatch=True)


def mutated(path: Path_, value: Any, base: dict = BASE) -> dict:
    """A deep copy of `base` with the node at `path` set to `value`."""
    config = copy.deepcopy(base)
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return config


def dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def assert_rejected_naming(config: dict, path: Path_) -> None:
    """resolve() raises ConfigError (nothing else) whose message names the key at `path`.

    Accepted spellings: the dotted path itself (`runs.cut.settings.ngf`); its parent with the key quoted
    (`runs.cut.settings: unknown setting(s) ['zz']`); for a list item, the list's own path.
    """
    with pytest.raises(ConfigError) as info:
        cfg.resolve(config)
    message = str(info.value)
    key, parent = dotted(path), dotted(path[:-1])
    named = key in message or (
        len(path) > 1 and parent in message and (f"'{path[-1]}'" in message or isinstance(path[-1], int))
    )
    assert named, f"message does not name `{key}`:\n{message}"


# ---------------------------------------------------------------- strategies, one per kind of mistake


def _wrong_value(current: Any) -> st.SearchStrategy:
    """Values of a type the key at hand never accepts (no lists for numbers: `size: [h, w]` is valid)."""
    if isinstance(current, dict):
        return st.one_of(st.integers(), st.text(max_size=4), st.lists(st.integers(), max_size=2))
    if isinstance(current, list):
        return st.one_of(st.text(max_size=4), st.booleans())
    if isinstance(current, str):
        return st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), min_size=1, max_size=2))
    return st.one_of(st.text(max_size=4), st.booleans())


@st.composite
def wrong_types(draw) -> Mutation:
    path = draw(st.sampled_from([p for p in MAPPINGS if p] + LEAVES))
    current = dict(NODES)[path]
    return mutated(path, draw(_wrong_value(current))), path


@st.composite
def unknown_keys(draw) -> Mutation:
    parent = draw(st.sampled_from(MAPPINGS))
    key = draw(UNKNOWN_NAME)
    config = copy.deepcopy(BASE)
    node = config
    for part in parent:
        node = node[part]
    node[key] = draw(st.integers())
    return config, (*parent, key)


@st.composite
def negative_sizes(draw) -> Mutation:
    path = draw(st.sampled_from(NUMBERS))
    if isinstance(dict(NODES)[path], int):
        value = draw(st.integers(min_value=-(10**6), max_value=-1))
    else:
        value = draw(st.floats(min_value=-1e6, max_value=-1e-6))
    return mutated(path, value), path


EMPTIES: list[tuple[Path_, Any]] = [
    (("runs",), {}),
    (("datasets",), {}),
    (("experiments",), {}),
    (("seeds",), []),
    (("ablation_seeds",), []),
    (("experiments", "synthetic", "test"), []),
]


@st.composite
def empty_lists(draw) -> Mutation:
    choice = draw(st.integers(min_value=0, max_value=len(EMPTIES)))
    if choice == len(EMPTIES):  # every run switched off: an empty method list in disguise
        config = copy.deepcopy(BASE)
        for run in config["runs"].values():
            run["enabled"] = False
        return config, ("runs",)
    path, value = EMPTIES[choice]
    return mutated(path, value), path


@st.composite
def unknown_references(draw) -> Mutation:
    name = draw(UNKNOWN_NAME)
    path = draw(
        st.sampled_from(
            [("runs", r, "method") for r in RUNS]
            + [("experiments", "synthetic", "train"), ("experiments", "synthetic", "test")]
            + [("datasets", "synthetic", "adapter"), ("main_runs",), ("plugins",)]
        )
    )
    value = [name] if path[-1] in ("test", "main_runs", "plugins") else name
    return mutated(path, value), path


@st.composite
def bad_ablations(draw) -> Mutation:
    name = draw(UNKNOWN_NAME)
    ablation: dict[str, Any] = {"base": draw(st.sampled_from(RUNS)), "table": "t"}
    kind = draw(st.sampled_from(["setting", "training", "base", "untrainable", "setting-type", "clash", "table"]))
    key = draw(UNKNOWN_NAME)
    tables = None
    if kind == "setting":
        ablation["settings"] = {key: draw(st.integers())}
        path: Path_ = ("ablations", name, "settings", key)
    elif kind == "training":
        ablation["base"] = draw(st.sampled_from(TRAINABLE))
        ablation["training"] = {key: draw(st.integers())}
        path = ("ablations", name, "training", key)
    elif kind == "base":
        ablation["base"] = key
        path = ("ablations", name, "base")
    elif kind == "untrainable":
        ablation["base"] = draw(st.sampled_from([r for r in RUNS if r not in TRAINABLE]))
        ablation["training"] = {"crop": 16}
        path = ("ablations", name, "training")
    elif kind == "setting-type":
        ablation["base"] = draw(st.sampled_from(TRAINABLE))
        ablation["settings"] = {"ngf": draw(st.text(max_size=3) | st.booleans() | st.floats(allow_nan=False))}
        path = ("ablations", name, "settings", "ngf")
    elif kind == "clash":
        name = draw(st.sampled_from(RUNS))
        path = ("ablations", name)
    else:
        tables = {key: {"title": "typo'd table name"}}
        path = ("ablation_tables", key)
    config = copy.deepcopy(BASE)
    config["ablations"] = {name: ablation}
    if tables:
        config["ablation_tables"] = tables
    return config, path


# ---------------------------------------------------------------- the properties


def test_the_base_config_is_valid():
    """Every mutation below starts from a config that resolves: the rejections are the mutations' doing."""
    resolved = cfg.resolve(copy.deepcopy(BASE))
    assert set(resolved["runs"]) == set(RUNS)


@FUZZ
@given(wrong_types())
def test_wrong_types_are_rejected(case: Mutation):
    assert_rejected_naming(*case)


@FUZZ
@given(unknown_keys())
def test_unknown_keys_at_every_level_are_rejected(case: Mutation):
    assert_rejected_naming(*case)


@FUZZ
@given(negative_sizes())
def test_negative_sizes_are_rejected(case: Mutation):
    assert_rejected_naming(*case)


@FUZZ
@given(empty_lists())
def test_empty_lists_are_rejected(case: Mutation):
    assert_rejected_naming(*case)


@FUZZ
@given(unknown_references())
def test_unknown_datasets_methods_and_plugins_are_rejected(case: Mutation):
    assert_rejected_naming(*case)


@FUZZ
@given(bad_ablations())
def test_ablations_overriding_what_does_not_exist_are_rejected(case: Mutation):
    assert_rejected_naming(*case)


# ---------------------------------------------------------------- through the real entry point


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        (("runs", "cut", "settings"), {"ngf": "eight"}, "runs.cut.settings.ngf"),
        (("datasets", "synthetic"), {**BASE["datasets"]["synthetic"], "n_tset": 4}, "datasets.synthetic.n_tset"),
        (
            ("ablations",),
            {"cut-wide": {"base": "cut", "table": "width", "settings": {"width": 16}}},
            "ablations.cut-wide.settings",
        ),
    ],
    ids=["setting-type", "dataset-key", "ablation-override"],
)
def test_snakemake_dry_run_names_the_key_and_creates_nothing(tmp_path, path, value, key):
    config = write_config(tmp_path / "bad.yaml", mutated(path, value))
    result = run_snakemake(tmp_path, "--cores", "1", "all", "-n", configfile=config, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Config error (nothing was run)" in output and key in output
    assert "Traceback" not in output
    assert not (tmp_path / "results").exists() and not (tmp_path / "reports").exists()


@pytest.mark.slow
def test_a_run_defined_twice_is_refused_by_check_config_and_snakemake(tmp_path):
    """PyYAML (and so Snakemake's --configfile) keeps the second of two equal keys without a word."""
    text = SMOKE.read_text()
    assert "\nruns:\n" in text
    config = tmp_path / "twice.yaml"
    config.write_text(text.replace("\nruns:\n", "\nruns:\n  dcp: {method: identity}\n", 1))
    with pytest.raises(ConfigError, match=r"twice\.yaml: key 'dcp' appears twice in one mapping \(lines \d+ and \d+\)"):
        cfg.load(config)
    result = run_snakemake(tmp_path, "--cores", "1", "all", "-n", configfile=config, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Config error (nothing was run)" in output and "'dcp' appears twice" in output
    assert "Traceback" not in output


@pytest.mark.slow
def test_a_missing_dataset_root_stops_check_config_and_snakemake_before_any_job(tmp_path):
    """Caught inside make_data instead, a mistyped root cost the old manifest, and rebuilding it after the
    fix made every model retrain."""
    config = copy.deepcopy(BASE)
    config["datasets"]["sots"] = {"adapter": "sots-outdoor", "root": "data/SOTS/outdor"}
    config["experiments"]["synthetic"]["test"] = ["synthetic", "sots"]
    path = write_config(tmp_path / "typo.yaml", config)
    done = subprocess.run(
        [sys.executable, "-m", "cddgan", "check-config", str(path)], capture_output=True, text=True, cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"datasets.sots.root: {tmp_path / 'data/SOTS/outdor'} does not exist" in done.stderr
    earlier = tmp_path / "results" / "data" / "sots" / "manifest.csv"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("an earlier manifest\n")
    result = run_snakemake(tmp_path, "--cores", "1", "all", configfile=path, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Config error (nothing was run)" in output and "datasets.sots.root" in output
    assert earlier.read_text() == "an earlier manifest\n"
    # defined but used by no experiment: not checked (a config may list datasets this machine lacks)
    del config["experiments"]["synthetic"]["test"][1]
    assert cfg.check_dataset_roots(cfg.resolve(config)) is None
