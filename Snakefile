from snakemake.utils import min_version

min_version("9.0")


# The configuration is read, validated against workflow/schemas/config.schema.yaml
# and resolved into the plan of every job in workflow/rules/common.smk (the
# default is config/config.yaml; files given with --configfile replace it; each
# file's include: files are read first, relative to it).


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/report_common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/cluster.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


localrules:
    all,
    download_raw,
    aggregate_runs,
    summary_table,
    tsne_figure,
    sweep_figure,
    claims_table,
    scorecard,
    scorecard_summary,
    data_sheet,
    run_health,
    not_run,
    claims_section,
    ready,


rule all:
    default_target: True
    input:
        PLAN.targets(),
        report_sheets(),


# everything that can run now: the experiments no manual download or missing GPU
# blocks, and the report's sections (a partial run's report: `--report ... ready`)
rule ready:
    input:
        ready_targets(),
