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
        title=lambda w: f"{display_name(w)} on {w.dataset} ({w.input}), seed {w.seed}",
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


rule scorecard:
    input:
        "results/tables/{experiment}.csv",
    output:
        png=report(
            "results/report/scorecard_{experiment}.png",
            caption="../report/scorecard.rst",
            category=lambda w: PLAN.experiments[w.experiment]["category"],
            subcategory="Scorecards",
            labels={"figure": "scorecard", "experiment": "{experiment}"},
        ),
        csv=report(
            "results/report/scorecard_{experiment}.csv",
            caption="../report/scorecard.rst",
            category=lambda w: PLAN.experiments[w.experiment]["category"],
            subcategory="Scorecards",
            labels={"figure": "scorecard cells (CSV)", "experiment": "{experiment}"},
        ),
        md="results/report/scorecard_{experiment}.md",
    log:
        "logs/scorecard/{experiment}.log",
    benchmark:
        "benchmarks/rules/scorecard/{experiment}.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        spec=lambda w: to_json(PLAN.table_spec(w.experiment, workflow.basedir)),
        settings=to_json(config["plots"]["scorecard"]),
    shell:
        "python -m mmclust.report scorecard --table {input} --experiment {wildcards.experiment}"
        " --spec {params.spec:q} --settings {params.settings:q} --png {output.png}"
        " --csv {output.csv} --md {output.md} 2> {log}"


rule scorecard_summary:
    input:
        [f"results/report/scorecard_{e}.csv" for e in scorecard_experiments()],
    output:
        html=report(
            "results/report/scorecards.html",
            caption="../report/scorecards.rst",
            category="Reproduction",
            subcategory="Scorecards",
            labels={"section": "scorecards"},
        ),
        csv="results/report/scorecards.csv",
        md="results/report/scorecards.md",
    log:
        "logs/scorecard_summary/scorecard_summary.log",
    benchmark:
        "benchmarks/rules/scorecard_summary/scorecard_summary.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        spec=to_json(
            {
                "experiments": {
                    e: {
                        k: PLAN.experiments[e].get(k)
                        for k in ("category", "regenerates", "paper")
                    }
                    for e in report_experiments()
                },
                "settings": config["plots"]["scorecard"],
            }
        ),
    shell:
        "python -m mmclust.report scorecards --cells {input} --spec {params.spec:q}"
        " --csv {output.csv} --md {output.md} --html {output.html} 2> {log}"


rule data_sheet:
    input:
        meta=[paths.dataset_files(ds)["meta"] for ds in report_datasets()],
        raw=sorted({e["raw"] for e in datasheet_entries() if e["raw"]}),
    output:
        html=report(
            "results/report/datasheet.html",
            caption="../report/datasheet.rst",
            category="Reproduction",
            subcategory="Data sheet",
            labels={"section": "data sheet"},
        ),
        csv="results/report/datasheet.csv",
        md="results/report/datasheet.md",
    log:
        "logs/data_sheet/data_sheet.log",
    benchmark:
        "benchmarks/rules/data_sheet/data_sheet.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        entries=to_json(datasheet_entries()),
    shell:
        "python -m mmclust.report datasheet --entries {params.entries:q} --csv {output.csv}"
        " --md {output.md} --html {output.html} 2> {log}"


rule run_health:
    input:
        report_fit_files(),
    output:
        html=report(
            "results/report/health.html",
            caption="../report/health.rst",
            category="Reproduction",
            subcategory="Run health",
            labels={"section": "run health"},
        ),
        csv="results/report/health.csv",
        md="results/report/health.md",
    log:
        "logs/run_health/run_health.log",
    benchmark:
        "benchmarks/rules/run_health/run_health.tsv"
    conda:
        "../../envs/report.yaml"
    shell:
        "python -m mmclust.report health --fit {input} --csv {output.csv} --md {output.md}"
        " --html {output.html} 2> {log}"


rule not_run:
    input:
        [f"results/tables/{e}.csv" for e in report_experiments()],
    output:
        html=report(
            "results/report/not_run.html",
            caption="../report/not_run.rst",
            category="Reproduction",
            subcategory="Not run",
            labels={"section": "what was not run"},
        ),
        csv="results/report/not_run.csv",
        md="results/report/not_run.md",
    log:
        "logs/not_run/not_run.log",
    benchmark:
        "benchmarks/rules/not_run/not_run.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        # what blocks each experiment, decided from the file system when the DAG is built
        spec=to_json(
            {
                "experiments": {
                    name: {k: exp.get(k) for k in ("category", "regenerates")}
                    for name, exp in PLAN.experiments.items()
                },
                "selected": PLAN.selected_experiments(),
                "blocked": BLOCKED,
                "configfiles": [config_name(f) for f in PLAN.configfiles],
            }
        ),
    shell:
        "python -m mmclust.report not-run --spec {params.spec:q} --csv {output.csv}"
        " --md {output.md} --html {output.html} 2> {log}"


rule claims_section:
    input:
        tables=[f"results/tables/{e}.csv" for e in scorecard_experiments()],
        claims=lambda w: claims_section_inputs(),
    output:
        html=report(
            "results/report/claims.html",
            caption="../report/claims_section.rst",
            category="Claims",
            subcategory="Claims",
            labels={"section": "claims"},
        ),
        csv="results/report/claims_best_method.csv",
    log:
        "logs/claims_section/claims_section.log",
    benchmark:
        "benchmarks/rules/claims_section/claims_section.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        experiments=" ".join(scorecard_experiments()),
        labels=to_json(
            {e: PLAN.experiments[e].get("labels", {}) for e in scorecard_experiments()}
        ),
    shell:
        "python -m mmclust.report claims --tables {input.tables}"
        " --experiments {params.experiments} --labels {params.labels:q}"
        " --claims {input.claims} --csv {output.csv} --html {output.html} 2> {log}"
