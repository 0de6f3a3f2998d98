# Training of trainable runs. Checkpoints live outside the declared outputs, so a killed job resumes.
#
# `training.seeds_per_job: 1` (the default): one job per seed (rule train). Above 1, a run's seeds are
# trained in groups of that size, one process per group (rule train_group: `cddgan train-group`, which on a
# GPU steps the group's seeds in one CUDA graph with a stream each, docs/benchmarks.md), and rule
# train_member copies each seed's outputs to where a seed's own job would have written them.


rule train:
    conda:
        CONDA_ENV
    input:
        manifest=lambda w: manifest(EXPERIMENTS[w.experiment]["train"]),
    output:
        model=f"{RESULTS}/runs/{{experiment}}/{{run}}/seed{{seed}}/model.pt",
        losses=f"{RESULTS}/runs/{{experiment}}/{{run}}/seed{{seed}}/losses.csv",
    wildcard_constraints:
        run=_alternatives(set(RUNS) - set(GROUPED_RUNS)) or NO_MATCH,
    params:
        spec=run_spec,
        code=method_code,
        execution=untracked_execution,
        checkpoints=lambda w: checkpoint_dir(w.experiment, w.run, w.seed),
        status=lambda w: status_file(w.experiment, w.run, w.seed),
    resources:
        **job_resources("train"),
    threads: job_threads("train")
    log:
        f"{RESULTS}/logs/train/{{experiment}}/{{run}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{experiment}}/{{run}}/seed{{seed}}.tsv"
    shell:
        "python3 -m cddgan train --spec {params.spec:q} --manifest {input.manifest:q} --model {output.model:q}"
        " --losses {output.losses:q} --checkpoint-dir {params.checkpoints:q} --status {params.status:q}"
        " --execution {params.execution:q} > {log:q} 2>&1"


rule train_group:
    conda:
        CONDA_ENV
    input:
        manifest=lambda w: manifest(EXPERIMENTS[w.experiment]["train"]),
    output:
        directory(f"{RESULTS}/groups/{{experiment}}/{{run}}/seeds{{seeds}}"),
    wildcard_constraints:
        run=_alternatives(GROUPED_RUNS) or NO_MATCH,
        seeds=r"\d+(-\d+)*",
    params:
        args=group_args,
        code=method_code,
        execution=untracked_execution,
    resources:
        **group_resources(),
    threads: job_threads("train")
    log:
        f"{RESULTS}/logs/train_group/{{experiment}}/{{run}}/seeds{{seeds}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_group/{{experiment}}/{{run}}/seeds{{seeds}}.tsv"
    shell:
        "python3 -m cddgan train-group {params.args} --execution {params.execution:q} --manifest {input.manifest:q}"
        " > {log:q} 2>&1"


rule train_member:
    conda:
        CONDA_ENV
    input:
        group_dir,
    output:
        model=f"{RESULTS}/runs/{{experiment}}/{{run}}/seed{{seed}}/model.pt",
        losses=f"{RESULTS}/runs/{{experiment}}/{{run}}/seed{{seed}}/losses.csv",
    wildcard_constraints:
        run=_alternatives(GROUPED_RUNS) or NO_MATCH,
    log:
        f"{RESULTS}/logs/train_member/{{experiment}}/{{run}}/seed{{seed}}.log",
    shell:
        "(cp {input:q}/seed{wildcards.seed}/model.pt {output.model:q}"
        " && cp {input:q}/seed{wildcards.seed}/losses.csv {output.losses:q}) > {log:q} 2>&1"
