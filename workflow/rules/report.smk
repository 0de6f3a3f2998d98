# The resolved config snapshot and the HTML report (tables, plots, visual comparisons, provenance).


rule config_snapshot:
    conda:
        CONDA_ENV
    output:
        f"{RESULTS}/config.resolved.yaml",
    params:
        text=lambda w: yaml.safe_dump(C, sort_keys=False),
    resources:
        **job_resources("light"),
    threads: job_threads("light")
    log:
        f"{RESULTS}/logs/config_snapshot.log",
    benchmark:
        f"{RESULTS}/benchmarks/config_snapshot/config_snapshot.tsv"
    shell:
        "printf '%s' {params.text:q} > {output:q} 2> {log:q}"


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
