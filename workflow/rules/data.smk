# Every dataset becomes a manifest (split, domain, path, pair id, haze parameters).


rule make_data:
    conda:
        CONDA_ENV
    output:
        manifest=f"{RESULTS}/data/{{dataset}}/manifest.csv",
        info=f"{RESULTS}/data/{{dataset}}/manifest.json",
    params:
        spec=lambda w: json.dumps(DATASETS[w.dataset], sort_keys=True),
        out=lambda w, output: os.path.dirname(output.manifest),
    resources:
        **job_resources("light"),
    threads: job_threads("light")
    log:
        f"{RESULTS}/logs/make_data/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_data/{{dataset}}.tsv"
    shell:
        "python3 -m cddgan make-data --name {wildcards.dataset:q} --spec {params.spec:q} --out {params.out:q} > {log:q} 2>&1"
