rule build_input:
    input:
        unpack(lambda w: PLAN.feature_inputs(w.dataset, w.input)),
    output:
        "resources/features/{dataset}/{input}.npz",
    log:
        "logs/build_input/{dataset}/{input}.log",
    benchmark:
        "benchmarks/rules/build_input/{dataset}/{input}.tsv"
    conda:
        "../../envs/features.yaml"
    threads: lambda w: threads_for(PLAN.input_resource_kind(w.dataset, w.input))
    resources:
        mem_mb=input_resource("mem_mb"),
        runtime=input_resource("runtime"),
        gpu=lambda w: (
            config["resources"]["train"]["gpu"]
            if PLAN.input_uses_gpu(w.dataset, w.input)
            else 0
        ),
    params:
        settings=lambda w: to_json(PLAN.feature_settings(w.dataset, w.input)),
        files=lambda w, input: flags(input),
        device=config["device"],
    shell:
        "PYTHONHASHSEED=0 python -m mmclust features {params.files}"
        " --settings {params.settings:q} --device {params.device} --threads {threads}"
        " --out {output} 2> {log}"
