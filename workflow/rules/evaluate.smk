# Scoring: one job per table cell (a method on one input of one data set) scores every
# seed of the cell in one process (`python -m mmclust score`, src/mmclust/scoring.py) and
# writes each run's metrics.json, so the interpreter, the metrics' imports and the reading
# of the classes are paid once per cell, not once per run.  A change of one method's
# setting retrains and rescores that method's cells only.  A rule's outputs are fixed by
# its wildcards and a cell's seeds come from the experiments that run it, so there is one
# scoring rule per distinct seed list (score_runs_seeds_...), restricted to its cells; all
# of them log to logs/score_runs/ and run beside Snakemake (local rules, also on SLURM).
# Their functions are in common.smk.
for _seeds, _cells in SCORING_BATCHES.items():

    rule:
        name:
            scoring_rule_name(_seeds)
        input:
            labels=expand("results/runs/{{cell}}/seed{seed}/labels.npy", seed=_seeds),
            fit=expand("results/runs/{{cell}}/seed{seed}/fit.json", seed=_seeds),
            data=lambda w: paths.dataset_files(scored_dataset(w))["data"],
            meta=lambda w: paths.dataset_files(scored_dataset(w))["meta"],
        output:
            expand("results/runs/{{cell}}/seed{seed}/metrics.json", seed=_seeds),
        log:
            "logs/score_runs/{cell}.log",
        benchmark:
            "benchmarks/rules/score_runs/{cell}.tsv"
        wildcard_constraints:
            cell=one_of("/".join(cell) for cell in _cells),
        localrule: True
        conda:
            "../../envs/data.yaml"
        params:
            runs=scored_runs,
            folder=lambda w: paths.dataset_dir(scored_dataset(w)),
        shell:
            "python -m mmclust score --dataset {params.folder} --labels {input.labels}"
            " --fit-info {input.fit} --runs {params.runs:q} --out {output} 2> {log}"


rule aggregate_runs:
    input:
        lambda w: [
            f"{r.folder}/metrics.json" for r in PLAN.experiment_runs(w.experiment)
        ],
    output:
        "results/tables/{experiment}_runs.csv",
    log:
        "logs/aggregate_runs/{experiment}.log",
    benchmark:
        "benchmarks/rules/aggregate_runs/{experiment}.tsv"
    conda:
        "../../envs/data.yaml"
    shell:
        "python -m mmclust aggregate --metrics {input} --out {output} 2> {log}"
