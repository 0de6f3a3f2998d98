"""Memory and time of dehazing and scoring ONE full-size test image, by image size: what a dehaze or
evaluate job needs for I-HAZE / O-HAZE-sized photographs, and when `datasets.<name>.test_max_side` is due.

Each (stage, size) runs in a child process of its own, so its peak memory is its own: the growth of the
peak over the memory held just before the stage (the framework and the network are not counted), with
`cddgan.measure`'s figures: on the CPU the resident set, on CUDA the allocator's reserved memory (as the
efficiency table and bench_train_step.py count it). The input is a random image (cost does not depend on
content); each stage runs once after a small warm-up.

    python benchmarks/bench_test_size.py [--sizes 512x384 1600x1200 ...] [--methods dcp cut]
        [--device auto|cpu|cuda] [--threads N] [--set KEY=VALUE ...]

A generator's method runs at its defaults (the paper's scale: ngf 64, 9 residual blocks) unless `--set`
changes them; `evaluate` is PSNR + SSIM + CIEDE2000 (protocol rgb) and FADE, as the evaluate job computes.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python benchmarks/...` from the repository root, no install needed
    sys.path.insert(0, str(REPO))


def parse_size(text: str) -> tuple[int, int]:
    """'1600x1200' -> (1600, 1200), width first as image tools print it."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1600x1200, got {text!r}") from exc
    if width < 16 or height < 16:
        raise argparse.ArgumentTypeError(f"{text}: both sides must be at least 16 px")
    return width, height


def child(stage: str, method_name: str, width: int, height: int, device: str, settings: dict) -> dict:
    """Run one stage on one random image; return its seconds and peak memory growth."""
    from cddgan.dehaze import dehaze_image
    from cddgan.measure import current_memory_mb, peak_memory_mb, reset_peak_memory, time_ms

    rng = np.random.default_rng(0)
    image = rng.random((height, width, 3), dtype=np.float32)
    dev = torch.device(device if stage == "dehaze" else "cpu")  # the metrics run on the CPU
    if stage == "dehaze":
        from cddgan.dehaze import is_out_of_memory
        from cddgan.methods import build_method, load_plugins, method_class

        load_plugins()
        # --set sizes the generators; training-free methods (DCP) keep their own defaults
        own = settings if method_class(method_name).trainable else {}
        method = build_method({"method": method_name, "settings": own}, dev)
        if hasattr(method, "eval"):
            method.eval()
        dehaze_image(method, image[:64, :64], dev)  # warm-up: kernels, allocator

        def run() -> None:
            try:
                dehaze_image(method, image, dev)
            except (RuntimeError, MemoryError) as exc:
                if not is_out_of_memory(exc):
                    raise
                raise SystemExit(f"out of memory: {str(exc).splitlines()[0][:200]}") from exc
    else:
        from cddgan.metrics import PROTOCOLS, full_reference, no_reference

        other = np.clip(image + rng.normal(0, 0.05, image.shape).astype(np.float32), 0, 1)
        protocol = PROTOCOLS["rgb"]
        full_reference(image[:64, :64], other[:64, :64], protocol)  # warm-up: numba's FADE compile, piq
        no_reference(image[:64, :64], protocol)

        def run() -> None:
            full_reference(image, other, protocol)
            no_reference(image, protocol)

    host = torch.device("cpu")
    reset_peak_memory(dev)
    before = {"host": current_memory_mb(host), "gpu": current_memory_mb(dev)}
    seconds = time_ms(run, dev, repeats=1, warmup=0) / 1000
    result = {"seconds": seconds, "host_mb": max(0.0, peak_memory_mb(host) - before["host"])}
    if dev.type == "cuda":
        result["gpu_mb"] = max(0.0, peak_memory_mb(dev) - before["gpu"])
    return result


def measure(stage: str, method: str, size: tuple[int, int], args: argparse.Namespace) -> dict | str:
    """One child process per measurement, so that each peak is the stage's own."""
    command = [
        sys.executable, __file__, "--child", stage, method, f"{size[0]}x{size[1]}", args.device,
        json.dumps(args.settings), str(args.threads),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return f"error: {lines[-1][:160] if lines else 'exit status ' + str(done.returncode)}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def build_parser() -> argparse.ArgumentParser:
    """The command line (its own function, so tests/test_doc_commands.py can parse documented commands)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=parse_size, default=[(512, 384), (1024, 768), (1600, 1200)])
    parser.add_argument("--methods", nargs="+", default=["dcp", "cut"])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting of the generator methods (e.g. ngf=16); repeatable")
    parser.add_argument("--no-evaluate", action="store_true", help="time the dehaze stage only")
    return parser


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        stage, method, size, device, settings, threads = sys.argv[2:8]
        torch.set_num_threads(int(threads))
        width, height = parse_size(size)
        print(json.dumps(child(stage, method, width, height, device, json.loads(settings))))
        return
    parser = build_parser()
    args = parser.parse_args()
    from bench_train_step import parse_overrides  # this folder is on sys.path when run as a script

    from cddgan.methods import load_plugins, method_class

    load_plugins()
    generators = [m for m in args.methods if method_class(m).trainable]  # --set sizes these alone
    args.settings = parse_overrides(args.overrides, generators) if args.overrides else {}
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or "CPU"
    print(f"device: {args.device} ({name}), torch {torch.__version__}, threads {args.threads}, "
          f"settings {args.settings or 'method defaults'}\n")
    print("| stage | size | MP | seconds | peak MB | MB per MP | memory |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    stages = [("dehaze", m) for m in args.methods] + ([] if args.no_evaluate else [("evaluate", "")])
    for stage, method in stages:
        for size in args.sizes:
            label = f"dehaze {method}" if stage == "dehaze" else "evaluate (PSNR, SSIM, CIEDE2000, FADE)"
            megapixels = size[0] * size[1] / 1e6
            result = measure(stage, method or "-", size, args)
            if isinstance(result, str):
                print(f"| {label} | {size[0]}x{size[1]} | {megapixels:.2f} | {result} | | | |", flush=True)
                continue
            where = "GPU" if "gpu_mb" in result else "host"
            mb = result.get("gpu_mb", result["host_mb"])
            print(f"| {label} | {size[0]}x{size[1]} | {megapixels:.2f} | {result['seconds']:.3f} | {mb:,.0f} "
                  f"| {mb / megapixels:,.0f} | {where} |", flush=True)


if __name__ == "__main__":
    main()
