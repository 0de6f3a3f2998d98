# Every dataset becomes a manifest (split, domain, path, pair id, haze parameters). The manifest follows
# its source: `fingerprint` (tracked) digests the dataset's files (names, sizes, modification times) or,
# for the synthetic benchmark, its generator settings and code, so any change rebuilds it and everything
# downstream, and an unchanged dataset rebuilds nothing.


rule make_data:
    conda:
        CONDA_ENV
    output:
        manifest=L.manifest("{dataset}"),
        info=L.manifest_info("{dataset}"),
    params:
        spec=lambda w: json.dumps(DATASETS[w.dataset], sort_keys=True),
        fingerprint=lambda w: dataset_fingerprint(w.dataset, DATASETS[w.dataset], exclude=[Path(L.results)]),
        out=lambda w, output: os.path.dirname(output.manifest),
    resources:
        **W.resources("light"),
    threads: W.threads("light")
    log:
        L.job_log("make_data"),
    benchmark:
        L.job_benchmark("make_data")
    shell:
        # the one-line summary of conversions (grey, RGBA, 16-bit, resized test images) reaches the terminal;
        # the full list is in the log and the manifest's sidecar
        "python3 -m cddgan make-data --name {wildcards.dataset:q} --spec {params.spec:q} --out {params.out:q} > {log:q} 2>&1;"
        " grep -h '^make_data ' {log:q} >&2 || true"
