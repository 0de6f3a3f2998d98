"""Several seeds of one run trained in one process (`training.seeds_per_job`): each seed a `Trainer`, all
stepped together by one `StepGroup`."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cddgan.config import job_training
from cddgan.errors import DivergenceError, HarnessError
from cddgan.training.loop import Log, Trainer, progress_bar, stderr_log
from cddgan.training.step import StepGroup


class GroupTrainer:
    """Trains several seeds of one run in one process: each seed is a `Trainer` (own weights, data order,
    checkpoint and outputs), and one `StepGroup` steps them together, on CUDA as one graph with a stream per
    seed, so that the GPU overlaps their kernels (docs/benchmarks.md: 72 CUT it/s for four seeds against
    50 for four processes). A seed's random draws then depend on the group it trains in.

    A seed that diverges is recorded as failed and the others train on; a crash stops the group, and a
    rerun resumes every seed from its checkpoint (seeds left at different iterations catch up alone first).
    """

    def __init__(
        self,
        specs: list[Mapping[str, Any]],
        manifest_path: str | Path,
        checkpoint_dirs: list[str | Path],
        log: Log = stderr_log,
        progress: bool = True,
        execution: Mapping[str, Any] | None = None,
    ) -> None:
        if not specs or len(specs) != len(checkpoint_dirs):
            raise HarnessError("a training group needs one checkpoint folder per spec, and at least one spec")
        shared = ("iterations", "log_every", "checkpoint_every", "batch_size", "crop", "device")
        for key in shared:
            values = {json.dumps(job_training(spec, execution).get(key)) for spec in specs}
            if len(values) > 1:
                raise HarnessError(f"the seeds of a training group must share training.{key}; got {sorted(values)}")
        self.log = log
        self.progress = progress
        self.members = [
            Trainer(spec, manifest_path, ckpt, log=self._prefixed(spec), progress=False, execution=execution)
            for spec, ckpt in zip(specs, checkpoint_dirs, strict=True)
        ]

    def _prefixed(self, spec: Mapping[str, Any]) -> Log:
        return lambda message: self.log(f"[seed {spec['seed']}] {message}")

    def run(self, outputs: list[tuple[str | Path, str | Path]]) -> dict[int, DivergenceError]:
        """Train every seed to the end and write its outputs; return the seeds (by index) that diverged."""
        if len(outputs) != len(self.members):
            raise HarnessError(f"{len(self.members)} seeds but {len(outputs)} output pairs")
        failed: dict[int, DivergenceError] = {}
        for member in self.members:
            member.start()
        start = time.perf_counter() - max(m.elapsed for m in self.members)
        level = max(m.iteration for m in self.members)
        for i, member in enumerate(self.members):  # resumed at different iterations: catch up alone
            while member.iteration < level and i not in failed:
                member.train_step(*member.sampler.next())
                self._end_iteration(i, member, time.perf_counter() - start, failed)
        active = [i for i, m in enumerate(self.members) if i not in failed and not m.done()]
        seeds = ",".join(str(m.spec["seed"]) for m in self.members)
        bar = progress_bar(self.members[0].total, level, f"{self.members[0].spec['run']}/seeds {seeds}", self.progress)
        while active:  # a new group whenever a seed drops out (diverged)
            members = list(active)
            group = StepGroup([self.members[i].step for i in members])
            while active == members:
                batches = [self.members[i].sampler.next() for i in members]
                group(batches, [self.members[i]._accumulate for i in members])
                now = time.perf_counter() - start
                for i in members:
                    self._end_iteration(i, self.members[i], now, failed)
                bar.update(1)
                active = [i for i in members if i not in failed and not self.members[i].done()]
        bar.close()
        for i, member in enumerate(self.members):
            if i not in failed:
                member.finish(*outputs[i])
        return failed

    @staticmethod
    def _end_iteration(i: int, member: Trainer, elapsed: float, failed: dict[int, DivergenceError]) -> None:
        try:
            member.end_iteration(elapsed)
        except DivergenceError as exc:
            member.log(f"FAILED: {exc}")
            failed[i] = exc
