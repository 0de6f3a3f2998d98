# cddgan-bench: one DAG from datasets to the HTML report.
#   snakemake --cores 8 all                                 # the embedded default (config/config.yaml)
#   snakemake --cores 8 all --configfile config/smoke.yaml  # the whole DAG in about a minute
# Rules only wire the `cddgan` command line; the library does the work. See docs/ and workflow/rules/.

from snakemake.utils import min_version

min_version("9.0")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/dehaze.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        f"{REPORTS}/index.html",
        f"{RESULTS}/tables/comparison.csv",
    default_target: True
