rule prepare_dataset:
    output:
        data="resources/datasets/{dataset}/data.npz",
        meta="resources/datasets/{dataset}/meta.json",
    log:
        "logs/prepare_dataset/{dataset}.log",
    benchmark:
        "benchmarks/rules/prepare_dataset/{dataset}.tsv"
    conda:
        "../../envs/data.yaml"
    params:
        spec=lambda w: to_json(config["datasets"][w.dataset]),
        folder=lambda w: dataset_dir(w.dataset),
    shell:
        "python -m mmclust prepare --name {wildcards.dataset} --spec {params.spec:q}"
        " --out {params.folder} 2> {log}"
