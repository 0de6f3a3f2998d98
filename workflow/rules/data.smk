# Every dataset becomes a manifest (split, domain, path, pair id, haze parameters).


rule make_data:
    output:
        manifest=f"{RESULTS}/data/{{dataset}}/manifest.csv",
        info=f"{RESULTS}/data/{{dataset}}/manifest.json",
    params:
        spec=lambda w: json.dumps(DATASETS[w.dataset], sort_keys=True),
        out=lambda w: f"{RESULTS}/data/{w.dataset}",
    log:
        f"{RESULTS}/logs/make_data/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_data/{{dataset}}.tsv"
    shell:
        "cddgan make-data --name {wildcards.dataset:q} --spec {params.spec:q} --out {params.out:q} > {log:q} 2>&1"
