rule build_input:
    input:
        data="resources/datasets/{dataset}/data.npz",
        meta="resources/datasets/{dataset}/meta.json",
    output:
        "resources/features/{dataset}/{input}.npz",
    log:
        "logs/build_input/{dataset}/{input}.log",
    benchmark:
        "benchmarks/rules/build_input/{dataset}/{input}.tsv"
    conda:
        "../../envs/data.yaml"
    params:
        spec=lambda w: to_json(config["inputs"][w.dataset][w.input]),
        folder=lambda w: dataset_dir(w.dataset),
    shell:
        "python -m mmclust features --dataset {params.folder} --spec {params.spec:q}"
        " --out {output} 2> {log}"
