# Training of trainable runs. Checkpoints live outside the declared outputs, so a killed job resumes.
#
# `training.seeds_per_job: 1` (the default): one job per seed (rule train). Above 1, a run's seeds are
# trained in groups of that size, one process per group (rule train_group: `cddgan train-group`; each seed
# draws from its own random streams, so it trains what it would alone), and rule train_member copies each
# seed's outputs to where a seed's own job would have written them. Which seeds
# share a job, and the group's arguments, come from cddgan.plan (through cddgan.wiring).

GROUPED_RUNS = plan.grouped_runs(C)


rule train:
    conda:
        CONDA_ENV
    input:
        manifest=W.train_manifest,
    output:
        model=L.model("{experiment}", "{run}", "{seed}"),
        losses=L.losses("{experiment}", "{run}", "{seed}"),
        validation=L.validation("{experiment}", "{run}", "{seed}"),
        run_info=L.run_info("{experiment}", "{run}", "{seed}"),
    wildcard_constraints:
        run=plan.alternatives(set(plan.trained_runs(C)) - set(GROUPED_RUNS)),
    params:
        spec=W.run_spec,
        code=W.method_code,
        execution=W.untracked_execution,
        describe=W.untracked_description,
        checkpoints=lambda w: L.checkpoints(w.experiment, w.run, w.seed),
    resources:
        **W.resources("train"),
    threads: W.threads("train")
    priority: W.train_priority
    log:
        L.job_log("train"),
    benchmark:
        L.job_benchmark("train")
    shell:
        "python3 -m cddgan train --spec {params.spec:q} --manifest {input.manifest:q} --model {output.model:q}"
        " --losses {output.losses:q} --validation {output.validation:q} --run-info {output.run_info:q}"
        " --checkpoint-dir {params.checkpoints:q} --record-divergence"
        " --execution {params.execution:q} --describe {params.describe:q} > {log:q} 2>&1"


rule train_group:
    conda:
        CONDA_ENV
    input:
        manifest=W.train_manifest,
    output:
        directory(L.group_dir("{experiment}", "{run}", "{seeds}")),
    wildcard_constraints:
        run=plan.alternatives(GROUPED_RUNS),
        seeds=r"\d+(-\d+)*",
    params:
        args=W.group_args,
        code=W.method_code,
        execution=W.untracked_execution,
        describe=W.untracked_description,
    resources:
        **W.group_resources(),
    threads: W.threads("train")
    priority: W.train_priority
    log:
        L.job_log("train_group"),
    benchmark:
        L.job_benchmark("train_group")
    shell:
        "python3 -m cddgan train-group {params.args} --execution {params.execution:q} --manifest {input.manifest:q}"
        " --describe {params.describe:q} --record-divergence > {log:q} 2>&1"


rule train_member:
    conda:
        CONDA_ENV
    input:
        W.group_dir,
    output:
        model=L.model("{experiment}", "{run}", "{seed}"),
        losses=L.losses("{experiment}", "{run}", "{seed}"),
        validation=L.validation("{experiment}", "{run}", "{seed}"),
        run_info=L.run_info("{experiment}", "{run}", "{seed}"),
    wildcard_constraints:
        run=plan.alternatives(GROUPED_RUNS),
    log:
        L.job_log("train_member"),
    shell:
        "(cp {input:q}/seed{wildcards.seed}/model.pt {output.model:q}"
        " && cp {input:q}/seed{wildcards.seed}/losses.csv {output.losses:q}"
        " && cp {input:q}/seed{wildcards.seed}/validation.csv {output.validation:q}"
        " && cp {input:q}/seed{wildcards.seed}/run.json {output.run_info:q}) > {log:q} 2>&1"
