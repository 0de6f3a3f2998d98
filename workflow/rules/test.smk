# Test each run: one job per (experiment, run, seed) dehazes every test set of the experiment with the
# trained model (or the training-free method) and scores the outputs, in one process, so the model and the
# metric libraries load once. A failed run's folders hold only the FAILED file with the reason: the run's
# status, where the tables find it.


rule test:
    conda:
        CONDA_ENV
    input:
        unpack(W.test_inputs),
    output:
        outputs=directory(L.seed_outputs("{experiment}", "{run}", "{seed}")),
        metrics=L.metrics("{experiment}", "{run}", "{seed}"),
    wildcard_constraints:
        run=plan.alternatives(plan.method_runs(C)),
    params:
        spec=W.run_spec,
        code=W.method_code,
        tests=W.test_sets,
        model=W.model_argument,
        device=W.untracked_device,
        weights=json.dumps(C["metrics"].get("weights", {})),
    resources:
        **W.resources("inference", sized=True),
    threads: W.threads("inference")
    log:
        L.job_log("test"),
    benchmark:
        L.job_benchmark("test")
    shell:
        "python3 -m cddgan test --spec {params.spec:q} {params.model} --tests {params.tests:q}"
        " --outputs {output.outputs:q} --metrics {output.metrics:q} --device {params.device:q}"
        " --weights {params.weights:q} --experiment {wildcards.experiment:q} --run {wildcards.run:q}"
        " --seed {wildcards.seed} > {log:q} 2>&1"
