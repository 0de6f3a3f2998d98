"""docs/datasets.md is what the adapters declare, and what it declares is true.

The reference is generated from the adapter declarations (`python -m cddgan.data.adapters.reference >
docs/datasets.md`), so the tests here check three things: the committed file is the generated one; each
adapter's declaration covers exactly the keys it accepts, with the descriptions the schema already has taken
from there; and each documented example entry, pointed at a fake copy of its dataset (tests/fake_trees.py),
builds a manifest with the splits the reference says, as does the documented tree itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import fake_trees as ft
import pytest
import yaml
from smoke import REPO

from cddgan.cli import main
from cddgan.config.datasets import expand_shifts
from cddgan.data.adapters import ADAPTERS, COMMON_KEYS, build_manifest
from cddgan.data.adapters.reference import render, render_adapter, render_common, schema_keys, tree_files
from cddgan.data.manifest import read_manifest
from cddgan.io import is_image

# The fake copy of each adapter's dataset its examples are built on; None: it reads no files. ITS, OTS and
# the paired training folder get 20 scenes, so that the default val_fraction (0.05) carves out a val scene.
FAKE_TREES: dict[str, Callable[[Path], Path] | None] = {
    "reside-its": lambda root: ft.make_its(root, n_scenes=20),
    "reside-ots": lambda root: ft.make_ots(root, n_scenes=20, nested=True),
    "sots-indoor": ft.make_sots_indoor,
    "sots-outdoor": ft.make_sots_outdoor,
    "hsts": ft.make_hsts,
    "rtts": ft.make_rtts,
    "i-haze": ft.make_i_haze,
    "o-haze": ft.make_o_haze,
    "nh-haze": ft.make_nh_haze,
    "dense-haze": ft.make_dense_haze,
    "paired-folders": lambda root: ft.make_paired_folders(root, n=20, hazy_suffix="_0.8_0.2"),
    "unpaired-folders": ft.make_unpaired_folders,
    "synthetic": None,
}
FILE_ADAPTERS = [name for name, adapter in ADAPTERS.items() if adapter.find is not None]


def build_examples(name: str, root: Path | None, out: Path) -> dict[str, set[str]]:
    """Build every example entry of adapter `name` (its root replaced by `root`): example name -> splits."""
    adapter = ADAPTERS[name]
    specs = {e.name: {**e.spec, **({"root": str(root)} if "root" in e.spec else {})} for e in adapter.examples}
    resolved = expand_shifts(specs)  # a shifted synthetic example names the one before it
    found = {}
    for example in adapter.examples:
        path = build_manifest(example.name, resolved[example.name], out / example.name, progress=False)
        found[example.name] = set(read_manifest(path)["split"])
    return found


def test_docs_datasets_md_is_the_generated_reference():
    """Regenerate with `python -m cddgan.data.adapters.reference > docs/datasets.md` after changing an
    adapter's declaration (cddgan/data/adapters/) or a `datasets.<name>` key of the schema."""
    committed = (REPO / "docs" / "datasets.md").read_text()
    assert committed == render(), "docs/datasets.md is stale; regenerate it (see this test's docstring)"


def test_cddgan_datasets_prints_the_reference_or_one_adapters_part(capsys):
    assert main(["datasets"]) == 0
    assert capsys.readouterr().out == render()
    assert main(["datasets", "o-haze"]) == 0
    text = capsys.readouterr().out
    assert text == render("o-haze") and text.startswith("## `o-haze`")
    assert "# O-HAZY NTIRE 2018/" in text and "01_outdoor_GT.jpg" in text and ".JPG" in text
    assert "## Keys every file adapter takes" in text and "`test_max_side`" in text  # the common keys too
    assert "## `i-haze`" not in text
    assert main(["datasets", "o-hazy"]) == 1
    error = capsys.readouterr().err
    assert "unknown adapter 'o-hazy'" in error and "o-haze" in error and "synthetic" in error


def test_fake_trees_cover_every_adapter():
    """A new adapter needs a fake copy of its dataset in tests/fake_trees.py, named here."""
    assert set(FAKE_TREES) == set(ADAPTERS)
    assert [n for n, maker in FAKE_TREES.items() if maker is None] == ["synthetic"]


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_every_adapter_is_declared_in_full(name):
    adapter = ADAPTERS[name]
    assert adapter.source and adapter.tree and adapter.examples
    assert {o.key for o in adapter.options} == set(adapter.keys)
    assert adapter.common <= COMMON_KEYS and "adapter" in adapter.common
    properties, _, _ = schema_keys()
    for option in adapter.options:
        fields = (option.type, option.default, option.meaning)
        if option.key in properties:  # described once, in the schema
            assert fields == ("", "", ""), f"{name}.{option.key}: the schema describes it; leave these empty"
        else:
            assert all(fields), f"{name}.{option.key}: needs a type, a default and a meaning"
    for example in adapter.examples:
        assert set(example.spec) <= set(adapter.allowed_keys), example.name
        assert example.spec["adapter"] == name and set(example.splits) <= {"train", "test", "val"}
    assert ("root" in adapter.examples[0].spec) == (adapter.find is not None)


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_each_adapters_section_names_every_key_it_accepts(name):
    text = render_adapter(ADAPTERS[name])
    shared = render_common()
    for key in ADAPTERS[name].allowed_keys:
        assert f"`{key}`" in text or f"| `{key}` |" in shared, key
    for row in (line for line in text.splitlines() if line.startswith("| `")):
        assert all(cell.strip() for cell in row.strip("|").split(" | ")), row


def test_the_synthetic_declaration_is_the_generators():
    """Its keys are exactly those `validate_params` accepts, and the defaults the schema writes for some of
    them are the generator's."""
    from cddgan.data.synthetic import DEFAULTS, IGNORED_KEYS

    synthetic = ADAPTERS["synthetic"]
    assert synthetic.allowed_keys == sorted([*DEFAULTS, *IGNORED_KEYS])
    properties, _, _ = schema_keys()
    described = [key for key in DEFAULTS if key in properties]
    assert {"n_val", "airlight_tint", "depth_model", "noise", "jpeg_quality"} <= set(described)
    for key in described:
        assert yaml.safe_load(str(properties[key]["x-default"])) == DEFAULTS[key], key


def test_the_val_defaults_the_reference_shows_are_the_carve_outs():
    from cddgan.data.adapters.val import VAL_FRACTION, VAL_MAX, VAL_SEED

    properties, _, _ = schema_keys()
    shown = {key: yaml.safe_load(str(properties[key]["x-default"])) for key in ("val_fraction", "val_max", "val_seed")}
    assert shown == {"val_fraction": VAL_FRACTION, "val_max": VAL_MAX, "val_seed": VAL_SEED}


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_documented_examples_build_the_documented_splits_on_the_fake_tree(name, tmp_path):
    maker = FAKE_TREES[name]
    root = maker(tmp_path / "data") if maker else None
    found = build_examples(name, root, tmp_path / "out")
    assert found == {e.name: set(e.splits) for e in ADAPTERS[name].examples}
    if maker is None:  # a generated set: the documented tree is what it wrote
        first = ADAPTERS[name].examples[0].name
        missing = [p for p in tree_files(ADAPTERS[name].tree) if not (tmp_path / "out" / first / p).is_file()]
        assert not missing


@pytest.mark.parametrize("name", FILE_ADAPTERS)
def test_the_documented_tree_is_one_the_adapter_reads(name, tmp_path):
    """The files the reference draws, written as they are named there, make a dataset each example reads
    (with fewer scenes than the fake tree: val may round down to none)."""
    adapter = ADAPTERS[name]
    root = tmp_path / "documented"
    for entry in adapter.tree:
        path = entry.partition("  ")[0]
        if path.endswith("/"):
            (root / path).mkdir(parents=True, exist_ok=True)
    for path in tree_files(adapter.tree):
        if is_image(Path(path)):
            ft.save(root / path)
        else:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text("<annotation></annotation>\n")
    found = build_examples(name, root, tmp_path / "out")
    for example in adapter.examples:
        assert found[example.name] <= set(example.splits) and found[example.name] - {"val"}, example.name
