"""Every path under `results/` and `reports/`: the one place that names them.

The Snakemake rules declare their inputs and outputs with these functions, the command line writes
where they say and the report reads where they say, so a change of layout is a change of this module.
Arguments may be values (`"synthetic"`, `0`) or Snakemake wildcards (`"{experiment}"`, `"{seed}"`): the
functions only join strings.

Nothing here globs a folder. A folder under `results/` can hold files of runs that are no longer part
of the config (Snakemake never deletes outputs of jobs that left the DAG); readers take the list of
files a config asks for from `cddgan.plan`, built from these functions, and never look further.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Part = str | int

# The tables the aggregate job writes together with the config snapshot (results/tables/<name>.csv).
TABLES = ("scores", "comparison", "per_image", "failures", "losses", "efficiency", "comparisons", "robustness",
          "convergence", "validation", "runs")
# What a command baseline's shell leaves in its raw output folder when the program exits non-zero (the exit
# status); collect_outputs turns it into the run's FAILED file.
COMMAND_FAILED = ".command_failed"
# The file a dehaze (or collect) job writes into its output folder, instead of images, for a run that
# failed (a diverged loss, a failing external program): it holds the reason. The run's status lives here.
FAILED_MARKER = "FAILED"


# The wildcards that name each harness rule's log and benchmark record, in folder order. A user's own
# rule (workflow/rules/extra) names its files itself.
JOB_FIELDS: dict[str, tuple[str, ...]] = {
    "make_data": ("dataset",),
    "stage_test_inputs": ("dataset",),
    "stage_train_inputs": ("dataset",),
    "command_setup": ("run",),
    "train": ("experiment", "run", "seed"),
    "train_group": ("experiment", "run", "seeds"),
    "train_member": ("experiment", "run", "seed"),
    "command_train": ("experiment", "run", "seed"),
    "test": ("experiment", "run", "seed"),
    "command_dehaze": ("experiment", "run", "seed", "dataset"),
    "collect_outputs": ("experiment", "run", "seed", "dataset"),
    "evaluate": ("experiment", "run", "seed"),
    "efficiency": ("experiment", "run"),
    "aggregate": (),
    "report": (),
}


def _seed(seed: Part) -> str:
    return f"seed{seed}"


# The report folder: tables (CSV, Markdown, LaTeX), figures (PNG, SVG), copied images, the page's script and
# style. Relative links between them keep the folder self-contained.
REPORT_FOLDERS = ("tables", "figures", "images", "static")


def report_link(folder: str, name: str) -> str:
    """The link from index.html to a file of the report folder."""
    if folder not in REPORT_FOLDERS:
        raise ValueError(f"unknown report folder {folder!r}; one of {', '.join(REPORT_FOLDERS)}")
    return f"{folder}/{name}"


def _wildcards(rule: str) -> dict[str, str]:
    return {field: "{" + field + "}" for field in JOB_FIELDS[rule]}


def _job_path(rule: str, values: Mapping[str, Part]) -> str:
    fields = JOB_FIELDS.get(rule)
    if fields is None or set(values) != set(fields):
        raise ValueError(f"rule {rule!r} names its files by {fields}, got {sorted(values)}")
    prefix = {"seed": "seed", "seeds": "seeds"}
    parts = [f"{prefix.get(field, '')}{values[field]}" for field in fields]
    return "/".join([rule, *parts]) if parts else rule


@dataclass(frozen=True)
class Layout:
    """The folders of one config: `results` (everything computed) and `reports` (the HTML report)."""

    results: str = "results"
    reports: str = "reports"

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Layout:
        """The layout of a resolved config (its `results:` and `reports:` keys)."""
        return cls(str(config.get("results", "results")), str(config.get("reports", "reports")))

    # ---- datasets ---------------------------------------------------------------------------------
    def data_dir(self, dataset: Part) -> str:
        """A dataset's prepared files: its manifest, sidecar and any resized or generated images."""
        return f"{self.results}/data/{dataset}"

    def manifest(self, dataset: Part) -> str:
        return f"{self.data_dir(dataset)}/manifest.csv"

    def manifest_info(self, dataset: Part) -> str:
        """The manifest's JSON sidecar (counts, warnings, test image sizes)."""
        return f"{self.data_dir(dataset)}/manifest.json"

    # ---- training ---------------------------------------------------------------------------------
    def run_dir(self, experiment: Part, run: Part, seed: Part) -> str:
        return f"{self.results}/runs/{experiment}/{run}/{_seed(seed)}"

    def model(self, experiment: Part, run: Part, seed: Part) -> str:
        return f"{self.run_dir(experiment, run, seed)}/model.pt"

    def losses(self, experiment: Part, run: Part, seed: Part) -> str:
        return f"{self.run_dir(experiment, run, seed)}/losses.csv"

    def validation(self, experiment: Part, run: Part, seed: Part) -> str:
        """The validation curve: one row per evaluation (iteration, PSNR, SSIM over the validation subset)."""
        return f"{self.run_dir(experiment, run, seed)}/validation.csv"

    def run_info(self, experiment: Part, run: Part, seed: Part) -> str:
        """What a training job records beside the model: the machine, the iterations, the selected one."""
        return f"{self.run_dir(experiment, run, seed)}/run.json"

    def model_dir(self, experiment: Part, run: Part, seed: Part) -> str:
        """What an external training command writes (a folder it fills as it likes)."""
        return f"{self.run_dir(experiment, run, seed)}/model_dir"

    def checkpoints(self, experiment: Part, run: Part, seed: Part) -> str:
        """Resumable checkpoints: outside the declared outputs, so a killed job resumes."""
        return f"{self.results}/checkpoints/{experiment}/{run}/{_seed(seed)}"

    def group_dir(self, experiment: Part, run: Part, seeds: Part) -> str:
        """The output folder of several seeds trained in one job; `seeds` like "0-1-2-3"."""
        return f"{self.results}/groups/{experiment}/{run}/seeds{seeds}"

    def efficiency(self, experiment: Part, run: Part) -> str:
        return f"{self.results}/efficiency/{experiment}/{run}.json"

    # ---- testing ----------------------------------------------------------------------------------
    def seed_outputs(self, experiment: Part, run: Part, seed: Part) -> str:
        """A run's outputs on every test set of its experiment: one sub-folder per test set."""
        return f"{self.results}/outputs/{experiment}/{run}/{_seed(seed)}"

    def outputs(self, experiment: Part, run: Part, seed: Part, dataset: Part) -> str:
        """One PNG per hazy test image, or only the `FAILED_MARKER` file for a failed run."""
        return f"{self.seed_outputs(experiment, run, seed)}/{dataset}"

    def output_image(self, experiment: Part, run: Part, seed: Part, dataset: Part, image_id: str) -> str:
        return f"{self.outputs(experiment, run, seed, dataset)}/{image_id}.png"

    def failed_marker(self, experiment: Part, run: Part, seed: Part, dataset: Part) -> str:
        return f"{self.outputs(experiment, run, seed, dataset)}/{FAILED_MARKER}"

    def metrics(self, experiment: Part, run: Part, seed: Part) -> str:
        """One row per test image of every test set of the run's experiment."""
        return f"{self.results}/metrics/{experiment}/{run}/{_seed(seed)}.csv"

    # ---- external baselines -----------------------------------------------------------------------
    def staged_test_inputs(self, dataset: Part) -> str:
        """The staging job's folder (Snakemake puts its `.snakemake_timestamp` here); the images are in
        `staged_test_images`."""
        return f"{self.results}/inputs/{dataset}/test_hazy"

    def staged_test_images(self, dataset: Part) -> str:
        """The hazy test images as `<image_id>.png`, 8-bit RGB, and nothing else: what external programs read."""
        return f"{self.staged_test_inputs(dataset)}/images"

    def staged_train_inputs(self, dataset: Part) -> str:
        """Links to the training images under `hazy/` and `clear/`, for external training commands."""
        return f"{self.results}/inputs/{dataset}/train"

    def raw_outputs(self, experiment: Part, run: Part, seed: Part, dataset: Part) -> str:
        """What an external program (or a user's rule) writes, before the harness checks and converts it."""
        return f"{self.results}/raw/{experiment}/{run}/{_seed(seed)}/{dataset}"

    def setup_dir(self, run: Part) -> str:
        return f"{self.results}/external/{run}/setup"

    def setup_done(self, run: Part) -> str:
        return f"{self.results}/external/{run}/setup.done"

    # ---- tables and the config they describe ------------------------------------------------------
    def tables_dir(self) -> str:
        return f"{self.results}/tables"

    def table(self, name: str) -> str:
        """`results/tables/<name>.csv`, one of `TABLES`."""
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r}; one of {', '.join(TABLES)}")
        return f"{self.tables_dir()}/{name}.csv"

    def config_snapshot(self) -> str:
        """The resolved config that produced the tables, written with them by the same job."""
        return f"{self.results}/config.resolved.yaml"

    # ---- logs and Snakemake benchmark records -----------------------------------------------------
    def log(self, rule: str, **values: Part) -> str:
        """`results/logs/<rule>/<experiment>/<run>/seed<k>/<dataset>.log`: the job's own log, named by the
        values of its wildcards (`JOB_FIELDS`); a rule that runs once has `results/logs/<rule>.log`."""
        return f"{self.results}/logs/{_job_path(rule, values)}.log"

    def job_log(self, rule: str) -> str:
        """A rule's `log:` pattern: its log path with each naming field as a Snakemake wildcard."""
        return self.log(rule, **_wildcards(rule))

    def job_benchmark(self, rule: str) -> str:
        """A rule's `benchmark:` pattern, named like its log."""
        return self.benchmark(rule, **_wildcards(rule))

    def benchmarks_dir(self) -> str:
        return f"{self.results}/benchmarks"

    def benchmark(self, rule: str, **values: Part) -> str:
        """Snakemake's time and memory record of one job, named like its log, under `benchmarks/`."""
        return f"{self.benchmarks_dir()}/{_job_path(rule, values)}.tsv"

    # ---- the report -------------------------------------------------------------------------------
    def report_index(self) -> str:
        return f"{self.reports}/index.html"

    def report_file(self, folder: str, name: str) -> str:
        """A file of the self-contained report folder: `folder` is one of `REPORT_FOLDERS`. The page
        links it by the same path relative to the report (`report_link`)."""
        return f"{self.reports}/{report_link(folder, name)}"

    def report_folder(self, folder: str) -> str:
        return f"{self.reports}/{report_link(folder, '')}".rstrip("/")

    def report_figures(self) -> str:
        return self.report_folder("figures")
