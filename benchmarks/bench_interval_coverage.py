"""How often the 95 % bootstrap interval of a two-level mean covers the true mean: the crossed scheme that
`cddgan.stats.bootstrap_means` uses (images drawn once per resample, shared by its drawn seeds) against the
nested one (images drawn afresh for each drawn seed). docs/statistics.md quotes its table.

Each simulated benchmark scores `seeds` x `images` as seed effect + image effect + noise, all normal with
mean 0 and the row's standard deviations, so the true mean is 0. Prints a markdown table, one row per
design, with the share of `--benchmarks` simulated benchmarks whose interval holds 0.

    python benchmarks/bench_interval_coverage.py [--benchmarks 300] [--resamples 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from cddgan import stats

# (seeds, images, seed sd, image sd, noise sd)
DESIGNS: tuple[tuple[int, int, float, float, float], ...] = (
    (10, 100, 0.2, 1.0, 0.3),
    (5, 50, 0.5, 0.5, 0.5),
    (3, 100, 0.2, 1.0, 0.3),
    (2, 100, 0.3, 1.0, 0.3),
    (1, 100, 0.0, 1.0, 0.3),
)


def nested_means(x: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """The nested scheme: draw the seeds, then for each drawn seed its own draw of images."""
    seeds, images = x.shape
    drawn_seeds = rng.integers(0, seeds, size=(resamples, seeds, 1))
    drawn_images = rng.integers(0, images, size=(resamples, seeds, images))
    return x.ravel()[drawn_seeds * images + drawn_images].mean(axis=(1, 2))


def simulate(design: tuple[int, int, float, float, float], benchmarks: int, resamples: int,
             rng: np.random.Generator) -> tuple[float, float]:
    """(nested coverage, crossed coverage) of the true mean 0 over `benchmarks` simulated benchmarks."""
    seeds, images, seed_sd, image_sd, noise_sd = design
    covered = {"nested": 0, "crossed": 0}
    for _ in range(benchmarks):
        x = (rng.normal(0, seed_sd, (seeds, 1)) + rng.normal(0, image_sd, (1, images))
             + rng.normal(0, noise_sd, (seeds, images)))
        for scheme, draws in (("nested", nested_means(x, rng, resamples)),
                              ("crossed", stats.bootstrap_means(x, rng, resamples))):
            low, high = stats.percentile_interval(draws)
            covered[scheme] += low <= 0 <= high
    return covered["nested"] / benchmarks, covered["crossed"] / benchmarks


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", type=int, default=300, help="simulated benchmarks per design")
    parser.add_argument("--resamples", type=int, default=stats.RESAMPLES, help="bootstrap resamples per interval")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulation")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    rng = np.random.default_rng(args.seed)
    print(f"{args.benchmarks} simulated benchmarks per design, {args.resamples} resamples, seed {args.seed}")
    print("\n| seeds × images | seed, image, noise sd | nested | crossed (ours) |\n| --- | --- | ---: | ---: |")
    start = time.perf_counter()
    for design in DESIGNS:
        seeds, images, seed_sd, image_sd, noise_sd = design
        nested, crossed = simulate(design, args.benchmarks, args.resamples, rng)
        sds = f"{seed_sd:g}, {image_sd:g}, {noise_sd:g}" if seeds > 1 else f"–, {image_sd:g}, {noise_sd:g}"
        print(f"| {seeds} × {images} | {sds} | {nested:.2f} | {crossed:.2f} |", flush=True)
    print(f"\n{time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
