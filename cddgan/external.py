"""External baselines: any program (a command template) or a user's own Snakemake rule.

The stable interface, documented in docs/adding-a-baseline.md:

- inputs: `results/inputs/<dataset>/test_hazy/<image_id>.png`, one 8-bit RGB PNG per hazy test image
  (staged from the dataset, whatever its original format); for training commands
  `results/inputs/<dataset>/train/{hazy,clear}/` (links to the original training images);
- outputs: the program writes into `results/raw/<experiment>/<run>/seed<k>/<dataset>/` one image per
  input with the same stem (any common image format) and the same size;
- the harness then checks the outputs (a clear error listing the missing and the mis-sized ones) and
  converts them into `results/outputs/...` as PNG, where they are scored like any other run.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from cddgan.data.manifest import read_manifest, test_pairs
from cddgan.errors import HarnessError
from cddgan.io import atomic_dir, is_image, read_image, write_image

SHOWN = 20


def stage_test_inputs(manifest: str | Path, out_dir: str | Path, progress: bool = True) -> int:
    """Write every hazy test image as `<image_id>.png` into `out_dir` (atomically, as a whole folder)."""
    out_dir = Path(out_dir)
    pairs = test_pairs(read_manifest(manifest))
    with atomic_dir(out_dir) as staging:
        rows = pairs[["image_id", "path"]].itertuples(index=False)
        for image_id, path in tqdm(rows, total=len(pairs), desc="stage", file=sys.stderr, disable=not progress):
            write_image(staging / f"{image_id}.png", read_image(path))
    return len(pairs)


def stage_train_inputs(manifest: str | Path, out_dir: str | Path) -> dict[str, int]:
    """Link the training images into `out_dir/hazy/` and `out_dir/clear/` as `<image_id><suffix>`."""
    out_dir = Path(out_dir)
    frame = read_manifest(manifest)
    train = frame[frame["split"] == "train"]
    counts = {}
    with atomic_dir(out_dir) as staging:
        for domain in ("hazy", "clear"):
            rows = train[train["domain"] == domain]
            (staging / domain).mkdir()
            for image_id, path in rows[["image_id", "path"]].itertuples(index=False):
                os.symlink(path, staging / domain / f"{image_id}{Path(path).suffix.lower()}")
            counts[domain] = len(rows)
    return counts


def format_command(template: str, paths: Mapping[str, object], variables: Mapping[str, object]) -> str:
    """Fill a command template: harness placeholders are shell-quoted; user `vars` are inserted as written."""
    values = {k: shlex.quote(str(v)) for k, v in paths.items()}
    values.update({k: str(v) for k, v in variables.items()})
    return template.format(**values)


def collect_outputs(raw_dir: str | Path, inputs_dir: str | Path, out_dir: str | Path, log: str = "") -> int:
    """Check a program's outputs against the staged inputs and convert them to `<image_id>.png`.

    Every input needs exactly one output with the same stem and the same size; otherwise the error lists
    the missing, the mis-sized and the ambiguous ones (up to 20 each) and names the command's log.
    """
    raw_dir, inputs_dir, out_dir = Path(raw_dir), Path(inputs_dir), Path(out_dir)
    expected = {p.stem: p for p in sorted(inputs_dir.glob("*.png"))}
    produced: dict[str, list[Path]] = {}
    for path in sorted(raw_dir.iterdir()) if raw_dir.is_dir() else []:
        if path.is_file() and is_image(path):
            produced.setdefault(path.stem, []).append(path)
    missing = sorted(set(expected) - set(produced))
    ambiguous = sorted(stem for stem, paths in produced.items() if stem in expected and len(paths) > 1)
    mis_sized = []
    for stem, source in expected.items():
        if stem in produced and stem not in ambiguous:
            with Image.open(source) as a, Image.open(produced[stem][0]) as b:
                if a.size != b.size:
                    mis_sized.append(
                        f"{produced[stem][0].name} is {b.size[0]}x{b.size[1]}, input {a.size[0]}x{a.size[1]}"
                    )
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing: {', '.join(missing[:SHOWN])}{' ...' if len(missing) > SHOWN else ''}")
    if mis_sized:
        problems.append(f"{len(mis_sized)} with the wrong size: {'; '.join(mis_sized[:SHOWN])}")
    if ambiguous:
        problems.append(f"{len(ambiguous)} written twice in different formats: {', '.join(ambiguous[:SHOWN])}")
    if problems:
        where = f" (command log: {log})" if log else ""
        raise HarnessError(
            f"{raw_dir}: the baseline must write one image per input in {inputs_dir} with the same name and "
            f"size; of {len(expected)} expected, " + "; ".join(problems) + where + ". That folder is kept for you "
            "to inspect and counts as done: after fixing the program, delete it (or rerun its rule with "
            "`snakemake --forcerun command_dehaze`, your rule's name for a rule baseline) so that it runs again"
        )
    with atomic_dir(out_dir) as staging:
        for stem in expected:
            write_image(staging / f"{stem}.png", read_image(produced[stem][0]))
    return len(expected)
