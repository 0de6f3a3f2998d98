"""What a resolved config asks the DAG to make: its jobs, the files they write, and the values the rules
fill into command lines.

Pure functions of the resolved config (`cddgan.config.resolve`) and a `Layout`: no Snakemake, no torch,
so the workflow, the aggregate job and the report ask the same questions and get the same answers, and
the logic is unit-tested without running Snakemake. The Snakefile declares a job's inputs with these
lists; the aggregate job reads exactly these files; nothing globs `results/`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from cddgan.layout import TABLES, Layout

Config = Mapping[str, Any]


class TestJob(NamedTuple):
    """One run's outputs on one test set: dehaze (or an external program), then evaluate."""

    experiment: str
    run: str
    seed: int
    dataset: str


class TrainJob(NamedTuple):
    experiment: str
    run: str
    seed: int


# ---- runs -----------------------------------------------------------------------------------------------


def kind(config: Config, run: str) -> str:
    """"method" (a registered Python method), "command" (an external program) or "rule" (a user's rule)."""
    return str(config["runs"][run].get("kind", "method"))


def method_runs(config: Config) -> list[str]:
    return [name for name in config["runs"] if kind(config, name) == "method"]


def command_runs(config: Config) -> list[str]:
    return [name for name in config["runs"] if kind(config, name) == "command"]


def external_runs(config: Config) -> list[str]:
    """Runs whose images come from outside the harness: command templates and user rules."""
    return [name for name in config["runs"] if kind(config, name) in ("command", "rule")]


def trained_runs(config: Config) -> list[str]:
    """Runs trained by the harness's own loop (the `train` / `train_group` rules)."""
    return [name for name in method_runs(config) if config["runs"][name]["trainable"]]


def rule_files(config: Config, extra_dir: Path) -> dict[str, Path]:
    """The Snakemake file of each rule run (`runs.<name>.rule`): a bare name lives in `extra_dir`
    (workflow/rules/extra/), anything else is a path. Only these files are included."""
    out = {}
    for name, run in config["runs"].items():
        if run.get("kind") == "rule":
            given = Path(run["rule"])
            out[name] = given if given.is_absolute() or len(given.parts) > 1 else Path(extra_dir) / given
    return out


def label(config: Config, run: str) -> str:
    """The name a run goes by in tables and figures: its `label:`, else its key."""
    return str(config.get("runs", {}).get(run, {}).get("label", run))


def main_runs(config: Config) -> list[str]:
    """The runs of the main comparison, in table order (worked out once, by `cddgan.config.resolve`)."""
    return list(config["main_runs"])


def reference_runs(config: Config) -> list[str]:
    """Reference floors (the hazy input scored as an answer): rows to beat, not methods to rank."""
    return [name for name, run in config["runs"].items() if (run.get("facts") or {}).get("reference_floor")]


# ---- jobs and their files -------------------------------------------------------------------------------


def train_jobs(config: Config) -> list[TrainJob]:
    return [
        TrainJob(experiment, run, int(seed))
        for experiment in config["experiments"]
        for run in trained_runs(config)
        for seed in config["runs"][run]["seeds"]
    ]


def test_jobs(config: Config) -> list[TestJob]:
    """Every (experiment, run, seed, test set) the config asks for, in config order."""
    return [
        TestJob(experiment, run, int(seed), dataset)
        for experiment, spec in config["experiments"].items()
        for run, run_cfg in config["runs"].items()
        for seed in run_cfg["seeds"]
        for dataset in spec["test"]
    ]


def seed_jobs(config: Config) -> list[TrainJob]:
    """Every (experiment, run, seed): one test job each (all the experiment's test sets in one process)."""
    return [
        TrainJob(experiment, run, int(seed))
        for experiment in config["experiments"]
        for run, run_cfg in config["runs"].items()
        for seed in run_cfg["seeds"]
    ]


def test_sets(config: Config, layout: Layout, experiment: str) -> list[dict[str, Any]]:
    """The test sets of an experiment as a test job takes them: dataset, manifest and metric protocol."""
    return [
        {"dataset": d, "manifest": layout.manifest(d), "protocol": config["datasets"][d].get("protocol", "rgb")}
        for d in config["experiments"][experiment]["test"]
    ]


def efficiency_jobs(config: Config) -> list[tuple[str, str]]:
    """(experiment, run) of every Python method run: parameters, MACs, time and memory."""
    return [(experiment, run) for experiment in config["experiments"] for run in method_runs(config)]


def used_datasets(config: Config) -> list[str]:
    """Datasets some experiment trains or tests on, in config order."""
    used = {e["train"] for e in config["experiments"].values()}
    used |= {d for e in config["experiments"].values() for d in e["test"]}
    return [name for name in config["datasets"] if name in used]


def metric_files(config: Config, layout: Layout) -> list[str]:
    return [layout.metrics(*job) for job in seed_jobs(config)]


def output_dirs(config: Config, layout: Layout, runs: Iterable[str] | None = None) -> list[str]:
    """The outputs (of `runs`, default all) as the jobs declare them: a method run's test job writes one
    folder for all its test sets; an external run's outputs are collected per test set."""
    wanted = set(config["runs"] if runs is None else runs)
    external = set(external_runs(config))
    folders = [layout.seed_outputs(*job) for job in seed_jobs(config) if job.run in wanted - external]
    return folders + [layout.outputs(*job) for job in test_jobs(config) if job.run in wanted & external]


def loss_files(config: Config, layout: Layout) -> list[str]:
    return [layout.losses(*job) for job in train_jobs(config)]


def validation_files(config: Config, layout: Layout) -> list[str]:
    return [layout.validation(*job) for job in train_jobs(config)]


def run_info_files(config: Config, layout: Layout) -> list[str]:
    return [layout.run_info(*job) for job in train_jobs(config)]


def efficiency_files(config: Config, layout: Layout) -> list[str]:
    return [layout.efficiency(*job) for job in efficiency_jobs(config)]


def aggregate_inputs(config: Config, layout: Layout) -> dict[str, list[str]]:
    """What the aggregate job reads: per-image metrics, the output folders (a failed run's reason lives
    there), loss logs, validation curves, run records and efficiency records of exactly this config's jobs."""
    return {
        "metrics": metric_files(config, layout),
        "outputs": output_dirs(config, layout),
        "losses": loss_files(config, layout),
        "validation": validation_files(config, layout),
        "run_info": run_info_files(config, layout),
        "efficiency": efficiency_files(config, layout),
    }


def visual_outputs(config: Config, layout: Layout) -> list[str]:
    """The output folders (as declared) the report's visual comparison may show: those of the main runs."""
    return output_dirs(config, layout, main_runs(config))


def report_inputs(config: Config, layout: Layout) -> dict[str, list[str]]:
    """What the report reads: the tables and their config snapshot (written together), the manifests of
    the test sets and the output folders its visual comparison shows."""
    return {
        "tables": [layout.table(name) for name in TABLES],
        "config": [layout.config_snapshot()],
        "manifests": [layout.manifest(d) for d in used_datasets(config)],
        "manifest_info": [layout.manifest_info(d) for d in used_datasets(config)],
        "visuals": visual_outputs(config, layout),
    }


# ---- seeds trained together (training.seeds_per_job > 1) ------------------------------------------------


def seeds_per_job(config: Config, run: str) -> int:
    return int((config["runs"][run].get("training") or {}).get("seeds_per_job", 1))


def grouped_runs(config: Config) -> list[str]:
    return [run for run in trained_runs(config) if seeds_per_job(config, run) > 1]


def seed_group(config: Config, run: str, seed: int | str) -> list[int]:
    """The seeds trained in one job with `seed`: consecutive chunks of the run's seeds."""
    seeds, size = [int(s) for s in config["runs"][run]["seeds"]], seeds_per_job(config, run)
    first = seeds.index(int(seed)) // size * size
    return seeds[first : first + size]


def seeds_text(seeds: Iterable[int]) -> str:
    """A group's seeds as they name its folder: "0-1-2-3"."""
    return "-".join(str(s) for s in seeds)


def group_arguments(
    config: Config, layout: Layout, experiment: str, run: str, seeds: str, spec_json: Any
) -> list[str]:
    """`--spec/--model/--losses/--checkpoint-dir` per seed of a group, for `cddgan train-group`.

    `spec_json(experiment, run, seed)` gives a seed's run spec as JSON text."""
    parts: list[str] = []
    for seed in (int(s) for s in seeds.split("-")):
        folder = f"{layout.group_dir(experiment, run, seeds)}/seed{seed}"
        parts += ["--spec", spec_json(experiment, run, seed)]
        parts += ["--model", f"{folder}/model.pt", "--losses", f"{folder}/losses.csv"]
        parts += ["--validation", f"{folder}/validation.csv", "--run-info", f"{folder}/run.json"]
        parts += ["--checkpoint-dir", layout.checkpoints(experiment, run, seed)]
    return parts


# ---- external programs ----------------------------------------------------------------------------------


def command_values(
    config: Config, layout: Layout, run: str, key: str, experiment: str | None, seed: int | str, threads: int,
    **paths: str,
) -> dict[str, Any]:
    """The harness placeholders of a run's `command`/`train`/`setup` template (quoted later)."""
    values: dict[str, Any] = {"seed": seed, "threads": threads, "setup_dir": layout.setup_dir(run), **paths}
    if key == "train" and experiment is not None:
        train = config["experiments"][experiment]["train"]
        values["train_hazy_dir"] = f"{layout.staged_train_inputs(train)}/hazy"
        values["train_clear_dir"] = f"{layout.staged_train_inputs(train)}/clear"
    return values


# ---- the jobs table of the report -----------------------------------------------------------------------


def job_benchmarks(config: Config, layout: Layout) -> list[str]:
    """Snakemake's benchmark record of every job this config runs before its report, as `Layout` names
    them: the report's table of wall time per job reads these files (those that exist) and no others."""
    files = [layout.benchmark("make_data", dataset=d) for d in used_datasets(config)]
    external = external_runs(config)
    if external:
        tested = list(dict.fromkeys(d for e in config["experiments"].values() for d in e["test"]))
        files += [layout.benchmark("stage_test_inputs", dataset=d) for d in tested]
    commands = command_runs(config)
    trained_commands = [r for r in commands if config["runs"][r].get("trainable")]
    if trained_commands:
        train_sets = list(dict.fromkeys(e["train"] for e in config["experiments"].values()))
        files += [layout.benchmark("stage_train_inputs", dataset=d) for d in train_sets]
    files += [layout.benchmark("command_setup", run=r) for r in commands if config["runs"][r].get("setup")]
    grouped = set(grouped_runs(config))
    groups: dict[tuple[str, str, str], None] = {}
    for job in train_jobs(config):
        if job.run in grouped:
            groups[(job.experiment, job.run, seeds_text(seed_group(config, job.run, job.seed)))] = None
        else:
            files.append(layout.benchmark("train", experiment=job.experiment, run=job.run, seed=job.seed))
    files += [layout.benchmark("train_group", experiment=e, run=r, seeds=s) for e, r, s in groups]
    for experiment in config["experiments"]:
        for run in trained_commands:
            for seed in config["runs"][run]["seeds"]:
                files.append(layout.benchmark("command_train", experiment=experiment, run=run, seed=seed))
    for job in test_jobs(config):
        if job.run in commands:
            values = dict(experiment=job.experiment, run=job.run, seed=job.seed, dataset=job.dataset)
            files.append(layout.benchmark("command_dehaze", **values))
        if job.run in external:
            values = dict(experiment=job.experiment, run=job.run, seed=job.seed, dataset=job.dataset)
            files.append(layout.benchmark("collect_outputs", **values))
    for job in seed_jobs(config):
        rule = "evaluate" if job.run in external else "test"
        files.append(layout.benchmark(rule, experiment=job.experiment, run=job.run, seed=job.seed))
    files += [layout.benchmark("efficiency", experiment=e, run=r) for e, r in efficiency_jobs(config)]
    files.append(layout.benchmark("aggregate"))
    return files


# ---- Snakemake helpers that are plain string work -------------------------------------------------------


NO_MATCH = "(?!)"  # a wildcard constraint that matches nothing (a rule with no runs of its kind)


def alternatives(names: Iterable[str]) -> str:
    """A wildcard constraint matching exactly these names (longest first), or `NO_MATCH` for none."""
    ordered = sorted(set(names), key=len, reverse=True)
    return "|".join(re.escape(n) for n in ordered) or NO_MATCH


_RULE_NAME = re.compile(r"^(?:rule|checkpoint)\s+(\w+)\s*:", re.MULTILINE)


def rule_name_clashes(extra_files: Iterable[Path], harness_files: Iterable[Path], root: Path) -> list[str]:
    """One message per rule of a user's rule file that takes a name the harness uses (Snakemake itself
    would name the harness's file as the culprit); harness files are named relative to `root`."""
    ours = {name: Path(path) for path in harness_files for name in _RULE_NAME.findall(Path(path).read_text())}
    return [
        f"{extra}: rule {name!r} clashes with the harness's rule of that name "
        f"({ours[name].relative_to(root) if ours[name].is_relative_to(root) else ours[name]}); give yours another name"
        for extra in extra_files
        for name in _RULE_NAME.findall(Path(extra).read_text())
        if name in ours
    ]

