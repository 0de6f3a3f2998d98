# A user's own baseline rules: .smk files in workflow/rules/extra/ (see docs/adding-a-baseline.md). They
# come before the harness's rules, which read the runs they register, so a rule name that clashes with
# the harness's is refused here, with the user's file named (Snakemake would blame the harness's file).
_EXTRAS = sorted(Path(workflow.basedir, "workflow", "rules", "extra").glob("*.smk"))
_CLASHES = plan.rule_name_clashes(
    _EXTRAS,
    [*sorted(Path(workflow.basedir, "workflow", "rules").glob("*.smk")), Path(workflow.main_snakefile)],
    Path(workflow.basedir),
)
if _CLASHES:
    sys.stderr.write("\nConfig error (nothing was run):\n" + "\n".join(_CLASHES) + "\n\n")
    raise SystemExit(1)


def register_rule_baseline(name, label=None, seeds=None):
    """Declare a run produced by a user's own rule; returns its raw output pattern (a directory).

    The rule must write one image per file of `staged_test_inputs()` (same stem, same size) into that
    directory; the harness checks, converts, scores and reports it like any other run.
    """
    if name in RUNS:
        raise ValueError(f"workflow/rules/extra: run name {name!r} is already used by the config")
    RUNS[name] = plan.rule_run(C, name, label, seeds)
    if name not in C["main_runs"]:
        C["main_runs"].append(name)
    return raw_outputs(name)


def raw_outputs(run):
    """The directory a run's external program (or user rule) writes, per experiment, seed and dataset."""
    return L.raw_outputs("{experiment}", run, "{seed}", "{dataset}")


def staged_test_inputs(dataset="{dataset}"):
    """The staged hazy test images of a dataset: `<image_id>.png`, 8-bit RGB."""
    return L.staged_test_inputs(dataset)


for _extra in _EXTRAS:

    include: str(_extra)
