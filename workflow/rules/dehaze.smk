# Dehaze each test set with each run (trained model or training-free method). A failed run's folder
# holds only the FAILED file with the reason: the run's status, where the tables find it.


rule dehaze:
    conda:
        CONDA_ENV
    input:
        unpack(W.dehaze_inputs),
    output:
        directory(L.outputs("{experiment}", "{run}", "{seed}", "{dataset}")),
    wildcard_constraints:
        run=plan.alternatives(plan.method_runs(C)),
    params:
        spec=W.run_spec,
        code=W.method_code,
        model=W.model_argument,
        device=W.untracked_device,
    resources:
        **W.resources("inference", sized=True),
    threads: W.threads("inference")
    log:
        L.job_log("dehaze"),
    benchmark:
        L.job_benchmark("dehaze")
    shell:
        "python3 -m cddgan dehaze --spec {params.spec:q} {params.model} --manifest {input.manifest:q} --out {output:q}"
        " --device {params.device:q} > {log:q} 2>&1"
