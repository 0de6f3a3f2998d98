"""Score a folder of dehazed images against a dataset's ground truth: one CSV row per image.

The metric arithmetic lives in `cddgan.metrics`; this module matches outputs to the manifest, checks that
nothing is missing, and labels every row with (experiment, dataset, run, seed) and the protocol name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from cddgan.data.manifest import read_manifest, test_pairs
from cddgan.errors import HarnessError
from cddgan.io import atomic_path
from cddgan.layout import FAILED_MARKER

ID_COLUMNS = ["experiment", "dataset", "run", "seed", "image_id", "protocol"]


def missing_outputs(pairs: pd.DataFrame, outputs: Path) -> list[str]:
    """Image ids of the test split with no `<image_id>.png` in `outputs`."""
    return [i for i in pairs["image_id"] if not (outputs / f"{i}.png").is_file()]


def score_outputs(
    manifest: str | Path,
    outputs: str | Path,
    protocol: str | Mapping[str, Any],
    ids: Mapping[str, Any],
    weights: Mapping[str, str] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Score every hazy test image's output in `outputs` against the manifest's ground truth: one row per
    image, labelled with `ids` (experiment, dataset, run, seed) and the protocol's name. A failed run's
    folder (the FAILED marker) gives no rows: the aggregate job lists it from the marker."""
    from cddgan.metrics import Protocol, evaluate_pairs

    outputs = Path(outputs)
    if (outputs / FAILED_MARKER).is_file():
        return pd.DataFrame(columns=ID_COLUMNS)
    pairs = test_pairs(read_manifest(manifest))
    missing = missing_outputs(pairs, outputs)
    if missing:
        shown = ", ".join(missing[:10])
        raise HarnessError(
            f"{outputs}: {len(missing)} of {len(pairs)} test images have no output ({shown}"
            f"{', ...' if len(missing) > 10 else ''}); rerun the dehaze step"
        )
    proto = Protocol.from_config(protocol)
    triples = [
        (row.image_id, str(outputs / f"{row.image_id}.png"), row.clear_path) for row in pairs.itertuples(index=False)
    ]
    frame = evaluate_pairs(triples, proto, progress=progress, **({"weights": weights} if weights else {}))
    for column in ("experiment", "dataset", "run", "seed"):
        frame.insert(0, column, ids.get(column, ""))
    frame["protocol"] = proto.name
    metric_columns = [c for c in frame.columns if c not in ID_COLUMNS]
    return frame[ID_COLUMNS + metric_columns]


def evaluate_outputs(
    manifest: str | Path,
    outputs: str | Path,
    protocol: str | Mapping[str, Any],
    out: str | Path,
    ids: Mapping[str, Any],
    weights: Mapping[str, str] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Score one folder of outputs (`score_outputs`) and write the per-image table to `out`."""
    frame = score_outputs(manifest, outputs, protocol, ids, weights, progress)
    with atomic_path(out) as tmp:
        frame.to_csv(tmp, index=False)
    return frame


def evaluate_test_sets(
    tests: Sequence[Mapping[str, Any]],
    outputs_root: str | Path,
    ids: Mapping[str, Any],
    out: str | Path,
    weights: Mapping[str, str] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Score one run's outputs on every test set (`tests`: dataset, manifest, protocol; the outputs of
    each in `outputs_root/<dataset>`) into one per-image table, written to `out`: one process for all of
    a run's test sets, so the metric libraries load once."""
    frames = [
        score_outputs(test["manifest"], Path(outputs_root) / test["dataset"], test.get("protocol", "rgb"),
                      {**ids, "dataset": test["dataset"]}, weights, progress)
        for test in tests
    ]
    frames = [f for f in frames if not f.empty]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ID_COLUMNS)
    with atomic_path(out) as tmp:
        frame.to_csv(tmp, index=False)
    return frame
