# The HTML report (tables, plots, visual comparisons, provenance), built from the tables and the config
# snapshot the aggregate job wrote together, and from the files cddgan.plan names; nothing else.


rule report:
    conda:
        CONDA_ENV
    input:
        **plan.report_inputs(C, L),
    output:
        index=report(L.report_index(), category="Report", caption="../report/report_html.rst"),
        figures=report(
            directory(L.report_figures()),
            patterns=["{name}.png"],
            category="Plots",
            caption="../report/comparison_plot.rst",
        ),
    params:
        config=lambda w, input: input.config[0],
        results=lambda w: L.results,
        out=lambda w, output: os.path.dirname(output.index),
    resources:
        **W.resources("light"),
    threads: W.threads("light")
    log:
        L.job_log("report"),
    benchmark:
        L.job_benchmark("report")
    shell:
        "python3 -m cddgan report --config {params.config:q} --results {params.results:q} --out {params.out:q} > {log:q} 2>&1"
