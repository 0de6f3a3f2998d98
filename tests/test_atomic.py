"""Atomic outputs: a writer that fails (or is killed) half-way leaves either no file or the old complete one,
never a half-written file under the final name that Snakemake would count as done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import toy_method  # noqa: F401  (registers toy-gan)
from PIL import Image

from cddgan import dehaze as dehaze_module
from cddgan.data.manifest import read_manifest
from cddgan.data.manifest import test_pairs as pairs_of
from cddgan.dehaze import dehaze_split
from cddgan.errors import ImageError, OutOfMemory
from cddgan.io import atomic_path, read_image, write_image, write_text
from cddgan.methods import method_class
from cddgan.training.loop import Trainer

REPO = Path(__file__).resolve().parents[1]


class DiskFull(OSError):
    """Stands in for ENOSPC or a crash in the middle of a write."""


def entries(folder: Path) -> list[str]:
    """Every name in a folder, hidden temporaries included."""
    return sorted(p.name for p in folder.iterdir())


def toy_spec(iterations: int = 8) -> dict:
    training = {
        "iterations": iterations, "batch_size": 1, "crop": 16, "load_size": None, "flip": True, "lr": 2e-3,
        "beta1": 0.5, "beta2": 0.999, "decay_start": 0.5, "checkpoint_every": 4, "log_every": 2,
        "device": "cpu", "threads": 1, "cache_images": True,
    }
    settings = {**method_class("toy-gan").defaults, "width": 4}
    return {"experiment": "t", "run": "toy", "seed": 0, "method": "toy-gan", "settings": settings,
            "training": training, "plugins": ["toy_method"]}


# ---------------------------------------------------------------- atomic_path itself


def test_crash_inside_atomic_path_leaves_no_target_and_no_temp(tmp_path):
    target = tmp_path / "out" / "table.csv"
    with pytest.raises(DiskFull), atomic_path(target) as tmp:
        tmp.write_text("half a tab")
        raise DiskFull("no space left on device")
    assert not target.exists()
    assert entries(target.parent) == []


def test_crash_inside_atomic_path_keeps_the_old_file(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old,complete\n1,2\n")
    with pytest.raises(DiskFull), atomic_path(target) as tmp:
        tmp.write_text("new,half")
        raise DiskFull
    assert target.read_text() == "old,complete\n1,2\n"
    assert entries(tmp_path) == ["table.csv"]


def test_atomic_path_replaces_on_success_and_tidies_up(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".table.csv.")
        tmp.write_text("new")
        assert target.read_text() == "old"  # nothing visible until the block succeeds
    assert target.read_text() == "new"
    assert entries(tmp_path) == ["table.csv"]


def test_sigkill_mid_write_never_leaves_the_target(tmp_path):
    """A real SIGKILL (no `finally`): the target never appears; only a hidden temporary may remain."""
    target = tmp_path / "model.pt"
    script = textwrap.dedent(
        f"""
        import sys, time
        from cddgan.io import atomic_path
        with atomic_path({str(target)!r}) as tmp:
            with open(tmp, "wb") as handle:
                handle.write(b"x" * 100_000)
                handle.flush()
                print("writing", flush=True)
                time.sleep(60)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not target.exists()
    leftovers = entries(tmp_path)
    assert len(leftovers) == 1 and leftovers[0].startswith(".model.pt.") and leftovers[0].endswith(".tmp.pt")


# ---------------------------------------------------------------- the writers built on it


def test_write_text_failing_mid_way_keeps_the_old_text(tmp_path, monkeypatch):
    target = tmp_path / "status.failed"
    write_text(target, "old complete text\n")

    def half_then_crash(self, text, *args, **kwargs):
        with open(self, "w") as handle:
            handle.write(text[: len(text) // 2])
        raise DiskFull("disk full")

    monkeypatch.setattr(Path, "write_text", half_then_crash)
    with pytest.raises(DiskFull):
        write_text(target, "new text that never completes\n")
    monkeypatch.undo()
    assert target.read_text() == "old complete text\n"
    assert entries(tmp_path) == ["status.failed"]


def test_write_image_failing_mid_way_keeps_the_old_image(tmp_path, monkeypatch):
    target = tmp_path / "img0.png"
    old = np.zeros((8, 8, 3), np.float32)
    write_image(target, old)

    def half_png_then_crash(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
        raise DiskFull("disk full")

    monkeypatch.setattr(Image.Image, "save", half_png_then_crash)
    with pytest.raises(DiskFull):
        write_image(target, np.ones((8, 8, 3), np.float32))
    monkeypatch.undo()
    np.testing.assert_array_equal(read_image(target), old)
    assert entries(tmp_path) == ["img0.png"]


def test_write_image_refuses_nan_before_touching_the_file(tmp_path):
    target = tmp_path / "img0.png"
    write_image(target, np.full((4, 4, 3), 0.5, np.float32))
    before = target.read_bytes()
    bad = np.full((4, 4, 3), 0.5, np.float32)
    bad[1, 2, 0] = np.nan
    with pytest.raises(ImageError, match=r"img0\.png.*NaN"):
        write_image(target, bad)
    assert target.read_bytes() == before and entries(tmp_path) == ["img0.png"]


# ---------------------------------------------------------------- checkpoints and trained models


def half_torch_save(obj, f, *args, **kwargs):
    Path(f).write_bytes(b"PK\x03\x04 truncated zip")
    raise DiskFull("disk full")


def test_checkpoint_write_failing_mid_way_keeps_the_last_good_checkpoint(tmp_path, tiny_synthetic, monkeypatch):
    ckpt_dir = tmp_path / "ckpt"
    trainer = Trainer(toy_spec(), tiny_synthetic, ckpt_dir, log=lambda _: None, progress=False)
    trainer.iteration = 4
    trainer.save_checkpoint()
    trainer.iteration = 8
    monkeypatch.setattr(torch, "save", half_torch_save)
    with pytest.raises(DiskFull):
        trainer.save_checkpoint()
    monkeypatch.undo()
    assert entries(ckpt_dir) == ["last.pt"]
    state = torch.load(ckpt_dir / "last.pt", weights_only=False)
    assert state["iteration"] == 4

    # ... and a fresh trainer resumes from it.
    logs: list[str] = []
    again = Trainer(toy_spec(), tiny_synthetic, ckpt_dir, log=logs.append, progress=False)
    assert again.try_resume() and again.iteration == 4
    assert any("resumed from checkpoint" in line for line in logs)


def test_model_write_failing_mid_way_leaves_no_model(tmp_path, tiny_synthetic, monkeypatch):
    out = tmp_path / "run"
    trainer = Trainer(toy_spec(iterations=4), tiny_synthetic, out / "ckpt", log=lambda _: None, progress=False)
    monkeypatch.setattr(torch, "save", half_torch_save)
    with pytest.raises(DiskFull):
        trainer.run(out / "model.pt", out / "losses.csv")
    monkeypatch.undo()
    assert not (out / "model.pt").exists()
    assert [n for n in entries(out) if n.startswith(".")] == []
    # losses.csv is written first and is complete on its own: every logged iteration is there.
    assert pd.read_csv(out / "losses.csv")["iteration"].tolist() == [2, 4]


# ---------------------------------------------------------------- dehaze's output folder


class Identity:
    """A stand-in method: returns its input."""

    def dehaze(self, hazy: torch.Tensor) -> torch.Tensor:
        return hazy


def fail_on_third_read(monkeypatch):
    calls = {"n": 0}

    def read(path, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise DiskFull(f"{path}: I/O error")
        return read_image(path, *args, **kwargs)

    monkeypatch.setattr(dehaze_module, "read_image", read)


def test_dehaze_failing_mid_way_creates_no_output_folder(tmp_path, tiny_synthetic, monkeypatch):
    out = tmp_path / "outputs" / "synthetic"
    fail_on_third_read(monkeypatch)
    with pytest.raises(DiskFull):
        dehaze_split(Identity(), tiny_synthetic, out, torch.device("cpu"), progress=False)
    assert not out.exists()
    assert entries(out.parent) == []  # the staging folder is gone too


def test_dehaze_failing_mid_way_keeps_the_old_complete_folder(tmp_path, tiny_synthetic, monkeypatch):
    out = tmp_path / "outputs" / "synthetic"
    assert dehaze_split(Identity(), tiny_synthetic, out, torch.device("cpu"), progress=False) == 3
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    ids = set(pairs_of(read_manifest(tiny_synthetic))["image_id"])
    assert set(before) == {f"{i}.png" for i in ids}

    fail_on_third_read(monkeypatch)
    with pytest.raises(DiskFull):
        dehaze_split(Identity(), tiny_synthetic, out, torch.device("cpu"), progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert entries(out.parent) == ["synthetic"]


class RunsOutOfMemory:
    """Dehazes two images, then fails on the third the way torch's allocators do."""

    def __init__(self, error: BaseException) -> None:
        self.error, self.calls = error, 0

    def dehaze(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == 3:
            raise self.error
        return x


@pytest.mark.parametrize("error", [
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.38 GiB"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: "
                 "you tried to allocate 3623878656 bytes."),
    RuntimeError("CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported"),
])
def test_dehaze_out_of_memory_names_the_image_and_test_max_side(tmp_path, tiny_synthetic, error):
    out = tmp_path / "outputs" / "synthetic"
    assert dehaze_split(Identity(), tiny_synthetic, out, torch.device("cpu"), progress=False) == 3
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    pairs = pairs_of(read_manifest(tiny_synthetic))
    third, dataset = pairs["path"][2], pairs["dataset"][2]
    height, width = read_image(third).shape[:2]
    with pytest.raises(OutOfMemory) as info:
        dehaze_split(RunsOutOfMemory(error), tiny_synthetic, out, torch.device("cpu"), progress=False)
    message = str(info.value)
    assert message.startswith(f"{third}: dehazing this {width}x{height} image")
    assert "out of host memory on cpu" in message and f"datasets.{dataset}.test_max_side" in message
    assert info.value.__cause__ is error
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the earlier results survive


def test_dehaze_other_runtime_errors_pass_through(tmp_path, tiny_synthetic):
    error = RuntimeError("Given groups=1, weight of size [64, 3, 7, 7], expected input to have 3 channels")
    with pytest.raises(RuntimeError) as info:
        dehaze_split(RunsOutOfMemory(error), tiny_synthetic, tmp_path / "out", torch.device("cpu"), progress=False)
    assert info.value is error


@pytest.mark.parametrize(("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_outputs_get_the_permissions_the_umask_gives(tmp_path, tiny_synthetic, umask, file_mode, dir_mode):
    """Temporary names come from mkstemp/mkdtemp, which are private whatever the umask; after the rename a
    results folder shared with colleagues (or read by an external program) must not stay private."""
    old = os.umask(umask)
    try:
        write_text(tmp_path / "table.csv", "a,b\n")
        out = tmp_path / "outputs" / "synthetic"
        dehaze_split(Identity(), tiny_synthetic, out, torch.device("cpu"), progress=False)
    finally:
        os.umask(old)
    assert (tmp_path / "table.csv").stat().st_mode & 0o777 == file_mode
    assert out.stat().st_mode & 0o777 == dir_mode
    assert {p.stat().st_mode & 0o777 for p in out.iterdir()} == {file_mode}
