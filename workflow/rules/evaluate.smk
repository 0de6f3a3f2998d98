# Score the collected outputs of external runs (method runs are scored by their test job), measure every
# run's efficiency, and write the tables of this config (with the config snapshot that describes them)
# from exactly the files its jobs wrote.


rule evaluate:
    conda:
        CONDA_ENV
    input:
        unpack(W.evaluate_inputs),
    output:
        L.metrics("{experiment}", "{run}", "{seed}"),
    wildcard_constraints:
        run=plan.alternatives(plan.external_runs(C)),
    params:
        tests=W.test_sets,
        outputs=lambda w: L.seed_outputs(w.experiment, w.run, w.seed),
        weights=json.dumps(C["metrics"].get("weights", {})),
    resources:
        **W.resources("light", sized=True),
    threads: W.threads("light")
    log:
        L.job_log("evaluate"),
    benchmark:
        L.job_benchmark("evaluate")
    shell:
        "python3 -m cddgan test --tests {params.tests:q} --outputs {params.outputs:q} --metrics {output:q}"
        " --weights {params.weights:q} --experiment {wildcards.experiment:q} --run {wildcards.run:q}"
        " --seed {wildcards.seed} > {log:q} 2>&1"


rule efficiency:
    conda:
        CONDA_ENV
    input:
        manifest=W.train_manifest,
    output:
        L.efficiency("{experiment}", "{run}"),
    params:
        spec=W.first_seed_spec,
        code=W.method_code,
        execution=W.tracked_execution,  # tracked: the efficiency figures measure these choices
    resources:
        **W.resources("inference"),
    threads: W.threads("inference")
    log:
        L.job_log("efficiency"),
    benchmark:
        L.job_benchmark("efficiency")
    shell:
        "python3 -m cddgan efficiency --spec {params.spec:q} --execution {params.execution:q} --manifest {input.manifest:q}"
        " --out {output:q} > {log:q} 2>&1"


# The tables and the config snapshot come from one job and are replaced together; `update` keeps the last
# good set in place while it runs and restores it if it fails. The config digest is tracked: a change of
# the config that changes no job's output still rewrites the snapshot.
rule aggregate:
    conda:
        CONDA_ENV
    input:
        **plan.aggregate_inputs(C, L),
    output:
        **{
            name: update(
                report(L.table(name), category="Tables", caption="../report/comparison_table.rst")
                if name in ("scores", "comparison")
                else L.table(name)
            )
            for name in TABLES
        },
        snapshot=update(L.config_snapshot()),
    params:
        config=W.pending_config,
        digest=W.config_digest,
    resources:
        **W.resources("light"),
    threads: W.threads("light")
    log:
        L.job_log("aggregate"),
    benchmark:
        L.job_benchmark("aggregate")
    shell:
        "python3 -m cddgan aggregate --config {params.config:q} > {log:q} 2>&1"
