rule summary_table:
    input:
        runs="results/tables/{experiment}_runs.csv",
        paper=lambda w: PLAN.paper_file(w.experiment, workflow.basedir),
        meta=lambda w: [
            paths.dataset_files(ds)["meta"]
            for ds in PLAN.experiment_datasets(w.experiment)
        ],
    output:
        csv=report(
            "results/tables/{experiment}.csv",
            caption="../report/table.rst",
            category=lambda w: PLAN.experiments[w.experiment]["category"],
            subcategory="Tables",
            labels={"experiment": "{experiment}", "format": "CSV (tidy)"},
        ),
        md=report(
            "results/tables/{experiment}.md",
            caption="../report/table.rst",
            category=lambda w: PLAN.experiments[w.experiment]["category"],
            subcategory="Tables",
            labels={"experiment": "{experiment}", "format": "Markdown"},
        ),
        tex=report(
            "results/tables/{experiment}.tex",
            caption="../report/table.rst",
            category=lambda w: PLAN.experiments[w.experiment]["category"],
            subcategory="Tables",
            labels={"experiment": "{experiment}", "format": "LaTeX"},
        ),
    log:
        "logs/summary_table/{experiment}.log",
    benchmark:
        "benchmarks/rules/summary_table/{experiment}.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        spec=lambda w: to_json(PLAN.table_spec(w.experiment, workflow.basedir)),
    shell:
        "python -m mmclust table --runs {input.runs} --spec {params.spec:q} --meta {input.meta}"
        " --csv {output.csv} --md {output.md} --tex {output.tex} 2> {log}"


rule tsne_figure:
    input:
        embedding="results/runs/{dataset}/{input}/{method}/seed{seed}/embedding.npy",
        labels="results/runs/{dataset}/{input}/{method}/seed{seed}/labels.npy",
        data="resources/datasets/{dataset}/data.npz",
        meta="resources/datasets/{dataset}/meta.json",
    output:
        report(
            "results/figures/tsne_{dataset}_{input}_{method}_seed{seed}.png",
            caption="../report/tsne.rst",
            category=lambda w: figure_category(w),
            subcategory="Figures",
            labels={
                "figure": "t-SNE",
                "data set": "{dataset}",
                "input": "{input}",
                "method": "{method}",
                "seed": "{seed}",
            },
        ),
    log:
        "logs/tsne_figure/{dataset}_{input}_{method}_seed{seed}.log",
    benchmark:
        "benchmarks/rules/tsne_figure/{dataset}_{input}_{method}_seed{seed}.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        settings=to_json(config["plots"]["tsne"]),
        method=lambda w: to_json(PLAN.method_settings(w.method, w.dataset)),
        folder=lambda w: paths.dataset_dir(w.dataset),
        title=lambda w: f"{w.method} on {w.dataset} ({w.input}), seed {w.seed}",
    shell:
        "python -m mmclust tsne --embedding {input.embedding} --labels {input.labels}"
        " --dataset {params.folder} --title {params.title:q} --params {params.settings:q}"
        " --out {output} 2> {log}"


rule sweep_figure:
    input:
        "results/tables/{experiment}_runs.csv",
    output:
        figure=report(
            "results/figures/{experiment}.png",
            caption="../report/sweep.rst",
            category=lambda w: PLAN.experiments[w.experiment]["category"],
            subcategory="Figures",
            labels={"figure": "sweep", "experiment": "{experiment}"},
        ),
        csv="results/tables/{experiment}_sweep.csv",
    log:
        "logs/sweep_figure/{experiment}.log",
    benchmark:
        "benchmarks/rules/sweep_figure/{experiment}.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        spec=lambda w: to_json(PLAN.sweep_spec(w.experiment)),
    shell:
        "python -m mmclust sweep --runs {input} --spec {params.spec:q}"
        " --out {output.figure} --csv {output.csv} 2> {log}"


rule claims_table:
    input:
        claims=PLAN.claims_path(),
        tables=PLAN.claims_tables(),
    output:
        csv=report(
            "results/tables/claims.csv",
            caption="../report/claims.rst",
            category="Claims",
            labels={"table": "claims", "format": "CSV (tidy)"},
        ),
        md=report(
            "results/tables/claims.md",
            caption="../report/claims.rst",
            category="Claims",
            labels={"table": "claims", "format": "Markdown"},
        ),
    log:
        "logs/claims_table/claims.log",
    benchmark:
        "benchmarks/rules/claims_table/claims.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        spec=to_json(PLAN.claims_spec()),
    shell:
        "python -m mmclust claims --claims {input.claims} --spec {params.spec:q}"
        " --csv {output.csv} --md {output.md} --tables {input.tables} 2> {log}"
