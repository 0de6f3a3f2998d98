"""Where the numbers came from: code version, configuration, software, hardware and time per job.

The code version (git's commit in the checkout that holds this code, or the installed version) comes from
`cddgan.codeversion`, which model files share; package versions come from `importlib.metadata`, the
machine from `cddgan.machine` (the record training writes into run.json; `platform` alone without torch),
job times from Snakemake's benchmark TSV files (read with pandas).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

# git_info and installed_version are read from here too (the tests, the packaging check)
from cddgan.codeversion import CODE_ROOT, code_version
from cddgan.codeversion import git_info as git_info
from cddgan.codeversion import installed_version as installed_version
from cddgan.report.tables import Cell, Column, Group, Row, Table

PACKAGES = ("cddgan-bench", "torch", "torchvision", "numpy", "scipy", "pillow", "piq", "scikit-image",
            "fade-python", "pandas", "statsmodels", "matplotlib", "seaborn", "jinja2", "snakemake", "pyyaml")


def extra_rules(code_root: Path) -> dict[str, str]:
    """The user's own rule files (workflow/rules/extra/*.smk, ignored by git) with a short SHA-256 each:
    the commit does not identify them, so the report names them."""
    folder = Path(code_root) / "workflow" / "rules" / "extra"
    files = sorted(folder.glob("*.smk")) if folder.is_dir() else []
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:12] for p in files}


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Installed version of each distribution, or "not installed"."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# How the report names the fields of `cddgan.machine.machine_info`.
MACHINE_LABELS = {"platform": "Platform", "python": "Python", "cpu": "CPU", "cpu_count": "CPU cores",
                  "cpu_capability": "CPU kernels (torch)", "torch": "torch", "cuda": "CUDA", "cudnn": "cuDNN",
                  "mkl": "MKL", "threads": "torch threads", "device": "Device", "gpus": "GPU"}


def _machine_text(key: str, value: object) -> str:
    if key == "mkl" and isinstance(value, Mapping):
        return (str(value.get("version") or "yes") if value.get("available") else "no")
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "none"
    return "none" if value is None else str(value)


def hardware() -> dict[str, str]:
    """The machine that built the report, described as training describes its own (`cddgan.machine`), so the
    two can be compared; platform and CPU alone where torch is not installed."""
    try:
        from cddgan.machine import machine_info
    except ImportError:  # no torch here (a slim environment rebuilding a report)
        return _basic_hardware()
    info = machine_info("cpu")
    return {MACHINE_LABELS.get(key, key): _machine_text(key, value) for key, value in info.items()}


def _basic_hardware() -> dict[str, str]:
    """Platform, CPU and (when torch is importable) the CUDA devices of this machine."""
    info = {
        "Platform": platform.platform(),
        "Python": platform.python_version(),
        "CPU": _cpu_model() or platform.processor() or platform.machine(),
        "CPU cores": str(os.cpu_count()),
    }
    try:
        import torch
    except ImportError:
        info["GPU"] = "unknown (torch not installed)"
        return info
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["GPU"] = ", ".join(names) + f" (CUDA {torch.version.cuda})"
    else:
        info["GPU"] = "none visible to torch"
    return info


def _cpu_model() -> str:
    """The CPU model name on Linux (platform.processor() is often empty there)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def config_yaml(config: Mapping) -> str:
    """The resolved config as YAML (non-YAML values such as paths written as strings)."""
    plain = json.loads(json.dumps(config, default=str))
    return yaml.safe_dump(plain, sort_keys=False, allow_unicode=True, width=110)


def read_benchmarks(files: Sequence[str | Path], root: str | Path | None = None) -> pd.DataFrame:
    """One row per Snakemake benchmark file of `files` that exists: job (the path under `root`, else the
    file's path, without .tsv), seconds, CPU seconds and max RSS (MB). `files` are this config's jobs
    (`cddgan.plan.job_benchmarks`), so a record left by a job of another config never shows."""
    records = []
    for path in map(Path, files):
        if not path.is_file():
            continue
        try:
            frame = pd.read_csv(path, sep="\t")
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            continue
        if frame.empty or "s" not in frame.columns:
            continue
        last = frame.iloc[-1]  # repeated benchmarks: Snakemake writes one line per repeat
        name = path.relative_to(root) if root is not None and path.is_relative_to(root) else path
        records.append({
            "job": str(name.with_suffix("")),
            "seconds": float(last["s"]),
            "max_rss_mb": float(last["max_rss"]) if "max_rss" in frame.columns else float("nan"),
            "cpu_time_s": float(last["cpu_time"]) if "cpu_time" in frame.columns else float("nan"),
        })
    return pd.DataFrame(records, columns=["job", "seconds", "max_rss_mb", "cpu_time_s"])


def benchmark_table(files: Sequence[str | Path], root: str | Path | None = None) -> Table | None:
    """Wall and CPU time per Snakemake job of `files` (one config's benchmark records, named relative to
    `root`), longest first. Wall times are not added up: jobs that ran side by side overlap, and the records
    hold no start times to measure the span from the first start to the last end; CPU time adds up."""
    frame = read_benchmarks(files, root)
    if frame.empty:
        return None
    frame = frame.sort_values("seconds", ascending=False).reset_index(drop=True)

    def num(value: float, digits: int) -> Cell:
        return Cell("–", None) if pd.isna(value) else Cell(f"{value:,.{digits}f}", float(value))

    rows = [
        Row(job.job, [Cell(job.job, None), num(job.seconds, 1), num(job.cpu_time_s, 1), num(job.max_rss_mb, 0)])
        for job in frame.itertuples()
    ]
    cpu = frame["cpu_time_s"].sum(min_count=1)
    cpu_text = "unknown" if pd.isna(cpu) else f"{cpu:,.1f} s ({dt.timedelta(seconds=round(cpu))})"
    longest = frame.iloc[0]
    notes = [
        f"{len(frame)} jobs; CPU time in total {cpu_text}; the longest job, {longest['job']}, took "
        f"{longest['seconds']:,.1f} s of wall time.",
        "Wall times are not added up: jobs that ran side by side overlap, so their sum would overstate the time "
        "the benchmark took, and Snakemake's benchmark records hold no start times from which the span from the "
        "first start to the last end could be measured.",
    ]
    columns = [Column("Job", numeric=False), Column("Wall time (s)"), Column("CPU time (s)"), Column("Max RSS (MB)")]
    return Table("jobs", "Time per job", columns, [Group("", rows)], notes, frame)


def provenance(config: Mapping, results_dir: Path) -> dict:
    """Everything the provenance section shows."""
    runs = config.get("runs", {}) or {}
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git": code_version(CODE_ROOT),
        "extra_rules": extra_rules(CODE_ROOT),
        "seeds": {"default": list(config.get("seeds", [])),
                  "per run": {name: list(spec.get("seeds", [])) for name, spec in runs.items()}},
        "packages": package_versions(),
        "hardware": hardware(),
        "config_yaml": config_yaml(config),
        "results_dir": str(Path(results_dir)),
    }
