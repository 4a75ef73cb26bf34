rule evaluate_run:
    input:
        labels="results/runs/{dataset}/{input}/{method}/seed{seed}/labels.npy",
        fit="results/runs/{dataset}/{input}/{method}/seed{seed}/fit.json",
        data="resources/datasets/{dataset}/data.npz",
        meta="resources/datasets/{dataset}/meta.json",
    output:
        "results/runs/{dataset}/{input}/{method}/seed{seed}/metrics.json",
    log:
        "logs/evaluate_run/{dataset}/{input}/{method}/seed{seed}.log",
    benchmark:
        "benchmarks/rules/evaluate_run/{dataset}/{input}/{method}/seed{seed}.tsv"
    conda:
        "../../envs/data.yaml"
    params:
        run=lambda w: to_json(
            {
                "dataset": w.dataset,
                "input": w.input,
                "method": w.method,
                "seed": int(w.seed),
            }
        ),
        folder=lambda w: paths.dataset_dir(w.dataset),
    shell:
        "python -m mmclust evaluate --dataset {params.folder} --labels {input.labels}"
        " --fit-info {input.fit} --run {params.run:q} --out {output} 2> {log}"


rule aggregate_runs:
    input:
        lambda w: [
            f"{r.folder}/metrics.json" for r in PLAN.experiment_runs(w.experiment)
        ],
    output:
        "results/tables/{experiment}_runs.csv",
    log:
        "logs/aggregate_runs/{experiment}.log",
    benchmark:
        "benchmarks/rules/aggregate_runs/{experiment}.tsv"
    conda:
        "../../envs/data.yaml"
    shell:
        "python -m mmclust aggregate --metrics {input} --out {output} 2> {log}"
