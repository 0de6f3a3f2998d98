# External baselines: a program given as a command template in the config (`runs.<name>.command`), or a
# user's own rule named by `runs.<name>.rule`. Both read the staged images (images only) and write one
# image per input into results/raw/{experiment}/{run}/seed{seed}/{dataset}; `collect_outputs` checks and
# converts them. A program that fails, or writes no or wrong outputs, is recorded as FAILED (a result).
# The interface (paths, wildcards, helpers) is documented in docs/adding-a-baseline.md and is stable.

COMMAND_RUNS = plan.command_runs(C)


rule stage_test_inputs:
    conda:
        CONDA_ENV
    input:
        manifest=W.dataset_manifest,
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
        manifest=W.dataset_manifest,
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
        W.command_environment(CONDA_ENV)
    output:
        touch(L.setup_done("{run}")),
    threads: W.command_resource("cpus", 1)
    params:
        command=lambda w, threads: W.command_line(w, "setup", threads),
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
        W.command_environment(CONDA_ENV)
    input:
        unpack(W.command_train_inputs),
    output:
        directory(L.model_dir("{experiment}", "{run}", "{seed}")),
    threads: W.command_resource("cpus", 1)
    params:
        command=lambda w, output, threads: W.command_line(w, "train", threads, model_dir=output[0]),
    resources:
        mem_mb=W.command_resource("mem_mb", 4000),
        runtime=W.command_resource("runtime", 60),
        gpu_slots=W.command_resource("gpu_slots", 0),
        gpu=W.command_resource("gpus", 0),
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
        W.command_environment(CONDA_ENV)
    input:
        unpack(W.command_dehaze_inputs),
    output:
        directory(L.raw_outputs("{experiment}", "{run}", "{seed}", "{dataset}")),
    threads: W.command_resource("cpus", 1)
    params:
        command=lambda w, input, output, threads: W.command_line(
            w,
            "command",
            threads,
            input_dir=f"{input.inputs}/{STAGED_IMAGES}",
            output_dir=output[0],
            model_dir=input.model_dir if "model_dir" in input.keys() else "",
        ),
    resources:
        mem_mb=W.command_resource("mem_mb", 4000),
        runtime=W.command_resource("runtime", 60),
        gpu_slots=W.command_resource("gpu_slots", 0),
        gpu=W.command_resource("gpus", 0),
    wildcard_constraints:
        run=plan.alternatives(COMMAND_RUNS),
    log:
        L.job_log("command_dehaze"),
    benchmark:
        L.job_benchmark("command_dehaze")
    shell:
        # a failing program is a result: its exit status is recorded for collect_outputs, the sweep goes on
        f"mkdir -p {{output:q}}; ({{params.command}}) > {{log:q}} 2>&1"
        f" || echo \"exit status $?\" > {{output:q}}/{COMMAND_FAILED}"


rule collect_outputs:
    conda:
        CONDA_ENV
    input:
        raw=L.raw_outputs("{experiment}", "{run}", "{seed}", "{dataset}"),
        inputs=L.staged_test_inputs("{dataset}"),
    output:
        directory(L.outputs("{experiment}", "{run}", "{seed}", "{dataset}")),
    params:
        command_log=lambda w: W.external_log(w, workflow.rules),
    wildcard_constraints:
        run=plan.alternatives(plan.external_runs(C)),
    log:
        L.job_log("collect_outputs"),
    benchmark:
        L.job_benchmark("collect_outputs")
    shell:
        f"python3 -m cddgan collect --raw {{input.raw:q}} --inputs {{input.inputs:q}}/{STAGED_IMAGES} --out {{output:q}}"
        " --command-log {params.command_log:q} > {log:q} 2>&1"
