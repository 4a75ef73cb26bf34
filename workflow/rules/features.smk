rule build_input:
    input:
        unpack(feature_inputs),
    output:
        "resources/features/{dataset}/{input}.npz",
    log:
        "logs/build_input/{dataset}/{input}.log",
    benchmark:
        "benchmarks/rules/build_input/{dataset}/{input}.tsv"
    conda:
        "../../envs/features.yaml"
    threads: lambda w: config["train_threads"] if is_extracted(w) else 1
    resources:
        mem_mb=lambda w: (
            config["resources"]["train"]["mem_mb"] if is_extracted(w) else 4000
        ),
        runtime=lambda w: (
            config["resources"]["train"]["runtime"] if is_extracted(w) else 60
        ),
        gpu=lambda w: (
            config["resources"]["train"]["gpu"] if is_image_extracted(w) else 0
        ),
    params:
        spec=lambda w: to_json(config["inputs"][w.dataset][w.input]),
        source=lambda w, input: feature_flags(w, input),
        device=config["device"],
    shell:
        "PYTHONHASHSEED=0 python -m mmclust features {params.source}"
        " --spec {params.spec:q} --device {params.device} --threads {threads}"
        " --out {output} 2> {log}"
