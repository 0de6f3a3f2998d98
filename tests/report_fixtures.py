"""A small fabricated results tree for the report tests (and for trying the report by hand).

Metrics are random but seeded, scattered tightly around known per-run levels (`LEVELS`), so tests know
which run must be best and second without copying numbers: PSNR and SSIM favour `cddgan`, CIEDE2000
(lower is better) favours `cut`, so a report that ignored the metric's direction would mark the wrong
rows. `cyclegan` failed (the FAILED marker in its output folders, empty metric files). Each image has a
difficulty shared by every run (so pairing by image matters), each seed an offset shared by the trained
runs of that seed.
`cddgan-no-neggen` has the PSNR level of `cddgan`: its PSNR difference is noise and must not hold.
`synthetic-fog` is a shift of `synthetic` (the same image ids, harder haze: `SHIFT_DROP` lower). Trained
seeds have a validation curve and a run record: `cut` still improves at the end, `cddgan` plateaus (and
keeps its best evaluation, `select: best_val`), `cddgan-k64` gets worse; `cut` seed 1 ran on another CPU.

    python tests/report_fixtures.py /tmp/fixture-report   # builds the fixture report there
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from cddgan.data.manifest import ManifestInfo, write_manifest
from cddgan.io import write_image, write_text
from cddgan.layout import Layout
from cddgan.report.aggregate import write_tables

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = "synthetic"
SHIFTED = "synthetic-fog"  # a shift of synthetic: its test scenes under other haze
DATASETS = ("synthetic", "sots-indoor", SHIFTED)  # sots-indoor has published rows, synthetic has none
IMAGE_IDS = tuple(f"img{i:02d}" for i in range(12))
SIZE = 32
PROTOCOL = "rgb-ds-crop0"
FAILED_RUN = "cyclegan"
FAILURE_MESSAGE = "DivergenceError: loss G_gan became nan at iteration 120; the last good checkpoint was kept"
DATASET_WARNING = "img2: RGBA image converted to RGB"

# Per-run levels of (psnr, ssim, ciede2000); per-image and per-seed noise is far smaller than the gaps.
LEVELS = {
    "identity": (12.0, 0.60, 15.0),
    "dcp": (16.0, 0.70, 11.0),
    "cut": (20.0, 0.80, 5.0),
    "cddgan": (24.0, 0.85, 7.0),
    "cddgan-k64": (22.0, 0.83, 8.0),
    "cddgan-no-neggen": (24.0, 0.82, 9.0),
}
NOISE = (0.3, 0.005, 0.2)
IMAGE_SPREAD = (1.0, 0.02, 0.5)  # each image's difficulty, shared by every run and seed
SEED_SPREAD = (0.1, 0.002, 0.05)  # each seed's offset (shared by the trained runs of that seed)
SHIFT_DROP = {"psnr": 3.0, "ssim": 0.05, "ciede2000": -2.0}  # how much worse every run does on SHIFTED
TRAINING_FREE = ("identity", "dcp")
MACHINES = {  # as cddgan.machine.machine_info describes a machine
    name: {"platform": "Linux-6.1-x86_64", "python": "3.11.2", "cpu": cpu, "cpu_count": 16, "cpu_capability": isa,
           "torch": "2.9.0+cpu", "cuda": None, "cudnn": None, "mkl": {"available": True, "version": "2024.2"},
           "threads": 2, "device": "cpu", "gpus": []}
    for name, cpu, isa in (("xeon", "Intel Xeon Gold 6338", "AVX512"), ("epyc", "AMD EPYC 7B13", "AVX2"))
}
# The shape of each trained run's validation PSNR against the iteration (`_curve`).
CURVES = {"cut": "improving", "cddgan": "plateau", "cddgan-k64": "worse", "cddgan-no-neggen": "plateau",
          "cyclegan": "plateau"}
EVAL_EVERY = 20
ITERATIONS = 200
VAL_PAIRS = 2
METRIC_KEYS = ("experiment", "dataset", "run", "seed", "image_id", "protocol")
LOSSES = {"cyclegan": ["D", "G_gan"],
          "cut": ["D", "G_gan", "nce"], "cddgan": ["D", "G_gan", "nce", "neg"], "cddgan-k64": ["D", "G_gan", "nce"],
          "cddgan-no-neggen": ["D", "G_gan", "nce"]}


def fixture_config(results_dir: Path) -> dict:
    """A resolved config in the shape `cddgan.config.resolve` returns."""
    training = {"iterations": ITERATIONS, "crop": SIZE, "eval_every": EVAL_EVERY, "select": "last"}
    return {
        "title": "Fixture bench",
        "results": str(results_dir),
        "reports": str(results_dir.parent / "reports"),
        "seeds": [0, 1],
        "datasets": {
            "synthetic": {"adapter": "synthetic", "protocol": "rgb"},
            "sots-indoor": {"adapter": "reside-sots", "protocol": "rgb"},
            SHIFTED: {"adapter": "synthetic", "protocol": "rgb", "shift_of": "synthetic"},
        },
        "experiments": {EXPERIMENT: {"train": "synthetic", "test": list(DATASETS), "label": "Synthetic haze"}},
        "runs": {
            "identity": {"method": "identity", "trainable": False, "seeds": [0], "label": "Hazy input",
                         "settings": {}, "facts": {"reference_floor": True}},
            "dcp": {"method": "dcp", "trainable": False, "seeds": [0], "label": "DCP", "settings": {}},
            "cyclegan": {"method": "cyclegan", "trainable": True, "seeds": [0], "label": "CycleGAN",
                         "settings": {}, "training": training},
            "cut": {"method": "cut", "trainable": True, "seeds": [0, 1], "label": "CUT", "settings": {},
                    "training": training},
            "cddgan": {"method": "cddgan", "trainable": True, "seeds": [0, 1], "label": "CDD-GAN",
                       "settings": {"num_negatives": 256, "neg_generators": True},
                       "training": {**training, "select": "best_val"},
                       "facts": {"ablation_axes": {"negatives": 256.0}}},
            "cddgan-k64": {"method": "cddgan", "trainable": True, "seeds": [0], "label": "K = 64",
                           "base": "cddgan", "ablation": "negatives",
                           "settings": {"num_negatives": 64, "neg_generators": True}, "training": training,
                           "facts": {"ablation_axes": {"negatives": 64.0}}},
            "cddgan-no-neggen": {"method": "cddgan", "trainable": True, "seeds": [0],
                                 "label": "No negative generators", "base": "cddgan", "ablation": "negatives",
                                 "settings": {"num_negatives": 256, "neg_generators": False},
                                 "training": training, "facts": {"ablation_axes": {"negatives": 0.0}}},
        },
        "ablation_tables": {
            "negatives": {"title": "Hard negatives", "reference": "cddgan",
                          "rows": ["cddgan-no-neggen", "cddgan-k64"]},
        },
        "main_runs": ["identity", "dcp", FAILED_RUN, "cut", "cddgan"],
        "published": str(REPO / "config" / "published.yaml"),
        "report": {"visual_images": 2, "zoom": [0.5, 0.5, 0.25]},
        "metrics": {"weights": {}, "no_reference": []},
    }


def _scene(rng: np.random.Generator) -> np.ndarray:
    """A smooth colourful 32x32 image (gradients plus a square), float in [0, 1]."""
    y, x = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1)
    base = rng.uniform(0.1, 0.9, size=3)
    image = np.stack([base[0] * x + 0.1, base[1] * y + 0.1, base[2] * (1 - x) * y + 0.1], axis=2)
    r, c = rng.integers(4, SIZE - 12, size=2)
    image[r : r + 8, c : c + 8] = rng.uniform(0, 1, size=3)
    return np.clip(image, 0, 1).astype(np.float32)


def _write_dataset(results_dir: Path, dataset: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Test pairs (in sots-indoor two hazy images share each ground truth, as in SOTS), 4 + 4 training images
    and, for synthetic, `VAL_PAIRS` validation pairs; the shifted set has test images only."""
    root = results_dir / "data" / dataset
    rows, clears = [], {}
    shared = dataset == "sots-indoor"
    for index, image_id in enumerate(IMAGE_IDS):
        pair = f"gt{index // 2:02d}" if shared else image_id
        if not shared or index % 2 == 0:
            clear = _scene(rng)
            write_image(root / "test" / "clear" / f"{pair}.png", clear)
            rows.append({"dataset": dataset, "split": "test", "domain": "clear", "image_id": pair, "pair_id": pair,
                         "scene_id": pair, "path": str(root / "test" / "clear" / f"{pair}.png")})
        clears[image_id] = clear
        write_image(root / "test" / "hazy" / f"{image_id}.png", 0.55 * clear + 0.45)
        rows.append({"dataset": dataset, "split": "test", "domain": "hazy", "image_id": image_id, "pair_id": pair,
                     "scene_id": pair, "path": str(root / "test" / "hazy" / f"{image_id}.png")})
    any_image = rows[0]["path"]
    if dataset != SHIFTED:
        for index in range(4):
            for domain in ("hazy", "clear"):
                rows.append({"dataset": dataset, "split": "train", "domain": domain, "image_id": f"t{index}",
                             "pair_id": "", "scene_id": f"s{index}", "path": any_image})
    if dataset == "synthetic":
        for index in range(VAL_PAIRS):
            for domain in ("hazy", "clear"):
                rows.append({"dataset": dataset, "split": "val", "domain": domain, "image_id": f"v{index}",
                             "pair_id": f"v{index}", "scene_id": f"v{index}", "path": any_image})
    warnings = [DATASET_WARNING] if dataset == "sots-indoor" else []
    write_manifest(pd.DataFrame(rows), root / "manifest.csv",
                   ManifestInfo(dataset=dataset, adapter="synthetic", layout="fixture", warnings=warnings))
    return clears


def _write_metrics_and_outputs(results_dir: Path, config: dict, clears: dict, dataset: str,
                               rng: np.random.Generator, rows: dict, difficulty: dict[str, np.ndarray],
                               seed_offsets: dict[int, np.ndarray]) -> None:
    """Outputs of every run on `dataset`, and its metric rows added to `rows[(run, seed)]` (one metric file per
    run and seed holds every test set, as a test job writes it)."""
    layout = Layout.of(config)
    shift = np.array([SHIFT_DROP[m] for m in ("psnr", "ssim", "ciede2000")]) if dataset == SHIFTED else 0.0
    for run, spec in config["runs"].items():
        if run == FAILED_RUN:  # as the harness leaves a failed run: the reason in its output folders, no rows
            for seed in spec["seeds"]:
                write_text(layout.failed_marker(EXPERIMENT, run, seed, dataset), FAILURE_MESSAGE + "\n")
                rows.setdefault((run, seed), [])
            continue
        for seed in spec["seeds"]:
            offset = 0.0 if run in TRAINING_FREE else seed_offsets[seed]
            for image_id in IMAGE_IDS:
                noise = 0.0 if run == "identity" else rng.normal(0, NOISE)
                values = np.array(LEVELS[run]) + difficulty[image_id] + offset + noise - shift
                rows.setdefault((run, seed), []).append(
                    {"experiment": EXPERIMENT, "dataset": dataset, "run": run, "seed": seed, "image_id": image_id,
                     "protocol": PROTOCOL, "psnr": values[0], "ssim": values[1], "ciede2000": values[2]})
                # A dehazed image whose quality follows the run's level, so the grid looks plausible.
                weight = (LEVELS[run][0] - 10) / 16
                hazy = 0.55 * clears[image_id] + 0.45
                out = weight * clears[image_id] + (1 - weight) * hazy
                write_image(layout.output_image(EXPERIMENT, run, seed, dataset, image_id), out)


def _write_metric_files(config: dict, rows: dict) -> None:
    layout = Layout.of(config)
    for (run, seed), records in rows.items():
        path = Path(layout.metrics(EXPERIMENT, run, seed))
        path.parent.mkdir(parents=True, exist_ok=True)
        if records:
            pd.DataFrame(records).to_csv(path, index=False)
        else:
            path.write_text(",".join(METRIC_KEYS) + "\n")


def _curve(run: str, iterations: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Validation PSNR at `iterations`: rising to the run's level, then as CURVES says."""
    level, t = LEVELS.get(run, LEVELS["cut"])[0], iterations / ITERATIONS
    shape = {
        "improving": level - 6 * (1 - t),  # still rising at the end
        "plateau": level - 6 * np.exp(-12 * t),  # flat over the last 30 %
        "worse": level - 6 * np.exp(-12 * t) - 3 * np.clip(t - 0.6, 0, None),  # falls over the last 40 %
    }[CURVES[run]]
    return shape + rng.normal(0, 0.02, size=len(iterations))


def _write_training_records(config: dict, run: str, seed: int, rng: np.random.Generator) -> None:
    """validation.csv and run.json beside the seed's model, as the training loop writes them."""
    layout = Layout.of(config)
    iterations = np.arange(0, ITERATIONS + 1, EVAL_EVERY)
    if run == FAILED_RUN:
        iterations = iterations[iterations <= 100]  # the curve stops where the loss became NaN
    psnr = _curve(run, iterations, rng)
    frame = pd.DataFrame({"iteration": iterations, "psnr": psnr, "ssim": 0.8 + psnr / 1000, "n_images": 8})
    path = Path(layout.validation(EXPERIMENT, run, seed))
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    select = config["runs"][run]["training"]["select"]
    selected = int(iterations[int(np.argmax(psnr))]) if select == "best_val" else int(iterations[-1])
    failed = FAILURE_MESSAGE if run == FAILED_RUN else None  # a failed run keeps no weights: no selection
    machine = MACHINES["epyc" if (run, seed) == ("cut", 1) else "xeon"]
    record = {"iterations": int(iterations[-1]), "select": select, "selected_iteration": None if failed else selected,
              "failed": failed, "elapsed_s": float(rng.uniform(10, 100)), "machine": machine}
    Path(layout.run_info(EXPERIMENT, run, seed)).write_text(json.dumps(record))


def _write_run_logs(results_dir: Path, config: dict, rng: np.random.Generator) -> None:
    for run, spec in config["runs"].items():
        efficiency = {"params": 0, "macs": 0, "image_size": [SIZE, SIZE], "train_ms_per_iter": None,
                      "infer_ms_per_image": 0.05, "peak_mem_mb": None, "device": "cpu"}
        if spec["trainable"]:
            efficiency.update(params=int(rng.integers(1e5, 1e7)), macs=int(rng.integers(1e8, 1e10)),
                              train_ms_per_iter=float(rng.uniform(50, 500)),
                              infer_ms_per_image=float(rng.uniform(5, 50)), peak_mem_mb=float(rng.uniform(100, 900)))
        path = results_dir / "efficiency" / EXPERIMENT / f"{run}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(efficiency))
        if run not in LOSSES:
            continue
        for seed in spec["seeds"]:
            iterations = np.arange(0, 200, 10)
            frame = pd.DataFrame({"iteration": iterations, "time_s": iterations * 0.1,
                                  "lr": np.where(iterations < 100, 2e-4, 2e-4 * (200 - iterations) / 100)})
            for loss in LOSSES[run]:
                frame[loss] = 2.0 * np.exp(-iterations / 80) + rng.uniform(0, 0.2, size=len(iterations))
            path = results_dir / "runs" / EXPERIMENT / run / f"seed{seed}" / "losses.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.to_csv(path, index=False)
            _write_training_records(config, run, seed, rng)
            bench = results_dir / "benchmarks" / "train" / EXPERIMENT / run / f"seed{seed}.tsv"
            bench.parent.mkdir(parents=True, exist_ok=True)
            seconds = float(rng.uniform(10, 100))
            bench.write_text("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
                             f"{seconds:.4f}\t0:00:{int(seconds):02d}\t512.3\t900.1\t400.2\t410.5\t0.1\t2.0\t95.0\t{seconds:.2f}\n")


def make_results(tmp_path: Path) -> tuple[dict, Path]:
    """Fabricate results/ under tmp_path; return (resolved config, results dir)."""
    results_dir = Path(tmp_path) / "results"
    config = fixture_config(results_dir)
    rng = np.random.default_rng(1234)
    difficulty = {image_id: rng.normal(0, IMAGE_SPREAD) for image_id in IMAGE_IDS}
    seed_offsets = {seed: rng.normal(0, SEED_SPREAD) for seed in config["seeds"]}
    rows: dict = {}
    for dataset in DATASETS:
        clears = _write_dataset(results_dir, dataset, rng)
        _write_metrics_and_outputs(results_dir, config, clears, dataset, rng, rows, difficulty, seed_offsets)
    _write_metric_files(config, rows)
    _write_run_logs(results_dir, config, rng)
    write_tables(config, Layout.of(config), yaml.safe_dump(config))  # what the aggregate job does
    return config, results_dir


if __name__ == "__main__":
    from cddgan.report import build_report

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "fixture-report")
    cfg, results = make_results(target)
    print(build_report(cfg, results, target / "report"))
