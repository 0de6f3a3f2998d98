"""Kill and resume: a training job SIGKILLed mid-way, then a hard crash of Snakemake itself; each rerun resumes
from the checkpoint, the final weights are bit-identical to an uninterrupted run, and no finished result is
redone or lost.

The config is the smoke config cut down to the identity run and one CycleGAN run long enough (60 iterations,
a checkpoint every 10) for the kills to land mid-way. What a user does after each kind of kill:

- the job dies, Snakemake lives (OOM killer, a stray `kill -9`): rerun the same command;
- Snakemake dies too (node crash, lost login): `snakemake --unlock` with the same arguments, then rerun.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from smoke import REPO, run_snakemake, snakemake_env, write_config

pytestmark = pytest.mark.slow

RUN = Path("synthetic") / "cyclegan" / "seed0"
CHECKPOINT = Path("results") / "checkpoints" / RUN / "last.pt"
MODEL = Path("results") / "runs" / RUN / "model.pt"
LOSSES = Path("results") / "runs" / RUN / "losses.csv"
TRAIN_LOG = Path("results") / "logs" / "train" / RUN.with_suffix(".log")
# Bookkeeping that is rewritten on every attempt by design; everything else under results/ is a result.
NOT_RESULTS = ("logs", "benchmarks", "checkpoints", "status")
WAIT_S = 600


def kill_config(path: Path) -> Path:
    return write_config(
        path,
        {
            "datasets": {
                "synthetic": {"adapter": "synthetic", "seed": 0, "size": 48, "n_train_clear": 8,
                              "n_train_hazy": 8, "n_test": 2, "protocol": "rgb"},
            },
            "experiments": {"synthetic": {"train": "synthetic", "test": ["synthetic"]}},
            "training": {"iterations": 60, "crop": 32, "checkpoint_every": 10, "log_every": 5, "threads": 1,
                         "efficiency_iterations": 1},
            "runs": {
                "identity": {"method": "identity", "label": "Hazy input"},
                "cyclegan": {
                    "method": "cyclegan", "label": "CycleGAN", "settings": {"ngf": 8, "n_blocks": 2, "ndf": 8}
                },
            },
            "report": {"visual_images": 1},
        },
    )


def start_snakemake(workdir: Path, config: Path, *args: str) -> subprocess.Popen:
    """Snakemake in its own session, so that a hard crash can take it down with everything it started."""
    command = [str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory",
               str(workdir), "--configfile", str(config), *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=snakemake_env(), start_new_session=True)


def train_processes(workdir: Path) -> list[int]:
    """Pids of `python -m cddgan train` processes running in workdir (the job itself, not its shell)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if argv[1:4] == [b"-m", b"cddgan", b"train"] and Path(cwd) == workdir:
            pids.append(int(entry.name))
    return pids


def wait_for(condition, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"snakemake ended before {what}:\n{proc.stdout.read()[-4000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def kill_training(workdir: Path) -> int:
    pids = train_processes(workdir)
    assert len(pids) == 1, f"expected one training process in {workdir}, found {pids}"
    os.kill(pids[0], signal.SIGKILL)
    return pids[0]


def finished_results(workdir: Path) -> dict[str, tuple[int, str]]:
    """(mtime, sha256) of every result file, hidden staging files excluded."""
    results = workdir / "results"
    state = {}
    for path in sorted(results.rglob("*")):
        rel = path.relative_to(results)
        if not path.is_file() or rel.parts[0] in NOT_RESULTS or any(p.startswith(".") for p in rel.parts):
            continue
        state[str(rel)] = (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return state


def resumed_at(log: str) -> int:
    match = re.search(r"resumed from checkpoint \S+ at iteration (\d+)", log)
    assert match, f"no 'resumed from checkpoint' line in the train log:\n{log[:2000]}"
    return int(match.group(1))


def test_killed_training_resumes_bit_identical_and_nothing_finished_is_redone(tmp_path):
    config = kill_config(tmp_path / "kill.yaml")
    work = tmp_path / "killed"
    work.mkdir()
    kills = 0

    # 0. Some results are finished before anything is killed: the data and the whole identity run.
    identity = ["results/metrics/synthetic/identity/seed0.csv", "results/efficiency/synthetic/identity.json"]
    run_snakemake(work, "--cores", "2", *identity, configfile=config)

    # 1. The training job is SIGKILLed after its first checkpoint; Snakemake sees the job fail and stops.
    proc = start_snakemake(work, config, "--cores", "2", "all")
    wait_for(lambda: (work / CHECKPOINT).is_file(), proc, "the first checkpoint")
    kill_training(work)
    kills += 1
    output = proc.communicate(timeout=WAIT_S)[0]
    assert proc.returncode != 0 and "Error in rule train" in output
    assert not (work / MODEL).exists() and (work / CHECKPOINT).is_file()
    finished = finished_results(work)
    assert {"data/synthetic/manifest.csv", *(name.removeprefix("results/") for name in identity)} <= set(finished)

    # 2. The same command again: training resumes. Once it has written a newer checkpoint, Snakemake and the
    #    job are SIGKILLed together (a node crash). One core, so no other job is caught half-way.
    first_checkpoint = (work / CHECKPOINT).stat().st_mtime_ns
    proc = start_snakemake(work, config, "--cores", "1", "all")
    wait_for(
        lambda: (work / CHECKPOINT).is_file() and (work / CHECKPOINT).stat().st_mtime_ns != first_checkpoint,
        proc,
        "a checkpoint of the resumed run",
    )
    kill_training(work)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    kills += 1
    assert resumed_at((work / TRAIN_LOG).read_text()) >= 10
    assert not (work / MODEL).exists()
    finished.update(finished_results(work))

    # 3. After a crash Snakemake's lock is stale: --unlock, then the same command finishes the sweep.
    locked = run_snakemake(work, "--cores", "2", "all", configfile=config, check=False)
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
    run_snakemake(work, "--unlock", configfile=config)
    run_snakemake(work, "--cores", "2", "all", configfile=config)
    assert resumed_at((work / TRAIN_LOG).read_text()) >= 20
    assert not (work / CHECKPOINT).exists()  # removed once training finished

    # Nothing that had finished before a kill was redone (same mtime) or lost/changed (same bytes).
    after = finished_results(work)
    changed = {name for name, state in finished.items() if after.get(name) != state}
    assert not changed, f"finished results redone or lost: {sorted(changed)}"
    assert (work / "reports" / "index.html").is_file()

    # The resumed weights equal an uninterrupted run of the same config, bit for bit (CPU, one thread).
    reference = tmp_path / "reference"
    reference.mkdir()
    run_snakemake(reference, "--cores", "2", str(MODEL), configfile=config)
    resumed = torch.load(work / MODEL, weights_only=False)["state_dict"]
    uninterrupted = torch.load(reference / MODEL, weights_only=False)["state_dict"]
    assert resumed.keys() == uninterrupted.keys()
    different = [key for key in resumed if not torch.equal(resumed[key], uninterrupted[key])]
    assert not different, f"tensors differ after resuming: {different}"
    # ... and so does the loss log (every iteration's losses; only the wall-clock column differs).
    pd.testing.assert_frame_equal(
        pd.read_csv(work / LOSSES).drop(columns="time_s"), pd.read_csv(reference / LOSSES).drop(columns="time_s")
    )
    assert kills == 2
    print(f"kill-resume: {kills} kills survived, {len(finished)} finished result files kept, "
          f"{len(resumed)} tensors bit-identical")
