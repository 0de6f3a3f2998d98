"""The name -> adapter table the config's `adapter:` key picks from.

Each file adapter is declared beside its find function (what it reads, its tree, its keys, its examples);
the synthetic generator, which reads nothing, is declared here. docs/datasets.md renders them all
(`python -m cddgan.data.adapters.reference`).
"""

from __future__ import annotations

import dataclasses
import json

from cddgan.data.adapters import folders, ntire, realworld, reside
from cddgan.data.adapters.base import Adapter, Example, Option
from cddgan.data.synthetic import DEFAULTS, IGNORED_KEYS


def _default(key: str) -> str:
    """A synthetic key's default as written in a config, from cddgan.data.synthetic.DEFAULTS."""
    value = DEFAULTS[key]
    return f"`{value if isinstance(value, str) else json.dumps(value)}`"


# The synthetic generator's keys: described here unless the config schema describes them (then left empty).
_SYNTHETIC_OPTIONS = (
    Option("seed", "integer ≥ 0", _default("seed"),
           "Seed of every image: the same seed gives byte-identical files."),
    Option("size", "integer ≥ 16, or [height, width]", _default("size"), "Image size in pixels."),
    Option("n_train_clear", "integer ≥ 0", _default("n_train_clear"),
           "Clear training images (scenes of their own; unpaired with the hazy ones)."),
    Option("n_train_hazy", "integer ≥ 0", _default("n_train_hazy"),
           "Hazy training images, of other scenes than the clear ones."),
    Option("n_test", "integer ≥ 0", _default("n_test"), "Test pairs (hazy image, clear ground truth, depth)."),
    Option("n_val"),
    Option("beta", "number ≥ 0, or [low, high]", _default("beta"),
           "Scattering coefficient, drawn per image uniformly from [low, high]; t = exp(-beta d)."),
    Option("airlight", "number in (0, 1], or [low, high]", _default("airlight"),
           "Grey airlight A, drawn per image uniformly from [low, high]."),
    Option("nonhomogeneous", "number in [0, 1)", _default("nonhomogeneous"),
           "Amplitude of a per-pixel variation of beta, beta (1 + amp n(x)) with n low-frequency noise in "
           "[-1, 1]; 0 is homogeneous haze."),
    Option("depth_range", "[near, far], 0 < near < far", _default("depth_range"),
           "Scene depth range; the sky is at the far limit."),
    Option("format", "`png`, `bmp` or `tif`", _default("format"), "File format of the images (lossless only)."),
    Option("airlight_tint"),
    Option("depth_model"),
    Option("noise"),
    Option("jpeg_quality"),
    Option("shift_of"),
)

SYNTHETIC = Adapter(
    "synthetic",
    None,
    frozenset(o.key for o in _SYNTHETIC_OPTIONS),
    "",
    "Procedural haze from cddgan.data.synthetic.make_synthetic.",
    source=(
        "Nothing (it generates its images): the benchmark that ships with the project. Procedural outdoor "
        "scenes (sky, ridges, ground, trees, rocks, buildings) with per-pixel depth, hazed with the atmospheric "
        "scattering model I = J t + A (1 - t); every pixel's depth, beta and airlight are known "
        "(cddgan/data/synthetic.py)."
    ),
    tree=(
        "train/clear/clear_00000.png  n_train_clear of them",
        "train/clear/...",
        "train/hazy/hazy_00000.png  n_train_hazy of them, of other scenes; beta and airlight in the manifest",
        "train/hazy/...",
        "test/clear/test_00000.png  n_test pairs",
        "test/clear/...",
        "test/hazy/test_00000.png",
        "test/hazy/...",
        "test/depth/test_00000.png  16-bit PNG of the depth the haze used",
        "test/depth/...",
        "val/clear/val_00000.png  n_val pairs, laid out as test/",
        "val/clear/...",
        "val/hazy/...",
        "val/depth/...",
        "manifest.csv",
        "manifest.json",
    ),
    options=_SYNTHETIC_OPTIONS,
    examples=(
        Example("synthetic", {"adapter": "synthetic", "seed": 0, "size": 64, "n_train_clear": 50,
                              "n_train_hazy": 50, "n_test": 10, "n_val": 4, "beta": [0.8, 2.2]},
                ("train", "test", "val"), "a quick benchmark (config/config.yaml's is larger)"),
        Example("synthetic-dense", {"adapter": "synthetic", "shift_of": "synthetic", "beta": [2.6, 3.6]},
                ("test",), "its test scenes under denser haze than training sees: a shifted test set"),
    ),
    common=frozenset(IGNORED_KEYS) - {"shift_of"},
    notes=(
        "It has no root: `cddgan make-data` writes the images under `results/data/<dataset>/`, in the tree "
        "above. `limit` is accepted and ignored: the `n_*` keys size the set."
    ),
)

_ENTRIES = [
    reside.ITS,
    reside.OTS,
    reside.SOTS_INDOOR,
    reside.SOTS_OUTDOOR,
    realworld.HSTS,
    realworld.RTTS,
    ntire.I_HAZE_ADAPTER,
    ntire.O_HAZE_ADAPTER,
    ntire.NH_HAZE_ADAPTER,
    ntire.DENSE_HAZE_ADAPTER,
    folders.PAIRED,
    folders.UNPAIRED,
    SYNTHETIC,
]

ADAPTERS: dict[str, Adapter] = {
    a.name: a if a.doc or a.find is None else dataclasses.replace(a, doc=a.find.__doc__ or "")
    for a in _ENTRIES
}
