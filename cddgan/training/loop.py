"""One training loop for every GAN method: `Trainer`, one (run, seed) from start to model.pt.

The loop owns what every method shares: devices and precision, seeds, unpaired sampling, Adam with a
linear decay to 0 over the second part of training, checkpoints, loss logs, progress and divergence
checks. A method (`cddgan.methods.base.GANMethod`) only says which losses to minimise in which order.

Checkpoints hold weights, optimiser and scheduler states, every RNG state, the sampler state, the
iteration, the loss log and the validation curve so far (and, with `select: best_val`, the best weights
yet); they are written atomically to a folder the Snakemake rule does not declare, so a killed job
resumes where it stopped when the rule reruns. A checkpoint made with other settings or other data is
ignored (and said so), never resumed into a different run.

The outputs are written atomically at the end: losses.csv, then validation.csv and run.json (when asked
for) together with model.pt. run.json says what model.pt holds and where it was made: the iterations, the
selection rule and the selected iteration, the failure if any, the elapsed time and the machine
(`cddgan.machine.machine_info`).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from cddgan.config import EXECUTION_KEYS, computed_training, job_training
from cddgan.data.manifest import read_manifest
from cddgan.data.unpaired import DEFAULT_PREPROCESS, UnpairedSampler
from cddgan.errors import DivergenceError, HarnessError
from cddgan.io import atomic_path, atomic_paths
from cddgan.machine import machine_info
from cddgan.methods.registry import build_method
from cddgan.modelfile import describe, model_payload, save_payload
from cddgan.training.step import TrainStep
from cddgan.training.validation import Validator, curve_frame

PathArg = str | Path

Log = Callable[[str], None]


def stderr_log(message: str) -> None:
    """The default log of a training job: one flushed line on stderr (the job's log file)."""
    print(message, file=sys.stderr, flush=True)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) from one integer."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present. CUDA_VISIBLE_DEVICES (set by Snakemake or SLURM) is honoured."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise HarnessError(f"training.device: {name!r} requested but CUDA is not available")
    return device


def spec_fingerprint(spec: Mapping[str, Any], manifest_path: Path) -> str:
    """Hash of everything that makes a checkpoint resumable: the run spec and the training data manifest.

    Execution keys (`cddgan.config.EXECUTION_KEYS`: device, threads, logging, CUDA options) are left out,
    so a job resubmitted with other threads or on another device resumes.
    """
    computed = {**spec, "training": computed_training(spec.get("training") or {})}
    digest = hashlib.sha256(json.dumps(computed, sort_keys=True, default=str).encode())
    digest.update(Path(manifest_path).read_bytes())
    return digest.hexdigest()[:16]


def _rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        # a job resubmitted to a node that shows it fewer GPUs restores the devices it has
        torch.cuda.set_rng_state_all(state["cuda"][: torch.cuda.device_count()])


def progress_bar(total: int, initial: int, desc: str, enabled: bool) -> tqdm:
    """The training progress bar on stderr (sparse updates when stderr is a log file, not a terminal)."""
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="it",
        file=sys.stderr,
        disable=not enabled,
        mininterval=1.0 if sys.stderr.isatty() else 10.0,
    )


class Trainer:
    """Trains one (run, seed) and writes model.pt and losses.csv."""

    def __init__(
        self,
        spec: Mapping[str, Any],
        manifest_path: str | Path,
        checkpoint_dir: str | Path,
        log: Log = stderr_log,
        progress: bool = True,
        execution: Mapping[str, Any] | None = None,
        about: Mapping[str, Any] | None = None,
    ) -> None:
        self.spec = dict(spec)
        self.about = dict(about or {})  # `--describe`: facts of the run for model.pt's description only
        self.cfg = job_training(spec, execution)
        self.manifest_path = Path(manifest_path)
        self.checkpoint_path = Path(checkpoint_dir) / "last.pt"
        self.log = log
        self.progress = progress
        self.fingerprint = spec_fingerprint(self.spec, self.manifest_path)
        if self.cfg.get("threads"):
            torch.set_num_threads(int(self.cfg["threads"]))
        self.device = resolve_device(self.cfg.get("device", "auto"))

        seed_everything(int(spec["seed"]))
        self.method = build_method(self.spec, self.device)
        frame = read_manifest(self.manifest_path)
        self.sampler = UnpairedSampler(
            frame,
            crop=int(self.cfg["crop"]),
            batch_size=int(self.cfg["batch_size"]),
            flip=bool(self.cfg["flip"]),
            load_size=self.cfg.get("load_size"),
            cache=self.cfg.get("cache_images", "auto"),
            seed=int(spec["seed"]),
            manifest_path=self.manifest_path,
            workers=int(self.cfg.get("workers", 0)),
            preprocess=self.cfg.get("preprocess") or DEFAULT_PREPROCESS,
        )
        self.step = TrainStep(self.method, self.cfg, self.device)
        self.iteration = 0
        self.rows: list[dict[str, float]] = []
        self.window: dict[str, torch.Tensor] = {}
        self.window_count = 0
        self.elapsed = 0.0
        self._setup_validation(frame)

    def _setup_validation(self, frame: pd.DataFrame) -> None:
        """The validation subset, the evaluation cadence and the selection rule; a rule that cannot be
        followed is refused here, before the first iteration."""
        self.eval_every = int(self.cfg.get("eval_every") or 0)
        self.select = str(self.cfg.get("select") or "last")
        self.validator = Validator(frame, int(self.cfg.get("val_images") or 8)) if self.eval_every else None
        self.val_rows: list[dict[str, float | int]] = []
        self.best: dict[str, Any] | None = None  # select: best_val: {"iteration", "psnr", "state_dict"}
        has_val = self.validator is not None and self.validator.available
        if self.select not in ("last", "best_val"):
            raise HarnessError(f"training.select: {self.select!r} is not one of 'last', 'best_val'")
        if self.select == "best_val" and not has_val:
            why = (
                "training.eval_every is 0 (no evaluations)"
                if not self.eval_every
                else f"{self.manifest_path} has no val split with ground truth"
            )
            raise HarnessError(
                f"training.select: best_val picks the weights of the best validation score, but {why}; "
                "set training.eval_every > 0 and train on a dataset with a val split, or use select: last"
            )
        if self.eval_every and not has_val:
            self.log(
                f"warning: training.eval_every is {self.eval_every} but {self.manifest_path} has no val split "
                "with ground truth; nothing is scored and validation.csv stays empty"
            )

    # ---- checkpoints -------------------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        state = {
            "fingerprint": self.fingerprint,
            "iteration": self.iteration,
            "method": self.method.state_dict(),
            "extra": self.method.extra_state() if hasattr(self.method, "extra_state") else None,
            "step": self.step.state_dict(),
            "rng": _rng_state(),
            "sampler": self.sampler.state_dict(),
            "rows": self.rows,
            "window": {k: v.detach().cpu() for k, v in self.window.items()},
            "window_count": self.window_count,
            "elapsed": self.elapsed,
            "validation": self.val_rows,
            "best": self.best,
        }
        with atomic_path(self.checkpoint_path) as tmp:
            torch.save(state, tmp)

    def try_resume(self) -> bool:
        """Load the last checkpoint if it belongs to this exact run; say what happened in the log."""
        if not self.checkpoint_path.is_file():
            return False
        try:
            # To the CPU, not the run's device: RNG states must stay CPU byte tensors (torch refuses to set a
            # generator from a CUDA one), and load_state_dict moves weights and optimiser state to where the
            # parameters live, so a checkpoint also resumes on another device.
            state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=False)
        except Exception as exc:  # a corrupt checkpoint must not block a fresh start
            self.log(f"checkpoint {self.checkpoint_path} is unreadable ({exc}); starting from scratch")
            return False
        if state.get("fingerprint") != self.fingerprint:
            self.log(f"checkpoint {self.checkpoint_path} was made with other settings or data; starting from scratch")
            return False
        self.method.load_state_dict(state["method"])
        if state.get("extra") is not None and hasattr(self.method, "load_extra_state"):
            self.method.load_extra_state(state["extra"])
        self.step.load_state_dict(state["step"])
        _set_rng_state(state["rng"])
        self.sampler.load_state_dict(state["sampler"])
        self.iteration = int(state["iteration"])
        self.rows = list(state["rows"])
        self.window = {k: v.to(self.device) for k, v in state["window"].items()}
        self.window_count = int(state["window_count"])
        self.elapsed = float(state["elapsed"])
        self.val_rows = list(state.get("validation") or [])
        self.best = state.get("best")
        self.log(f"resumed from checkpoint {self.checkpoint_path} at iteration {self.iteration}")
        return True

    # ---- the loop ----------------------------------------------------------------------------------
    def _accumulate(self, name: str, value: Any) -> None:
        value = value.detach().float() if torch.is_tensor(value) else torch.tensor(float(value))
        value = value.to(self.device)
        self.window[name] = self.window[name] + value if name in self.window else value.clone()

    def train_step(self, hazy: torch.Tensor, clear: torch.Tensor) -> None:
        """One iteration (every update the method yields), with its losses added to the logging window."""
        self.step(hazy, clear, self._accumulate)

    def _check_and_log(self) -> None:
        """Close the logging window: stop on NaN/inf, else append the window's mean losses."""
        if not self.window_count:
            return
        names = sorted(self.window)
        values = torch.stack([self.window[n] for n in names]).cpu() / self.window_count
        bad = [n for n, v in zip(names, values.tolist(), strict=True) if not math.isfinite(v)]
        if bad:
            where = (
                f"The last good checkpoint is kept at {self.checkpoint_path}."
                if self.checkpoint_path.exists()
                else f"No checkpoint was written yet (every {self.cfg['checkpoint_every']} iterations)."
            )
            raise DivergenceError(
                f"loss {', '.join(bad)} became NaN or inf between iterations "
                f"{self.iteration - self.window_count + 1} and {self.iteration}; training stopped. {where} "
                "Lower training.lr or check the data; for a method of your own, check its step() (one NaN term "
                "soon makes every loss NaN, so the first iteration at fault is the one to look at, e.g. with "
                "training.log_every: 1)."
            )
        lr = float(next(iter(self.step.optimizers.values())).param_groups[0]["lr"])  # a tensor with graphs
        row = {"iteration": self.iteration, "time_s": round(self.elapsed, 3), "lr": lr}
        row.update({n: float(v) for n, v in zip(names, values.tolist(), strict=True)})
        self.rows.append(row)
        self.window = {}
        self.window_count = 0

    def run(
        self,
        model_out: PathArg,
        losses_out: PathArg,
        validation_out: PathArg | None = None,
        run_info_out: PathArg | None = None,
    ) -> None:
        """Train to the end (or resume and finish) and write the outputs; `validation_out` (validation.csv)
        and `run_info_out` (run.json) only when given."""
        self.start()
        bar = progress_bar(self.total, self.iteration, f"{self.spec['run']}/seed{self.spec['seed']}", self.progress)
        start = time.perf_counter() - self.elapsed
        while not self.done():
            hazy, clear = self.sampler.next()
            self.train_step(hazy, clear)
            logged = self.end_iteration(time.perf_counter() - start)
            bar.update(1)
            if logged:
                bar.set_postfix(
                    {k: f"{v:.3g}" for k, v in self.rows[-1].items() if k not in ("iteration", "time_s", "lr")}
                )
        bar.close()
        self.finish(model_out, losses_out, validation_out, run_info_out)

    # ---- the loop's parts, shared with GroupTrainer ----------------------------------------------------
    @property
    def total(self) -> int:
        return int(self.cfg["iterations"])

    def start(self) -> None:
        """Resume from the checkpoint if there is one (else say what starts), and switch to training mode."""
        if not self.try_resume():
            self.log(
                f"training {self.spec['run']} ({self.spec['method']}) seed {self.spec['seed']} on "
                f"{self.device} for {self.total} iterations"
            )
        self.method.train()

    def done(self) -> bool:
        return self.iteration >= self.total

    def end_iteration(self, elapsed: float) -> bool:
        """Book one finished iteration: count it, log (and check for NaN) and checkpoint when due.
        Returns whether a loss row was written. Raises `DivergenceError` on a NaN/inf loss."""
        self.iteration += 1
        self.window_count += 1
        self.elapsed = elapsed
        logged = False
        if self.iteration % int(self.cfg["log_every"]) == 0 or self.iteration == self.total:
            self._check_and_log()
            logged = True
        if self.eval_every and (self.iteration % self.eval_every == 0 or self.iteration == self.total):
            self.validate()
        if self.iteration % int(self.cfg["checkpoint_every"]) == 0 and self.iteration < self.total:
            self._check_and_log()
            self.save_checkpoint()
        return logged

    def validate(self) -> None:
        """Score the current weights on the validation subset: one row of the curve, and with `select:
        best_val` keep them if their PSNR beats every earlier evaluation's (ties: the earliest stays)."""
        if self.validator is None or not self.validator.available:
            return
        if any(not bool(torch.isfinite(v).all()) for v in self.window.values()):
            self._check_and_log()  # a NaN loss in the open window: stop with the loss log's message
        row = self.validator.score(self.method, self.device, self.iteration)
        self.val_rows.append(row)
        self.log(
            f"validation at iteration {self.iteration}: PSNR {row['psnr']:.3f} dB, SSIM {row['ssim']:.4f} "
            f"({row['n_images']} images)"
        )
        if self.select == "best_val" and (self.best is None or row["psnr"] > self.best["psnr"]):
            weights = {k: v.detach().to("cpu", copy=True) for k, v in self.method.state_dict().items()}
            self.best = {"iteration": self.iteration, "psnr": row["psnr"], "state_dict": weights}

    def finish(
        self,
        model_out: PathArg,
        losses_out: PathArg,
        validation_out: PathArg | None = None,
        run_info_out: PathArg | None = None,
    ) -> None:
        """Write model.pt and losses.csv (and validation.csv, run.json when given), then drop the checkpoint."""
        self._write_outputs(model_out, losses_out, validation_out, run_info_out)
        rate = self.total / max(self.elapsed, 1e-9)
        self.log(f"finished {self.total} iterations in {self.elapsed:.1f} s ({rate:.2f} it/s)")
        if self.checkpoint_path.exists():
            self.checkpoint_path.unlink()

    def selected(self) -> tuple[int, dict[str, torch.Tensor]]:
        """The iteration whose weights model.pt keeps (`training.select`) and those weights."""
        if self.select == "best_val" and self.best is not None:
            return int(self.best["iteration"]), self.best["state_dict"]
        return self.iteration, self.method.state_dict()

    def _write_outputs(
        self,
        model_out: PathArg,
        losses_out: PathArg,
        validation_out: PathArg | None = None,
        run_info_out: PathArg | None = None,
        failed: str | None = None,
    ) -> None:
        """losses.csv, then validation.csv, run.json and model.pt renamed into place together (model last)."""
        machine = machine_info(self.device)
        selected, weights = (None, None) if failed else self.selected()
        info = {
            "iterations": self.iteration,
            "select": self.select,
            "selected_iteration": selected,
            "failed": failed,
            "elapsed_s": round(self.elapsed, 3),
            "machine": machine,
        }
        payload = model_payload(
            self.spec,
            execution={key: self.cfg[key] for key in sorted(EXECUTION_KEYS)},  # job_training fills each
            iterations=self.iteration,
            state_dict=weights,
            failed=failed,
            selected_iteration=selected,
            machine=machine,
            description=describe(self.spec, self.method, self.about, self.select),
        )
        with atomic_path(losses_out) as tmp:  # first, and complete on its own (the log so far)
            pd.DataFrame(self.rows).to_csv(tmp, index=False)
        extra = [(p, kind) for p, kind in ((validation_out, "validation"), (run_info_out, "run_info")) if p]
        with atomic_paths([*(Path(p) for p, _ in extra), Path(model_out)]) as tmps:
            for tmp, (_, kind) in zip(tmps[:-1], extra, strict=True):
                if kind == "validation":
                    curve_frame(self.val_rows).to_csv(tmp, index=False)
                else:
                    tmp.write_text(json.dumps(info, indent=2) + "\n")
            save_payload(tmps[-1], payload)

    def record_failure(
        self,
        message: str,
        model_out: PathArg,
        losses_out: PathArg,
        validation_out: PathArg | None = None,
        run_info_out: PathArg | None = None,
    ) -> None:
        """Write a diverged run's outputs: its loss log and validation curve so far, a model file and a run
        record that say it failed.

        A diverged run is a result (these settings diverge with this seed), not a crash to retry: the
        sweep goes on, later stages mark it FAILED, and the report shows it instead of omitting it. A
        change of its settings reruns it; the last good checkpoint stays for inspection.
        """
        self._write_outputs(model_out, losses_out, validation_out, run_info_out, failed=message)
