# cddgan-bench: one DAG from datasets to the HTML report.
#   snakemake --cores 8 all                                 # the embedded default (config/config.yaml)
#   snakemake --cores 8 all --configfile config/smoke.yaml  # the whole DAG in about a minute
# Rules only wire the `cddgan` command line; the library does the work. See docs/ and workflow/rules/.

from snakemake.utils import min_version

min_version("9.0")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


# A user's own baseline rules: drop a .smk file here (see docs/adding-a-baseline.md). They come before the
# harness's rules (which read the runs they register), so a clashing rule name is checked here: Snakemake
# would blame the harness's file.
_EXTRAS = sorted(Path(workflow.basedir, "workflow", "rules", "extra").glob("*.smk"))
check_extra_rule_names(_EXTRAS, [*sorted(Path(workflow.basedir, "workflow", "rules").glob("*.smk")), Path(workflow.main_snakefile)])
for _extra in _EXTRAS:

    include: str(_extra)


wildcard_constraints:
    dataset=_alternatives(DATASETS),
    experiment=_alternatives(EXPERIMENTS),
    run=_alternatives(RUNS),
    seed=r"\d+",


include: "workflow/rules/external.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/dehaze.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


# Trivial jobs run in the Snakemake process itself, also on a cluster (no scheduler round trip).
localrules:
    all,
    config_snapshot,
    aggregate,
    train_member,


rule all:
    input:
        f"{REPORTS}/index.html",
        f"{RESULTS}/tables/comparison.csv",
    default_target: True
