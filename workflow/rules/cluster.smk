rule cluster:
    input:
        unpack(lambda w: PLAN.cluster_inputs(run_of(w))),
    output:
        labels="results/runs/{dataset}/{input}/{method}/seed{seed}/labels.npy",
        embedding="results/runs/{dataset}/{input}/{method}/seed{seed}/embedding.npy",
        fit="results/runs/{dataset}/{input}/{method}/seed{seed}/fit.json",
        # the estimator's parameters as fitted, the run's settings and where each
        # came from, package versions and the hashes of the files it read
        params="results/runs/{dataset}/{input}/{method}/seed{seed}/params.json",
        # the estimator and its parameters, and the trained network of those
        # that have one (JULE), for inputs made with from_model
        model="results/runs/{dataset}/{input}/{method}/seed{seed}/model.pt",
    log:
        "logs/cluster/{dataset}/{input}/{method}/seed{seed}.log",
    benchmark:
        "benchmarks/rules/cluster/{dataset}/{input}/{method}/seed{seed}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: lambda w: threads_for(PLAN.method_resource_kind(w.method))
    resources:
        mem_mb=method_resource("mem_mb"),
        runtime=method_resource("runtime"),
        gpu=method_resource("gpu"),
    params:
        method=lambda w: to_json(PLAN.method_settings(w.method, w.dataset)),
        provenance=lambda w: to_json(PLAN.run_provenance(run_of(w))),
        autoencoder=lambda w, input: (
            f"--autoencoder {' '.join(input.autoencoder)}"
            if "autoencoder" in input.keys()
            else ""
        ),
        folder=lambda w: paths.run_dir(w.dataset, w.input, w.method, w.seed),
        device=config["device"],
        precision=PRECISION_FLAG,
    shell:
        "python -m mmclust cluster --features {input.features} --meta {input.meta}"
        " --params {params.method:q} --provenance {params.provenance:q}"
        " --seed {wildcards.seed} {params.autoencoder} --split-from {input.data}"
        " --out {params.folder} --device {params.device} {params.precision}"
        " --threads {threads} 2> {log}"
