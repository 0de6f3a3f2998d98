"""A seed sweep through the real training loop: N single-seed `cddgan train` processes side by side (what
the DAG runs with `gpu_slots: N`) against one `cddgan train-group` process (`training.seeds_per_job: N`).

Unlike bench_train_step.py this includes everything a training job does: reading and cropping the
synthetic images, logging, checkpoints, writing model.pt. Each mechanism trains the same seeds for the
same iterations from scratch; the figure is total iterations per second over the processes' wall time.
The harness refuses `cuda_graph` for seed groups (one graph would share its random offsets between the
seeds), so with `--cuda-graph` the single-seed processes capture graphs and the group trains eagerly.

    python benchmarks/bench_group_training.py --paper-scale --size 256 --iterations 300 --seeds 4 \\
        --amp --channels-last --fused-adam --cuda-graph              # a GPU
    python benchmarks/bench_group_training.py --iterations 20 --seeds 2 --size 48   # CPU smoke
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OPTIONS = ("amp", "channels_last", "fused_adam", "cuda_graph", "compile")
sys.path.insert(0, str(REPO))


def specs(args: argparse.Namespace) -> list[dict]:
    from cddgan.config import TRAINING_DEFAULTS

    settings = {"ngf": args.ngf, "n_blocks": args.n_blocks, "ndf": args.ndf}
    training = {
        **TRAINING_DEFAULTS,
        "iterations": args.iterations,
        "crop": args.size,
        "batch_size": 1,
        "load_size": None,
        "flip": True,
        "log_every": max(1, args.iterations // 10),
        "checkpoint_every": args.iterations,  # no checkpoint inside the measurement
        "cache_images": True,
        "amp": args.amp,
        "channels_last": args.channels_last,
        "fused_adam": args.fused_adam,
        "cuda_graph": args.cuda_graph,
        "compile": args.compile,
        "threads": args.threads or None,
    }
    return [
        {
            "experiment": "bench",
            "run": args.method,
            "seed": seed,
            "method": args.method,
            "settings": settings,
            "training": {
                **training,
                "seeds_per_job": 1 if mode == "single" else args.seeds,
                "cuda_graph": training["cuda_graph"] and mode == "single",  # refused for groups
            },
            "plugins": [],
        }
        for mode in ("single", "group")
        for seed in range(args.seeds)
    ]


def run_together(commands: list[list[str]]) -> None:
    """Start every command at once and wait for all (raises if one fails)."""
    procs = [
        subprocess.Popen(c, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for c in commands
    ]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"a training process failed:\n{err[-3000:]}")


def timed(commands: list[list[str]]) -> float:
    """The wall time in seconds of `run_together(commands)`, once (each process trains from scratch)."""
    from cddgan.measure import time_ms

    return time_ms(lambda: run_together(commands), None, repeats=1, warmup=0) / 1000


def build_parser() -> argparse.ArgumentParser:
    """The command line (its own function, so tests/test_doc_commands.py can parse documented commands)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="cut")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--size", type=int, default=256, help="crop (and synthetic image) size")
    parser.add_argument("--ngf", type=int, default=16)
    parser.add_argument("--n-blocks", type=int, default=4)
    parser.add_argument("--ndf", type=int, default=16)
    parser.add_argument("--paper-scale", action="store_true", help="ngf 64, 9 blocks, ndf 64")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per process (0: torch's default)")
    for flag in ("amp", "channels-last", "fused-adam", "cuda-graph", "compile"):
        parser.add_argument(f"--{flag}", action="store_true")
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.paper_scale:
        args.ngf, args.n_blocks, args.ndf = 64, 9, 64

    from cddgan.data.synthetic import make_synthetic

    all_specs = specs(args)
    single, group = all_specs[: args.seeds], all_specs[args.seeds :]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        params = {"seed": 0, "size": args.size, "n_train_clear": 16, "n_train_hazy": 16, "n_test": 1}
        manifest = make_synthetic("bench", params, root / "data")
        cli = [sys.executable, "-m", "cddgan"]

        def seed_args(spec: dict, name: str) -> list[str]:
            """--spec/--model/--losses/--checkpoint-dir of one seed, as both commands take them."""
            out = root / name
            out.mkdir()
            return ["--spec", json.dumps(spec), "--model", str(out / "model.pt"), "--losses",
                    str(out / "losses.csv"), "--checkpoint-dir", str(root / f"ckpt-{name}")]  # fmt: skip

        singles = [
            [*cli, "train", "--quiet", "--manifest", str(manifest), *seed_args(s, f"single{i}")]
            for i, s in enumerate(single)
        ]
        grouped = [*cli, "train-group", "--quiet", "--manifest", str(manifest)]
        for i, s in enumerate(group):
            grouped += seed_args(s, f"group{i}")
        total = args.seeds * args.iterations
        print(
            f"# {args.seeds} seeds of {args.method}, {args.iterations} iterations each, {args.size} px, "
            f"ngf {args.ngf}, {args.n_blocks} blocks; training options "
            f"{ {k: single[0]['training'][k] for k in OPTIONS} } (the group: cuda_graph off)"
        )
        print("| mechanism | processes | wall s | total it/s |")
        print("| --- | ---: | ---: | ---: |", flush=True)
        seconds = timed(singles)
        print(
            f"| single-seed `cddgan train` side by side | {args.seeds} | {seconds:.1f} | {total / seconds:.1f} |",
            flush=True,
        )
        seconds = timed([grouped])
        print(f"| one `cddgan train-group` | 1 | {seconds:.1f} | {total / seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
