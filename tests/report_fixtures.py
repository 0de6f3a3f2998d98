"""A small fabricated results tree for the report tests (and for trying the report by hand).

Metrics are random but seeded, scattered tightly around known per-run levels (`LEVELS`), so tests know
which run must be best and second without copying numbers: PSNR and SSIM favour `cddgan`, CIEDE2000
(lower is better) favours `cut`, so a report that ignored the metric's direction would mark the wrong
rows. `cyclegan` failed (the FAILED marker in its output folders, empty metric files).

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
DATASETS = ("synthetic", "sots-indoor")  # sots-indoor has published rows, synthetic has none
IMAGE_IDS = ("img0", "img1", "img2")
SIZE = 32
PROTOCOL = "rgb-ds-crop0"
FAILED_RUN = "cyclegan"
FAILURE_MESSAGE = "DivergenceError: loss G_gan became nan at iteration 120; the last good checkpoint was kept"
DATASET_WARNING = "img2: RGBA image converted to RGB"

# Per-run levels of (psnr, ssim, ciede2000); per-image and per-seed noise is far smaller than the gaps.
LEVELS = {
    "identity": (12.0, 0.60, 15.0),
    "cut": (20.0, 0.80, 5.0),
    "cddgan": (24.0, 0.85, 7.0),
    "cddgan-k64": (22.0, 0.83, 8.0),
    "cddgan-no-neggen": (21.0, 0.82, 9.0),
}
NOISE = (0.3, 0.005, 0.2)
METRIC_KEYS = ("experiment", "dataset", "run", "seed", "image_id", "protocol")
LOSSES = {"cyclegan": ["D", "G_gan"],
          "cut": ["D", "G_gan", "nce"], "cddgan": ["D", "G_gan", "nce", "neg"], "cddgan-k64": ["D", "G_gan", "nce"],
          "cddgan-no-neggen": ["D", "G_gan", "nce"]}


def fixture_config(results_dir: Path) -> dict:
    """A resolved config in the shape `cddgan.config.resolve` returns."""
    training = {"iterations": 200, "crop": SIZE}
    return {
        "title": "Fixture bench",
        "results": str(results_dir),
        "reports": str(results_dir.parent / "reports"),
        "seeds": [0, 1],
        "datasets": {
            "synthetic": {"adapter": "synthetic", "protocol": "rgb"},
            "sots-indoor": {"adapter": "reside-sots", "protocol": "rgb"},
        },
        "experiments": {EXPERIMENT: {"train": "synthetic", "test": list(DATASETS), "label": "Synthetic haze"}},
        "runs": {
            "identity": {"method": "identity", "trainable": False, "seeds": [0], "label": "Hazy input",
                         "settings": {}, "facts": {"reference_floor": True}},
            "cyclegan": {"method": "cyclegan", "trainable": True, "seeds": [0], "label": "CycleGAN",
                         "settings": {}, "training": training},
            "cut": {"method": "cut", "trainable": True, "seeds": [0, 1], "label": "CUT", "settings": {},
                    "training": training},
            "cddgan": {"method": "cddgan", "trainable": True, "seeds": [0, 1], "label": "CDD-GAN",
                       "settings": {"num_negatives": 256, "neg_generators": True}, "training": training,
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
        "main_runs": ["identity", FAILED_RUN, "cut", "cddgan"],
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
    root = results_dir / "data" / dataset
    rows, clears = [], {}
    for image_id in IMAGE_IDS:
        clear = _scene(rng)
        hazy = 0.55 * clear + 0.45
        clears[image_id] = clear
        write_image(root / "test" / "clear" / f"{image_id}.png", clear)
        write_image(root / "test" / "hazy" / f"{image_id}.png", hazy)
        common = {"dataset": dataset, "split": "test", "pair_id": image_id, "scene_id": image_id}
        for domain in ("clear", "hazy"):
            path = root / "test" / domain / f"{image_id}.png"
            rows.append({**common, "domain": domain, "image_id": image_id, "path": str(path)})
    for index in range(4):
        for domain in ("hazy", "clear"):
            rows.append({"dataset": dataset, "split": "train", "domain": domain, "image_id": f"t{index}",
                         "pair_id": "", "scene_id": f"s{index}", "path": str(root / "test/clear/img0.png")})
    warnings = [DATASET_WARNING] if dataset == "sots-indoor" else []
    write_manifest(pd.DataFrame(rows), root / "manifest.csv",
                   ManifestInfo(dataset=dataset, adapter="synthetic", layout="fixture", warnings=warnings))
    return clears


def _write_metrics_and_outputs(results_dir: Path, config: dict, clears: dict, dataset: str,
                               rng: np.random.Generator) -> None:
    layout = Layout.of(config)
    for run, spec in config["runs"].items():
        if run == FAILED_RUN:  # as the harness leaves a failed run: the reason in its output folder, no rows
            for seed in spec["seeds"]:
                write_text(layout.failed_marker(EXPERIMENT, run, seed, dataset), FAILURE_MESSAGE + "\n")
                write_text(layout.metrics(EXPERIMENT, run, seed, dataset), ",".join(METRIC_KEYS) + "\n")
            continue
        for seed in spec["seeds"]:
            records = []
            for image_id in IMAGE_IDS:
                values = [level + rng.normal(0, noise) for level, noise in zip(LEVELS[run], NOISE, strict=True)]
                records.append({"experiment": EXPERIMENT, "dataset": dataset, "run": run, "seed": seed,
                                "image_id": image_id, "protocol": PROTOCOL, "psnr": values[0],
                                "ssim": values[1], "ciede2000": values[2]})
                # A dehazed image whose quality follows the run's level, so the grid looks plausible.
                weight = (LEVELS[run][0] - 10) / 16
                hazy = 0.55 * clears[image_id] + 0.45
                out = weight * clears[image_id] + (1 - weight) * hazy
                write_image(layout.output_image(EXPERIMENT, run, seed, dataset, image_id), out)
            path = Path(layout.metrics(EXPERIMENT, run, seed, dataset))
            path.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(records).to_csv(path, index=False)


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
    for dataset in DATASETS:
        clears = _write_dataset(results_dir, dataset, rng)
        _write_metrics_and_outputs(results_dir, config, clears, dataset, rng)
    _write_run_logs(results_dir, config, rng)
    write_tables(config, Layout.of(config), yaml.safe_dump(config))  # what the aggregate job does
    return config, results_dir


if __name__ == "__main__":
    from cddgan.report import build_report

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "fixture-report")
    cfg, results = make_results(target)
    print(build_report(cfg, results, target / "report"))
