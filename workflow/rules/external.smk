# External baselines: a program given as a command template in the config (`runs.<name>.command`), or a
# user's own rule in workflow/rules/extra/*.smk. Both write one image per staged input into
# results/raw/{experiment}/{run}/seed{seed}/{dataset}; `collect_outputs` checks and converts them.
# The interface (paths, wildcards, helpers) is documented in docs/adding-a-baseline.md and is stable.

COMMAND_RUNS = plan.command_runs(C)


def command_environment(wildcards):
    """The conda env of a command run: its `environment:` file, or the harness's own."""
    env = RUNS[wildcards.run].get("environment")
    return str(Path(env).resolve()) if env else CONDA_ENV


def command_line(wildcards, key, threads=1, **paths):
    """The run's `command`/`train`/`setup` template filled with quoted paths and its `vars`;
    `{threads}` is the job's threads (the run's `resources: {cpus: N}`, SLURM's --cpus-per-task)."""
    from cddgan.external import format_command

    run = RUNS[wildcards.run]
    values = plan.command_values(
        C, L, wildcards.run, key, getattr(wildcards, "experiment", None), getattr(wildcards, "seed", 0), threads,
        **paths,
    )
    return format_command(run[key], values, run.get("vars", {}))


def setup_input(run):
    return [L.setup_done(run)] if RUNS[run].get("setup") else []


def command_train_inputs(w):
    train = EXPERIMENTS[w.experiment]["train"]
    return {"train": L.staged_train_inputs(train), "setup": setup_input(w.run)}


def command_dehaze_inputs(w):
    inputs = {"inputs": L.staged_test_inputs(w.dataset), "setup": setup_input(w.run)}
    if RUNS[w.run]["trainable"]:
        inputs["model_dir"] = L.model_dir(w.experiment, w.run, w.seed)
    return inputs


def command_resource(name, default):
    return lambda w: RUNS[w.run].get("resources", {}).get(name, default)


def external_log(w):
    """The log of the program (or rule) that wrote a run's raw outputs, named in collect's errors."""
    from snakemake.io import strip_wildcard_constraints

    if w.run in COMMAND_RUNS:
        return L.log("command_dehaze", experiment=w.experiment, run=w.run, seed=w.seed, dataset=w.dataset)
    pattern = raw_outputs(w.run)
    for candidate in workflow.rules:  # the user's rule is the one whose output is the run's raw folder
        if pattern in [strip_wildcard_constraints(str(out)) for out in candidate.output]:
            if candidate.log:
                try:
                    return str(candidate.log[0]).format(**dict(w.items()))
                except (KeyError, IndexError, ValueError):
                    break
            return f"none: your {candidate.name!r} declares no log; add a `log` directive to it"
    return f"the log of your rule for run {w.run} (workflow/rules/extra/)"


rule stage_test_inputs:
    conda:
        CONDA_ENV
    input:
        manifest=dataset_manifest,
    output:
        directory(L.staged_test_inputs("{dataset}")),
    log:
        L.job_log("stage_test_inputs"),
    benchmark:
        L.job_benchmark("stage_test_inputs")
    shell:
        "python3 -m cddgan stage-inputs --manifest {input.manifest:q} --out {output:q} > {log:q} 2>&1"


rule stage_train_inputs:
    conda:
        CONDA_ENV
    input:
        manifest=dataset_manifest,
    output:
        directory(L.staged_train_inputs("{dataset}")),
    log:
        L.job_log("stage_train_inputs"),
    benchmark:
        L.job_benchmark("stage_train_inputs")
    shell:
        "python3 -m cddgan stage-inputs --train --manifest {input.manifest:q} --out {output:q} > {log:q} 2>&1"


rule command_setup:
    conda:
        command_environment
    output:
        touch(L.setup_done("{run}")),
    threads: command_resource("cpus", 1)
    params:
        command=lambda w, threads: command_line(w, "setup", threads),
    wildcard_constraints:
        run=plan.alternatives(COMMAND_RUNS),
    log:
        L.job_log("command_setup"),
    benchmark:
        L.job_benchmark("command_setup")
    shell:
        "({params.command}) > {log:q} 2>&1"


rule command_train:
    conda:
        command_environment
    input:
        unpack(command_train_inputs),
    output:
        directory(L.model_dir("{experiment}", "{run}", "{seed}")),
    threads: command_resource("cpus", 1)
    params:
        command=lambda w, output, threads: command_line(w, "train", threads, model_dir=output[0]),
    resources:
        mem_mb=command_resource("mem_mb", 4000),
        runtime=command_resource("runtime", 60),
        gpu_slots=command_resource("gpu_slots", 0),
        gpu=command_resource("gpus", 0),
    wildcard_constraints:
        run=plan.alternatives(COMMAND_RUNS),
    log:
        L.job_log("command_train"),
    benchmark:
        L.job_benchmark("command_train")
    shell:
        "mkdir -p {output:q} && ({params.command}) > {log:q} 2>&1"


rule command_dehaze:
    conda:
        command_environment
    input:
        unpack(command_dehaze_inputs),
    output:
        directory(L.raw_outputs("{experiment}", "{run}", "{seed}", "{dataset}")),
    threads: command_resource("cpus", 1)
    params:
        command=lambda w, input, output, threads: command_line(
            w,
            "command",
            threads,
            input_dir=input.inputs,
            output_dir=output[0],
            model_dir=input.model_dir if "model_dir" in input.keys() else "",
        ),
    resources:
        mem_mb=command_resource("mem_mb", 4000),
        runtime=command_resource("runtime", 60),
        gpu_slots=command_resource("gpu_slots", 0),
        gpu=command_resource("gpus", 0),
    wildcard_constraints:
        run=plan.alternatives(COMMAND_RUNS),
    log:
        L.job_log("command_dehaze"),
    benchmark:
        L.job_benchmark("command_dehaze")
    shell:
        "mkdir -p {output:q} && ({params.command}) > {log:q} 2>&1"


rule collect_outputs:
    conda:
        CONDA_ENV
    input:
        raw=L.raw_outputs("{experiment}", "{run}", "{seed}", "{dataset}"),
        inputs=L.staged_test_inputs("{dataset}"),
    output:
        directory(L.outputs("{experiment}", "{run}", "{seed}", "{dataset}")),
    params:
        command_log=lambda w: external_log(w),
    wildcard_constraints:
        run=plan.alternatives(plan.external_runs(C)),
    log:
        L.job_log("collect_outputs"),
    benchmark:
        L.job_benchmark("collect_outputs")
    shell:
        "python3 -m cddgan collect --raw {input.raw:q} --inputs {input.inputs:q} --out {output:q}"
        " --command-log {params.command_log:q} > {log:q} 2>&1"
