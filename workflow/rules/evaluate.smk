# Score every output image, measure every run's efficiency, and aggregate over images and seeds.


rule evaluate:
    conda:
        CONDA_ENV
    input:
        manifest=lambda w: manifest(w.dataset),
        outputs=f"{RESULTS}/outputs/{{experiment}}/{{run}}/seed{{seed}}/{{dataset}}",
    output:
        f"{RESULTS}/metrics/{{experiment}}/{{run}}/seed{{seed}}/{{dataset}}.csv",
    params:
        protocol=lambda w: json.dumps(DATASETS[w.dataset].get("protocol", "rgb")),
        weights=json.dumps(C["metrics"].get("weights", {})),
    resources:
        **job_resources("light", sized=True),
    threads: job_threads("light")
    log:
        f"{RESULTS}/logs/evaluate/{{experiment}}/{{run}}/seed{{seed}}/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/{{experiment}}/{{run}}/seed{{seed}}/{{dataset}}.tsv"
    shell:
        "python3 -m cddgan evaluate --manifest {input.manifest:q} --outputs {input.outputs:q} --protocol {params.protocol:q}"
        " --weights {params.weights:q} --experiment {wildcards.experiment:q} --dataset {wildcards.dataset:q}"
        " --run {wildcards.run:q} --seed {wildcards.seed} --out {output:q} > {log:q} 2>&1"


rule efficiency:
    conda:
        CONDA_ENV
    input:
        manifest=lambda w: manifest(EXPERIMENTS[w.experiment]["train"]),
    output:
        f"{RESULTS}/efficiency/{{experiment}}/{{run}}.json",
    params:
        spec=lambda w: spec_json(w.experiment, w.run, RUNS[w.run]["seeds"][0]),
        code=method_code,
        execution=lambda w: execution_json(w.run),  # tracked: the efficiency figures measure these choices
    resources:
        **job_resources("inference"),
    threads: job_threads("inference")
    log:
        f"{RESULTS}/logs/efficiency/{{experiment}}/{{run}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/efficiency/{{experiment}}/{{run}}.tsv"
    shell:
        "python3 -m cddgan efficiency --spec {params.spec:q} --execution {params.execution:q} --manifest {input.manifest:q}"
        " --out {output:q} > {log:q} 2>&1"


rule aggregate:
    conda:
        CONDA_ENV
    input:
        metric_files(),
    output:
        scores=report(
            f"{RESULTS}/tables/scores.csv", category="Tables", caption="../report/comparison_table.rst"
        ),
        comparison=report(
            f"{RESULTS}/tables/comparison.csv", category="Tables", caption="../report/comparison_table.rst"
        ),
    params:
        out=lambda w, output: os.path.dirname(output.scores),
    resources:
        **job_resources("light"),
    threads: job_threads("light")
    log:
        f"{RESULTS}/logs/aggregate.log",
    benchmark:
        f"{RESULTS}/benchmarks/aggregate/aggregate.tsv"
    shell:
        "python3 -m cddgan aggregate {input:q} --out-dir {params.out:q} > {log:q} 2>&1"
