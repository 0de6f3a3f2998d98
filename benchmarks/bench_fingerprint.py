"""Time of `dataset_fingerprint` on a large tree: it runs on every `snakemake` call, so it must stay cheap.

Builds a tree of `--files` tiny files in `--folders` folders (in a temporary folder, or in `--keep DIR`, which
is reused when it already holds that many files) and prints a markdown table: the seconds to build it, of the
first fingerprint after the build (cold-ish: the build leaves the folders in the OS cache, and an ordinary
user cannot drop it) and the median of 5 more (warm, what a second `snakemake -n` pays), and files per second.
The requirement: 100,000 files in under 2 s.

    python benchmarks/bench_fingerprint.py [--files 100000] [--folders 100] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cddgan.data.fingerprint import dataset_fingerprint
from cddgan.measure import time_ms, timings

WARM_RUNS = 5


def count_files(root: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(root))


def build_tree(root: Path, files: int, folders: int) -> float:
    """Seconds to write `files` one-byte-ish files spread over `folders` folders under `root`."""
    start = time.perf_counter()
    folders = max(1, min(folders, files))
    for k in range(folders):
        (root / f"set{k:03d}").mkdir(parents=True, exist_ok=True)
    for i in range(files):
        with open(root / f"set{i % folders:03d}" / f"{i:07d}.png", "wb") as handle:
            handle.write(str(i).encode())
    return time.perf_counter() - start


def measure(root: Path) -> tuple[float, list[float]]:
    """Seconds of the first fingerprint and of `WARM_RUNS` more; all must agree."""
    spec = {"adapter": "folders", "root": str(root)}
    first: list[str] = []
    cold = time_ms(lambda: first.append(dataset_fingerprint("bench", spec)), None, repeats=1, warmup=0) / 1000

    def again() -> None:
        assert dataset_fingerprint("bench", spec) == first[0], "the fingerprint of an unchanged tree changed"

    return cold, [t.wall_ms / 1000 for t in timings(again, None, WARM_RUNS, warmup=0)]


def build_parser() -> argparse.ArgumentParser:
    """The command line (its own function, so tests/test_doc_commands.py can parse documented commands)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--folders", type=int, default=100)
    parser.add_argument("--keep", type=Path, help="build the tree here and keep it; reused if it has --files files")
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_fingerprint.") as scratch:
        root = args.keep or Path(scratch) / "tree"
        if root.is_dir() and count_files(root) == args.files:
            build = "reused"
        else:
            if root.exists() and any(root.iterdir()):
                sys.exit(f"{root}: exists with another number of files than {args.files}; pick an empty folder")
            build = f"{build_tree(root, args.files, args.folders):.2f}"
        cold, warm = measure(root)
    median = statistics.median(warm)
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"tree under {root.parent}\n"
    )
    print(f"| files | build s | first fingerprint s | warm fingerprint s (median of {WARM_RUNS}) | files/s (warm) |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| {args.files} | {build} | {cold:.3f} | {median:.3f} | {args.files / median:,.0f} |")


if __name__ == "__main__":
    main()
