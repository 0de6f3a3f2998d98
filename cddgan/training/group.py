"""Several seeds of one run trained in one process (`training.seeds_per_job`): each seed a `Trainer` with
its own random streams, stepped in turn."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cddgan.config import job_training
from cddgan.errors import DivergenceError, HarnessError
from cddgan.training.loop import Log, Trainer, progress_bar, resolve_device, stderr_log
from cddgan.training.rng import RngStreams
from cddgan.training.step import uses_cuda_graph


def refuse_group_graph(cfg: Mapping[str, Any], n_seeds: int) -> None:
    """Refuse seeds trained together in one CUDA graph: the random ops of every seed in one graph share
    that graph's RNG offsets, so a seed's draws would depend on its group and a seed would not be a seed."""
    seeds_per_job = int(cfg.get("seeds_per_job") or 1)
    if uses_cuda_graph(cfg, resolve_device(cfg.get("device", "auto"))) and max(n_seeds, seeds_per_job) > 1:
        raise HarnessError(
            f"training.cuda_graph with training.seeds_per_job: {seeds_per_job} ({n_seeds} seeds in this job): seeds "
            "captured in one CUDA graph share its random-number offsets, so each seed's results would depend on "
            "the seeds beside it. Set training.seeds_per_job: 1 to keep cuda_graph (one job per seed), or "
            "training.cuda_graph: false to train the seeds together eagerly"
        )


class GroupTrainer:
    """Trains several seeds of one run in one process: each seed is a `Trainer` (own weights, data order,
    checkpoint and outputs) with its own random streams (`RngStreams`: python, numpy, torch's CPU and
    CUDA generators), made the global ones around that seed's iteration, bookkeeping and resume. A seed
    trained in a group therefore gives the numbers it gives alone (tests/test_seed_groups.py), and
    `seeds_per_job` changes how jobs run, not what they compute. The seeds step one after another: what
    a group saves is a process, its start-up and its share of the device, per seed.

    CUDA graphs are refused for groups of several seeds (`refuse_group_graph`). A seed that diverges is
    recorded as failed and the others train on; a crash stops the group, and a rerun resumes every seed
    from its checkpoint (seeds left at different iterations catch up alone first).
    """

    def __init__(
        self,
        specs: list[Mapping[str, Any]],
        manifest_path: str | Path,
        checkpoint_dirs: list[str | Path],
        log: Log = stderr_log,
        progress: bool = True,
        execution: Mapping[str, Any] | None = None,
        about: Mapping[str, Any] | None = None,
    ) -> None:
        if not specs or len(specs) != len(checkpoint_dirs):
            raise HarnessError("a training group needs one checkpoint folder per spec, and at least one spec")
        shared = ("iterations", "log_every", "checkpoint_every", "batch_size", "crop", "device")
        for key in shared:
            values = {json.dumps(job_training(spec, execution).get(key)) for spec in specs}
            if len(values) > 1:
                raise HarnessError(f"the seeds of a training group must share training.{key}; got {sorted(values)}")
        refuse_group_graph(job_training(specs[0], execution), len(specs))
        self.log = log
        self.progress = progress
        self.members: list[Trainer] = []
        self.streams: list[RngStreams] = []
        for spec, ckpt in zip(specs, checkpoint_dirs, strict=True):
            member = Trainer(
                spec, manifest_path, ckpt, log=self._prefixed(spec), progress=False, execution=execution, about=about
            )
            self.members.append(member)
            self.streams.append(RngStreams(member.device))  # the states its seeding and building left

    def _prefixed(self, spec: Mapping[str, Any]) -> Log:
        return lambda message: self.log(f"[seed {spec['seed']}] {message}")

    def run(self, outputs: Sequence[Sequence[str | Path | None]]) -> dict[int, DivergenceError]:
        """Train every seed to the end and write its outputs, one (model, losses[, validation, run_info])
        per seed; return the seeds (by index) that diverged."""
        if len(outputs) != len(self.members):
            raise HarnessError(f"{len(self.members)} seeds but {len(outputs)} output pairs")
        failed: dict[int, DivergenceError] = {}
        for member, streams in zip(self.members, self.streams, strict=True):
            with streams.active():  # a resumed seed's random states come back from its checkpoint
                member.start()
        start = time.perf_counter() - max(m.elapsed for m in self.members)
        level = max(m.iteration for m in self.members)
        for i, member in enumerate(self.members):  # resumed at different iterations: catch up alone
            while member.iteration < level and i not in failed:
                self._iterate(i, start, failed)
        active = [i for i, m in enumerate(self.members) if i not in failed and not m.done()]
        seeds = ",".join(str(m.spec["seed"]) for m in self.members)
        bar = progress_bar(self.members[0].total, level, f"{self.members[0].spec['run']}/seeds {seeds}", self.progress)
        while active:
            for i in active:
                self._iterate(i, start, failed)
            bar.update(1)
            active = [i for i in active if i not in failed and not self.members[i].done()]
        bar.close()
        for i, member in enumerate(self.members):
            if i not in failed:
                member.finish(*outputs[i])
        return failed

    def _iterate(self, i: int, start: float, failed: dict[int, DivergenceError]) -> None:
        """One iteration of seed `i` in its own random streams, booked (logs, validation, checkpoint)."""
        member = self.members[i]
        with self.streams[i].active():
            member.train_step(*member.sampler.next())
            try:
                member.end_iteration(time.perf_counter() - start)
            except DivergenceError as exc:
                member.log(f"FAILED: {exc}")
                failed[i] = exc
