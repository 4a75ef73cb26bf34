rule download_raw:
    output:
        "resources/raw/{raw}/.complete",
    log:
        "logs/download_raw/{raw}.log",
    benchmark:
        "benchmarks/rules/download_raw/{raw}.tsv"
    conda:
        "../../envs/data.yaml"
    params:
        folder=lambda w: f"resources/raw/{w.raw}",
        # the options of the config's downloads: section (strict mode, mirror). The name
        # is the one of earlier versions: Snakemake reruns a rule whose shell text changes,
        # and a rerun download would rerun everything after it through its new marker
        unverified=PLAN.download_flags(),
    shell:
        "python -m mmclust download {wildcards.raw} {params.folder} {params.unverified}"
        " 2> {log}"


rule prepare_dataset:
    input:
        unpack(lambda w: PLAN.prepare_inputs(w.dataset)),
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
        spec=lambda w: to_json(PLAN.datasets[w.dataset]),
        folder=lambda w: paths.dataset_dir(w.dataset),
        extra=lambda w, input: folder_flags(input),
    shell:
        "python -m mmclust prepare --name {wildcards.dataset} --spec {params.spec:q}"
        " {params.extra} --out {params.folder} 2> {log}"
