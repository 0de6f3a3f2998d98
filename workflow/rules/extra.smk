# A user's own baseline rules (docs/adding-a-baseline.md): the .smk files that runs name with `rule:` (a
# name in workflow/rules/extra/, or a path). Only those are included, so each config switches its rule
# baselines on. They come before the harness's rules, so a rule name that clashes with the harness's is
# refused here with the user's file named (Snakemake would blame the harness's file).
_EXTRA_DIR = Path(workflow.basedir, "workflow", "rules", "extra")
_EXTRAS = plan.rule_files(C, _EXTRA_DIR)
_MISSING = [f"runs.{name}.rule: {path} not found" for name, path in _EXTRAS.items() if not path.is_file()]
_CLASHES = plan.rule_name_clashes(
    [path for path in _EXTRAS.values() if path.is_file()],
    [*sorted(Path(workflow.basedir, "workflow", "rules").glob("*.smk")), Path(workflow.main_snakefile)],
    Path(workflow.basedir),
)
if _MISSING or _CLASHES:
    sys.stderr.write("\nConfig error (nothing was run):\n" + "\n".join(_MISSING + _CLASHES) + "\n\n")
    raise SystemExit(1)
_UNUSED = sorted(p.name for p in _EXTRA_DIR.glob("*.smk") if p not in set(_EXTRAS.values()))
if _UNUSED:
    sys.stderr.write(
        f"Note: workflow/rules/extra/ holds {', '.join(_UNUSED)}, which no run of this config names with "
        "`rule:`; not included.\n"
    )


def register_rule_baseline(name, label=None, seeds=None):
    """The raw output folder (pattern) of the run `name`, which the config declares with
    `runs.<name>: {rule: <this file>}` (label and seeds come from there). The rule must write one image
    per staged test image (same stem, same size) into it; the harness checks, converts, scores and reports
    it like any other run."""
    if RUNS.get(name, {}).get("kind") != "rule":
        raise ValueError(
            f"workflow/rules/extra: run {name!r} is not declared in the config; add "
            f"`runs: {{{name}: {{rule: <this file>.smk}}}}` to it (a rule baseline is switched on by its config entry)"
        )
    return raw_outputs(name)


def raw_outputs(run):
    """The directory a run's external program (or user rule) writes, per experiment, seed and dataset."""
    return L.raw_outputs("{experiment}", run, "{seed}", "{dataset}")


def staged_test_inputs(dataset="{dataset}"):
    """The staged test inputs of a dataset: a folder whose `images/` holds one `<image_id>.png` (8-bit RGB)
    per hazy test image, and nothing else (the folder itself also holds Snakemake's timestamp file)."""
    return L.staged_test_inputs(dataset)


def tolerant(command):
    """Wrap the shell command of a user's baseline so that its failure is a result, not a crash. The output
    folder is made first and a non-zero exit is recorded there; collect_outputs then records the run as
    FAILED with the tail of the log, the sweep goes on, and Snakemake exits non-zero at the end."""
    return f"mkdir -p {{output:q}}; ({command}) || echo \"exit status $?\" > {{output:q}}/{COMMAND_FAILED}"


for _extra in _EXTRAS.values():

    include: str(Path(_extra).resolve())
