# Training of trainable runs. Checkpoints live outside the declared outputs, so a killed job resumes.


rule train:
    conda:
        CONDA_ENV
    input:
        manifest=lambda w: manifest(EXPERIMENTS[w.experiment]["train"]),
    output:
        model=f"{RESULTS}/runs/{{experiment}}/{{run}}/seed{{seed}}/model.pt",
        losses=f"{RESULTS}/runs/{{experiment}}/{{run}}/seed{{seed}}/losses.csv",
    params:
        spec=run_spec,
        checkpoints=lambda w: f"{RESULTS}/checkpoints/{w.experiment}/{w.run}/seed{w.seed}",
    resources:
        gpu_slots=lambda w: train_resources(w.run)["gpu_slots"],
        mem_mb=lambda w, attempt: train_resources(w.run)["mem_mb"] * attempt,
        runtime=lambda w: train_resources(w.run)["runtime"],
    threads: lambda w: train_resources(w.run)["cpus"]
    log:
        f"{RESULTS}/logs/train/{{experiment}}/{{run}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{experiment}}/{{run}}/seed{{seed}}.tsv"
    shell:
        "python -m cddgan train --spec {params.spec:q} --manifest {input.manifest:q} --model {output.model:q}"
        " --losses {output.losses:q} --checkpoint-dir {params.checkpoints:q} > {log:q} 2>&1"
