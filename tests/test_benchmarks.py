"""The benchmark scripts run (on tiny sizes) and print their tables: they must not rot unnoticed.
They are not timed here: speed numbers live in docs/benchmarks.md, measured by these scripts."""

from __future__ import annotations

import subprocess
import sys

from smoke import REPO


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO, check=False, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_train_step_benchmark_prints_a_row_per_method_with_the_ratio():
    out = run(
        "benchmarks/bench_train_step.py",
        "--methods",
        "cut",
        "cyclegan",
        "--sizes",
        "32",
        "--ngf",
        "4",
        "--n-blocks",
        "1",
        "--ndf",
        "4",
        "--repeats",
        "1",
        "--warmup",
        "0",
        "--threads",
        "1",
    )
    rows = [line for line in out.splitlines() if line.startswith(("| cut |", "| cyclegan |"))]
    assert len(rows) == 2
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[2]) > 0 and float(cells[6]) > 0  # harness ms/it and the faithful ratio


def test_dcp_and_metric_benchmark_prints_throughput():
    out = run("benchmarks/bench_dcp_metrics.py", "--repeats", "1", "--dcp-sizes", "64", "--metric-sizes", "64")
    assert "MP/s" in out or "megapixel" in out.lower()


def test_group_training_benchmark_compares_processes_with_one_group():
    out = run(
        "benchmarks/bench_group_training.py", "--iterations", "4", "--seeds", "2", "--size", "32",
        "--ngf", "4", "--n-blocks", "1", "--ndf", "4", "--threads", "1",
    )
    rows = [line for line in out.splitlines() if line.startswith("| single-seed") or line.startswith("| one `cddgan")]
    assert len(rows) == 2
    assert all(float(row.strip("|").split("|")[-1]) > 0 for row in rows)
