rule cluster:
    input:
        unpack(cluster_inputs),
    output:
        labels="results/runs/{dataset}/{input}/{method}/seed{seed}/labels.npy",
        embedding="results/runs/{dataset}/{input}/{method}/seed{seed}/embedding.npy",
        fit="results/runs/{dataset}/{input}/{method}/seed{seed}/fit.json",
        # the estimator and its parameters, and the trained network of those
        # that have one (JULE), for inputs made with from_model
        model="results/runs/{dataset}/{input}/{method}/seed{seed}/model.pt",
    log:
        "logs/cluster/{dataset}/{input}/{method}/seed{seed}.log",
    benchmark:
        "benchmarks/rules/cluster/{dataset}/{input}/{method}/seed{seed}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: lambda w: config["train_threads"] if needs_pretraining(w.method) else 1
    resources:
        mem_mb=lambda w: job_resource(method_kind(w), "mem_mb"),
        runtime=lambda w: job_resource(method_kind(w), "runtime"),
        gpu=lambda w: job_resource(method_kind(w), "gpu"),
    params:
        method=lambda w: to_json(method_settings(w.method, w.dataset)),
        autoencoder=lambda w, input: (
            "--autoencoder " + " ".join(input.autoencoder)
            if "autoencoder" in input.keys()
            else ""
        ),
        folder=lambda w: run_dir(w.dataset, w.input, w.method, w.seed),
        device=config["device"],
    shell:
        "python -m mmclust cluster --features {input.features} --meta {input.meta}"
        " --params {params.method:q} --seed {wildcards.seed} {params.autoencoder}"
        " --split-from {input.data}"
        " --out {params.folder} --device {params.device} --threads {threads} 2> {log}"
