"""The defaults of every config key, and which training keys only say how a run executes."""

from __future__ import annotations

from typing import Any

# Defaults of the shared training loop; a run's own `training:` overrides any of them.
TRAINING_DEFAULTS: dict[str, Any] = {
    "iterations": 1000,
    "batch_size": 1,
    "crop": 256,
    "load_size": None,
    "flip": True,
    "lr": 2e-4,
    "beta1": 0.5,
    "beta2": 0.999,
    "decay_start": 0.5,
    "checkpoint_every": 500,
    "log_every": 10,
    "device": "auto",
    "amp": False,
    "channels_last": False,
    "compile": False,
    "fused_adam": False,
    "cuda_graph": False,
    "cudnn_benchmark": True,
    "seeds_per_job": 1,
    "threads": None,
    "workers": 0,
    "cache_images": "auto",
    "efficiency_iterations": 5,
}

# Training keys that say how a run executes, not what it computes. They change a trained model at most by
# float rounding and the device's random streams (device, threads, fused kernels, graph replay, cuDNN's
# algorithm choice) or not at all (logging, checkpoint cadence, image decoding, the efficiency job's
# repeats). They stay out of the run spec that Snakemake tracks and that fingerprints a checkpoint, so
# changing them, or adding such a key here, retrains nothing and a resubmitted job resumes. The efficiency
# job, which measures exactly these choices, does track them. `amp` (bf16) and `seeds_per_job` (a seed's
# random draws depend on its group) change results and are part of the spec.
EXECUTION_KEYS: frozenset[str] = frozenset(
    {
        "checkpoint_every",
        "log_every",
        "device",
        "threads",
        "workers",
        "cache_images",
        "channels_last",
        "compile",
        "fused_adam",
        "cuda_graph",
        "cudnn_benchmark",
        "efficiency_iterations",
    }
)
EXECUTION_DEFAULTS: dict[str, Any] = {key: TRAINING_DEFAULTS[key] for key in sorted(EXECUTION_KEYS)}

TOP_DEFAULTS: dict[str, Any] = {
    "title": "cddgan-bench",
    "results": "results",
    "reports": "reports",
    "seeds": [0],
    "plugins": [],
    "ablations": {},
    "ablation_tables": {},
    "published": "config/published.yaml",
    "metrics": {"weights": {}},
    "report": {"visual_images": 4, "zoom": [0.5, 0.5, 0.25]},
    "resources": {},
}
