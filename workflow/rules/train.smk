# Training of trainable runs. Checkpoints live outside the declared outputs, so a killed job resumes.
#
# `training.seeds_per_job: 1` (the default): one job per seed (rule train). Above 1, a run's seeds are
# trained in groups of that size, one process per group (rule train_group: `cddgan train-group`, which on a
# GPU steps the group's seeds in one CUDA graph with a stream each, docs/benchmarks.md), and rule
# train_member copies each seed's outputs to where a seed's own job would have written them. Which seeds
# share a job, and the group's arguments, come from cddgan.plan.

GROUPED_RUNS = plan.grouped_runs(C)


def group_dir(wildcards):
    """The group folder that holds this seed's outputs."""
    seeds = plan.seed_group(C, wildcards.run, wildcards.seed)
    return L.group_dir(wildcards.experiment, wildcards.run, plan.seeds_text(seeds))


def group_args(wildcards):
    """`--spec/--model/--losses/--checkpoint-dir` per seed of the group, shell-quoted."""
    import shlex

    args = plan.group_arguments(C, L, wildcards.experiment, wildcards.run, wildcards.seeds, spec_json)
    return " ".join(shlex.quote(a) for a in args)


def group_resources():
    """A training job's resources, with runtime and memory for every seed of the group."""
    base = job_resources("train")
    out = dict(base)
    out["runtime"] = lambda w: int(base["runtime"](w)) * len(w.seeds.split("-"))
    out["mem_mb"] = lambda w, attempt: int(base["mem_mb"](w, attempt)) * len(w.seeds.split("-"))
    return out


rule train:
    conda:
        CONDA_ENV
    input:
        manifest=train_manifest,
    output:
        model=L.model("{experiment}", "{run}", "{seed}"),
        losses=L.losses("{experiment}", "{run}", "{seed}"),
    wildcard_constraints:
        run=plan.alternatives(set(plan.trained_runs(C)) - set(GROUPED_RUNS)),
    params:
        spec=run_spec,
        code=method_code,
        execution=untracked_execution,
        checkpoints=lambda w: L.checkpoints(w.experiment, w.run, w.seed),
    resources:
        **job_resources("train"),
    threads: job_threads("train")
    log:
        L.job_log("train"),
    benchmark:
        L.job_benchmark("train")
    shell:
        "python3 -m cddgan train --spec {params.spec:q} --manifest {input.manifest:q} --model {output.model:q}"
        " --losses {output.losses:q} --checkpoint-dir {params.checkpoints:q} --record-divergence"
        " --execution {params.execution:q} > {log:q} 2>&1"


rule train_group:
    conda:
        CONDA_ENV
    input:
        manifest=train_manifest,
    output:
        directory(L.group_dir("{experiment}", "{run}", "{seeds}")),
    wildcard_constraints:
        run=plan.alternatives(GROUPED_RUNS),
        seeds=r"\d+(-\d+)*",
    params:
        args=group_args,
        code=method_code,
        execution=untracked_execution,
    resources:
        **group_resources(),
    threads: job_threads("train")
    log:
        L.job_log("train_group"),
    benchmark:
        L.job_benchmark("train_group")
    shell:
        "python3 -m cddgan train-group {params.args} --execution {params.execution:q} --manifest {input.manifest:q}"
        " --record-divergence > {log:q} 2>&1"


rule train_member:
    conda:
        CONDA_ENV
    input:
        group_dir,
    output:
        model=L.model("{experiment}", "{run}", "{seed}"),
        losses=L.losses("{experiment}", "{run}", "{seed}"),
    wildcard_constraints:
        run=plan.alternatives(GROUPED_RUNS),
    log:
        L.job_log("train_member"),
    shell:
        "(cp {input:q}/seed{wildcards.seed}/model.pt {output.model:q}"
        " && cp {input:q}/seed{wildcards.seed}/losses.csv {output.losses:q}) > {log:q} 2>&1"
