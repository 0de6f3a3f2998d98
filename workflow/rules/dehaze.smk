# Dehaze each test set with each run (trained model or training-free method).

rule dehaze:
    conda:
        CONDA_ENV
    input:
        unpack(dehaze_inputs),
    output:
        directory(f"{RESULTS}/outputs/{{experiment}}/{{run}}/seed{{seed}}/{{dataset}}"),
    wildcard_constraints:
        run=_alternatives(method_runs()) or NO_MATCH,
    params:
        spec=run_spec,
        code=method_code,
        model=lambda w, input: f"--model {input.model}" if "model" in input.keys() else "",
        device=untracked_device,
    resources:
        **job_resources("inference", sized=True),
    threads: job_threads("inference")
    log:
        f"{RESULTS}/logs/dehaze/{{experiment}}/{{run}}/seed{{seed}}/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/dehaze/{{experiment}}/{{run}}/seed{{seed}}/{{dataset}}.tsv"
    shell:
        "python3 -m cddgan dehaze --spec {params.spec:q} {params.model} --manifest {input.manifest:q} --out {output:q}"
        " --device {params.device:q} > {log:q} 2>&1"
