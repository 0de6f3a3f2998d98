# The resolved config snapshot and the HTML report (tables, plots, visual comparisons, provenance).


# The snapshot is tracked through a digest of its text: a dry run's "reason" then shows a short hash, not
# the whole resolved config twice. A local rule (Snakefile), so it writes the file from this process.
rule config_snapshot:
    output:
        f"{RESULTS}/config.resolved.yaml",
    params:
        digest=lambda w: config_digest(),
    resources:
        **job_resources("light"),
    threads: job_threads("light")
    log:
        f"{RESULTS}/logs/config_snapshot.log",
    benchmark:
        f"{RESULTS}/benchmarks/config_snapshot/config_snapshot.tsv"
    run:
        from cddgan.io import write_text

        write_text(output[0], config_text())


rule report:
    conda:
        CONDA_ENV
    input:
        config=f"{RESULTS}/config.resolved.yaml",
        comparison=f"{RESULTS}/tables/comparison.csv",
        losses=loss_files(),
        efficiency=efficiency_files(),
    output:
        index=report(f"{REPORTS}/index.html", category="Report", caption="../report/report_html.rst"),
        figures=report(
            directory(f"{REPORTS}/figures"),
            patterns=["{name}.png"],
            category="Plots",
            caption="../report/comparison_plot.rst",
        ),
    params:
        results=lambda w, input: os.path.dirname(input.config),
        out=lambda w, output: os.path.dirname(output.index),
    resources:
        **job_resources("light"),
    threads: job_threads("light")
    log:
        f"{RESULTS}/logs/report.log",
    benchmark:
        f"{RESULTS}/benchmarks/report/report.tsv"
    shell:
        "python3 -m cddgan report --config {input.config:q} --results {params.results:q} --out {params.out:q} > {log:q} 2>&1"
