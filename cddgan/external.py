"""External baselines: any program (a command template) or a user's own Snakemake rule.

The stable interface, documented in docs/adding-a-baseline.md:

- inputs: `results/inputs/<dataset>/test_hazy/images/<image_id>.png`, one 8-bit RGB PNG per hazy test
  image (staged from the dataset, whatever its original format), and no other file (Snakemake's own
  `.snakemake_timestamp` stays one folder up, so a program that reads every file it finds is safe); for
  training commands
  `results/inputs/<dataset>/train/{hazy,clear}/` (links to the original training images);
- outputs: the program writes into `results/raw/<experiment>/<run>/seed<k>/<dataset>/` one image per
  input with the same stem (any common image format) and the same size;
- the harness then checks the outputs and converts them into `results/outputs/...` as PNG, where they
  are scored like any other run. A program that exits non-zero (the rules record its exit status as
  `COMMAND_FAILED` in its raw folder), writes no output, or writes missing, mis-sized or ambiguous ones is
  a result, not a crash: its output folder gets the FAILED file with what went wrong and the tail of the
  program's log, the tables and the report show the run as FAILED, the sweep goes on, and the workflow
  exits non-zero at the end so a script notices.
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
from cddgan.io import atomic_dir, is_image, read_image, write_failed_marker, write_image
from cddgan.layout import COMMAND_FAILED

SHOWN = 20
LOG_TAIL = 20  # lines of a failed program's log kept with its FAILED record
# The staged test images live in this sub-folder of the staging job's output folder, which Snakemake also
# writes its `.snakemake_timestamp` into: the program's `{input_dir}` holds images only.
STAGED_IMAGES = "images"


def stage_test_inputs(manifest: str | Path, out_dir: str | Path, progress: bool = True) -> int:
    """Write every hazy test image as `<image_id>.png` into `out_dir/images/` (atomically, as a whole
    folder): the images folder holds images only."""
    out_dir = Path(out_dir)
    pairs = test_pairs(read_manifest(manifest))
    with atomic_dir(out_dir) as staging:
        (staging / STAGED_IMAGES).mkdir()
        rows = pairs[["image_id", "path"]].itertuples(index=False)
        for image_id, path in tqdm(rows, total=len(pairs), desc="stage", file=sys.stderr, disable=not progress):
            write_image(staging / STAGED_IMAGES / f"{image_id}.png", read_image(path))
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


def log_tail(log: str | Path, lines: int = LOG_TAIL) -> str:
    """The last `lines` lines of a program's log, or an empty string if there is none."""
    path = Path(log) if log else None
    if path is None or not path.is_file():
        return ""
    text = path.read_text(errors="replace").rstrip().splitlines()
    return "\n".join(text[-lines:])


def output_problems(raw_dir: Path, inputs_dir: Path) -> tuple[dict[str, Path], list[str]]:
    """The one output of each staged input, and what is wrong with the outputs: the program exited non-zero
    (its raw folder holds `COMMAND_FAILED`), wrote nothing, or left inputs without an output, outputs of
    the wrong size, or an input with outputs in several formats (each list up to 20 names)."""
    expected = {p.stem: p for p in sorted(inputs_dir.glob("*.png"))}
    status = raw_dir / COMMAND_FAILED
    if status.is_file():
        return {}, [f"the program failed ({status.read_text().strip() or 'non-zero exit'})"]
    produced: dict[str, list[Path]] = {}
    for path in sorted(raw_dir.iterdir()) if raw_dir.is_dir() else []:
        if path.is_file() and is_image(path):
            produced.setdefault(path.stem, []).append(path)
    if not set(produced) & set(expected):
        return {}, [f"the program wrote no output for any of the {len(expected)} inputs"]
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
    return {stem: paths[0] for stem, paths in produced.items() if stem in expected}, problems


def collect_outputs(raw_dir: str | Path, inputs_dir: str | Path, out_dir: str | Path, log: str = "") -> int:
    """Check a program's outputs against the staged inputs and convert them to `<image_id>.png`; returns
    how many were collected, 0 for a failed run.

    Every input needs exactly one output with the same stem and the same size. Otherwise, or when the
    program failed, the run is a result, not a crash: `out_dir` gets only the FAILED file saying what went
    wrong (up to 20 names of each kind of problem) and the tail of the program's log (`log`)."""
    raw_dir, inputs_dir, out_dir = Path(raw_dir), Path(inputs_dir), Path(out_dir)
    outputs, problems = output_problems(raw_dir, inputs_dir)
    if problems:
        expected = len(list(inputs_dir.glob("*.png")))
        message = (
            f"{raw_dir}: the baseline must write one image per input in {inputs_dir} with the same name and "
            f"size; of {expected} expected, " + "; ".join(problems) + (f" (command log: {log})" if log else "")
        )
        tail = log_tail(log)
        write_failed_marker(out_dir, message + (f"\nLast lines of the log:\n{tail}" if tail else ""))
        print(f"FAILED: {message}", file=sys.stderr)
        return 0
    with atomic_dir(out_dir) as staging:
        for stem, path in outputs.items():
            write_image(staging / f"{stem}.png", read_image(path))
    return len(outputs)
