# External baselines: a program given as a command template in the config (`runs.<name>.command`), or a
# user's own rule in workflow/rules/extra/*.smk. Both write one image per staged input into
# results/raw/{experiment}/{run}/seed{seed}/{dataset}; `collect_outputs` checks and converts them.
# The interface (paths, wildcards, helpers) is documented in docs/adding-a-baseline.md and is stable.


rule stage_test_inputs:
    conda:
        CONDA_ENV
    input:
        manifest=lambda w: manifest(w.dataset),
    output:
        directory(f"{RESULTS}/inputs/{{dataset}}/test_hazy"),
    log:
        f"{RESULTS}/logs/stage_test_inputs/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/stage_test_inputs/{{dataset}}.tsv"
    shell:
        "python3 -m cddgan stage-inputs --manifest {input.manifest:q} --out {output:q} > {log:q} 2>&1"


rule stage_train_inputs:
    conda:
        CONDA_ENV
    input:
        manifest=lambda w: manifest(w.dataset),
    output:
        directory(f"{RESULTS}/inputs/{{dataset}}/train"),
    log:
        f"{RESULTS}/logs/stage_train_inputs/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/stage_train_inputs/{{dataset}}.tsv"
    shell:
        "python3 -m cddgan stage-inputs --train --manifest {input.manifest:q} --out {output:q} > {log:q} 2>&1"


rule command_setup:
    conda:
        command_environment
    output:
        touch(f"{RESULTS}/external/{{run}}/setup.done"),
    threads: command_resource("cpus", 1)
    params:
        command=lambda w, threads: command_line(w, "setup", threads),
    wildcard_constraints:
        run=_alternatives(COMMAND_RUNS) or NO_MATCH,
    log:
        f"{RESULTS}/logs/command_setup/{{run}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/command_setup/{{run}}.tsv"
    shell:
        "({params.command}) > {log:q} 2>&1"


rule command_train:
    conda:
        command_environment
    input:
        unpack(command_train_inputs),
    output:
        directory(f"{RESULTS}/runs/{{experiment}}/{{run}}/seed{{seed}}/model_dir"),
    threads: command_resource("cpus", 1)
    params:
        command=lambda w, output, threads: command_line(w, "train", threads, model_dir=output[0]),
    resources:
        mem_mb=command_resource("mem_mb", 4000),
        runtime=command_resource("runtime", 60),
        gpu_slots=command_resource("gpu_slots", 0),
        gpu=command_resource("gpus", 0),
    wildcard_constraints:
        run=_alternatives(COMMAND_RUNS) or NO_MATCH,
    log:
        f"{RESULTS}/logs/command_train/{{experiment}}/{{run}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/command_train/{{experiment}}/{{run}}/seed{{seed}}.tsv"
    shell:
        "mkdir -p {output:q} && ({params.command}) > {log:q} 2>&1"


rule command_dehaze:
    conda:
        command_environment
    input:
        unpack(command_dehaze_inputs),
    output:
        directory(f"{RESULTS}/raw/{{experiment}}/{{run}}/seed{{seed}}/{{dataset}}"),
    threads: command_resource("cpus", 1)
    params:
        command=lambda w, input, output, threads: command_line(
            w, "command", threads, input_dir=input.inputs, output_dir=output[0], model_dir=input.model_dir if "model_dir" in input.keys() else ""
        ),
    resources:
        mem_mb=command_resource("mem_mb", 4000),
        runtime=command_resource("runtime", 60),
        gpu_slots=command_resource("gpu_slots", 0),
        gpu=command_resource("gpus", 0),
    wildcard_constraints:
        run=_alternatives(COMMAND_RUNS) or NO_MATCH,
    log:
        f"{RESULTS}/logs/command_dehaze/{{experiment}}/{{run}}/seed{{seed}}/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/command_dehaze/{{experiment}}/{{run}}/seed{{seed}}/{{dataset}}.tsv"
    shell:
        "mkdir -p {output:q} && ({params.command}) > {log:q} 2>&1"


rule collect_outputs:
    conda:
        CONDA_ENV
    input:
        raw=f"{RESULTS}/raw/{{experiment}}/{{run}}/seed{{seed}}/{{dataset}}",
        inputs=f"{RESULTS}/inputs/{{dataset}}/test_hazy",
    output:
        directory(f"{RESULTS}/outputs/{{experiment}}/{{run}}/seed{{seed}}/{{dataset}}"),
    params:
        command_log=lambda w: external_log(w),
    wildcard_constraints:
        run=_alternatives(external_runs()) or NO_MATCH,
    log:
        f"{RESULTS}/logs/collect_outputs/{{experiment}}/{{run}}/seed{{seed}}/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/collect_outputs/{{experiment}}/{{run}}/seed{{seed}}/{{dataset}}.tsv"
    shell:
        "python3 -m cddgan collect --raw {input.raw:q} --inputs {input.inputs:q} --out {output:q}"
        " --command-log {params.command_log:q} > {log:q} 2>&1"
