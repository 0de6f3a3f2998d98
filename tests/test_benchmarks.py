"""The benchmark scripts run (on tiny sizes) and print their tables: they must not rot unnoticed.
They are not timed here: speed numbers live in docs/benchmarks.md, measured by these scripts. Each script
run is a subprocess that imports torch and times or trains networks, so those tests are marked `slow`; a
helper imported from benchmarks/ is tested in the quick loop."""

from __future__ import annotations

import subprocess
import sys

import pytest
from smoke import REPO


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO, check=False, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
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


TINY_STEP = ("--sizes", "32", "--ngf", "4", "--n-blocks", "1", "--ndf", "4", "--repeats", "1", "--warmup", "0")


@pytest.mark.slow
def test_set_overrides_reach_the_method_and_unknown_keys_stop_the_run():
    # both CUT losses off: the override must reach the method's build, which refuses it
    out = run("benchmarks/bench_train_step.py", "--methods", "cut", *TINY_STEP, "--no-faithful",
              "--set", "lambda_nce=0", "--set", "lambda_gan=0.0")
    assert "| cut | 32 | error:" in out and "nothing trains G" in out
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_train_step.py", "--methods", "cut", *TINY_STEP, "--set", "queue_size=0"],
        capture_output=True, text=True, cwd=REPO, check=False, timeout=600,
    )
    assert done.returncode != 0 and "cut has no setting(s) ['queue_size']" in done.stderr


@pytest.mark.slow
def test_dcp_and_metric_benchmark_prints_throughput():
    out = run("benchmarks/bench_dcp_metrics.py", "--repeats", "1", "--dcp-sizes", "64", "--metric-sizes", "64")
    assert "MP/s" in out or "megapixel" in out.lower()


@pytest.mark.slow
def test_group_training_benchmark_compares_processes_with_one_group():
    out = run(
        "benchmarks/bench_group_training.py", "--iterations", "4", "--seeds", "2", "--size", "32",
        "--ngf", "4", "--n-blocks", "1", "--ndf", "4", "--threads", "1",
    )
    rows = [line for line in out.splitlines() if line.startswith("| single-seed") or line.startswith("| one `cddgan")]
    assert len(rows) == 2
    assert all(float(row.strip("|").split("|")[-1]) > 0 for row in rows)


@pytest.mark.slow
def test_numerics_check_prints_the_rerun_and_bf16_floors():
    """On the CPU a float32 rerun is bit-identical (floor 0) while bf16-perturbed starts drift (floor > 0)."""
    out = run(
        "benchmarks/bench_train_step.py", "--methods", "cut", "--sizes", "32", "--ngf", "4", "--n-blocks", "1",
        "--ndf", "4", "--threads", "1", "--amp", "--no-table", "--check", "6", "--check-floors", "2",
    )
    row = next(line for line in out.splitlines() if line.startswith("| cut | 32 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[5] == cells[6] == "0.00 %"  # rerun floor, G and D
    median, spread = cells[8].split(" ", 1)[0], cells[8].split("(")[1].rstrip(")")
    assert float(median) > 0 and "-" in spread  # bf16 floor of D: a median over two runs, with their range
    assert float(cells[9]) >= 0 and cells[10] == "True"


@pytest.mark.slow
def test_profile_ranks_ops_whose_times_add_up_to_the_total():
    out = run(
        "benchmarks/bench_train_step.py", "--methods", "cut", "--sizes", "32", "--ngf", "4", "--n-blocks", "1",
        "--ndf", "4", "--threads", "1", "--no-table", "--profile", "2", "--top", "5",
    )
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines() if line.startswith("| cut |")]
    total, top = rows[0], rows[1:]
    assert total[2] == "(all)" and float(total[3]) > 0
    assert len(top) == 5
    times = [float(row[3]) for row in top]
    assert times == sorted(times, reverse=True) and sum(times) <= float(total[3]) * 1.001
    assert any("conv" in row[2] for row in top)  # a CUT step is mostly convolutions, even this small
    assert all(float(row[5]) > 0 for row in top)  # calls per iteration


def test_bf16_sized_perturbations_are_bf16_sized():
    import torch

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_train_step import perturb_like_bf16

    net = torch.nn.Linear(64, 64)
    before = net.weight.detach().clone()
    perturb_like_bf16(net, 0)
    rounded = net.weight.detach().clone()
    assert torch.equal(rounded, rounded.bfloat16().float()) and not torch.equal(rounded, before)
    assert ((rounded - before).abs() <= before.abs() * 2**-8).all()
    perturb_like_bf16(net, 1)
    change = (net.weight.detach() - rounded).abs() / rounded.abs().clamp_min(1e-12)
    assert 0 < float(change.max()) <= 2**-8


@pytest.mark.slow
def test_test_size_benchmark_prints_a_row_per_stage_and_size():
    out = run("benchmarks/bench_test_size.py", "--sizes", "128x96", "160x120", "--methods", "dcp", "cut",
              "--set", "ngf=4", "--set", "n_blocks=1", "--threads", "1")
    rows = [line for line in out.splitlines() if line.startswith(("| dehaze", "| evaluate"))]
    assert [r.split("|")[1:3] for r in rows] == [
        [f" {stage} ", f" {size} "]
        for stage in ("dehaze dcp", "dehaze cut", "evaluate (PSNR, SSIM, CIEDE2000, FADE)")
        for size in ("128x96", "160x120")
    ]
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        seconds, peak_mb = float(cells[3]), float(cells[4].replace(",", ""))
        assert seconds > 0 and peak_mb >= 0 and cells[6] == "host"  # the metrics run on the host


@pytest.mark.slow
def test_interval_coverage_benchmark_prints_a_row_per_design():
    out = run("benchmarks/bench_interval_coverage.py", "--benchmarks", "40", "--resamples", "400")
    rows = [line.strip("|").split("|") for line in out.splitlines() if "×" in line and "seeds" not in line]
    assert len(rows) == 5
    coverage = {row[0].strip(): (float(row[2]), float(row[3])) for row in rows}
    assert all(0 <= value <= 1 for pair in coverage.values() for value in pair)
    nested, crossed = coverage["10 × 100"]
    assert crossed > nested  # with a shared image difficulty, the nested scheme is too narrow
