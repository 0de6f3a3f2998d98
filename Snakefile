# cddgan-bench: one DAG from datasets to the HTML report.
#   snakemake --cores 8 all                                 # the embedded default (config/config.yaml)
#   snakemake --cores 8 all --configfile config/smoke.yaml  # the whole DAG in about a minute
# Rules only wire the `cddgan` command line; the library does the work. See docs/architecture.md.

from snakemake.utils import min_version

min_version("9.0")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/extra.smk"


wildcard_constraints:
    dataset=plan.alternatives(DATASETS),
    experiment=plan.alternatives(EXPERIMENTS),
    run=plan.alternatives(RUNS),
    seed=r"\d+",


include: "workflow/rules/external.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/test.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


# Trivial jobs run in the Snakemake process itself, also on a cluster (no scheduler round trip).
localrules:
    all,
    aggregate,
    train_member,


rule all:
    input:
        L.report_index(),
        L.table("comparison"),
    default_target: True


# A failing external program is a result (its run is FAILED in the tables and the report, the sweep goes
# on), but the workflow exits non-zero at the end so a script notices; a diverged GAN is a result too and
# does not (docs/reliability.md).
onsuccess:
    from cddgan.report.results import failed_external_runs

    _failed = failed_external_runs(C, L)
    if _failed:
        sys.stderr.write("\n" + "\n".join(_failed) + "\n\n")
        raise SystemExit(1)
