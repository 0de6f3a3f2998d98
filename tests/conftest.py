"""Shared fixtures: a tiny synthetic dataset and the toy method on the import path."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory) -> Path:
    """A 16+16 image unpaired training set and 3 test pairs at 40 px; returns the manifest path."""
    from cddgan.data.synthetic import make_synthetic

    out = tmp_path_factory.mktemp("tiny_synthetic")
    params = {"seed": 3, "size": 40, "n_train_clear": 16, "n_train_hazy": 16, "n_test": 3}
    return make_synthetic("tiny", params, out)


@pytest.fixture
def toy_env(monkeypatch):
    """PYTHONPATH with the tests folder, so subprocesses can import `toy_method` as a plugin."""
    path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    monkeypatch.setenv("PYTHONPATH", path)
    return path


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """The whole smoke DAG, run once per test session; returns its working directory."""
    from smoke import run_snakemake

    workdir = tmp_path_factory.mktemp("smoke_dag")
    run_snakemake(workdir, "--cores", "2", "all")
    return workdir


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module of tiny training steps: other processes share these 2 cores, and
    two spinning OpenMP threads each make tiny steps several times slower. Use with
    `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
