rule pretrain_autoencoder:
    input:
        features="resources/features/{dataset}/{input}.npz",
        data="resources/datasets/{dataset}/data.npz",
    output:
        model="results/pretrain/{dataset}/{input}/seed{seed}/autoencoder.pt",
        embedding="results/pretrain/{dataset}/{input}/seed{seed}/embedding.npy",
    log:
        "logs/pretrain_autoencoder/{dataset}/{input}/seed{seed}.log",
    benchmark:
        "benchmarks/rules/pretrain_autoencoder/{dataset}/{input}/seed{seed}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["train_threads"]
    resources:
        mem_mb=config["resources"]["train"]["mem_mb"],
        runtime=config["resources"]["train"]["runtime"],
        gpu=config["resources"]["train"]["gpu"],
    params:
        settings=lambda w: to_json(PLAN.pretrain_settings(w.dataset)),
        device=config["device"],
        precision=PRECISION_FLAG,
    shell:
        "python -m mmclust pretrain --features {input.features} --params {params.settings:q}"
        " --split-from {input.data}"
        " --seed {wildcards.seed} --model {output.model} --embedding {output.embedding}"
        " --device {params.device} {params.precision} --threads {threads} 2> {log}"
