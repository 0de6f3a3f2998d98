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
        status=lambda w: f"{RESULTS}/status/{w.experiment}/{w.run}/seed{w.seed}.failed",
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
        " > {log:q} 2>&1"
