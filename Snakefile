from snakemake.utils import min_version, validate

min_version("9.0")


# The default configuration is the full reproduction; a configuration given
# with --configfile replaces it (it is not merged into it).
if not workflow.config_settings.configfiles:

    configfile: f"{workflow.basedir}/config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/cluster.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


localrules:
    all,
    download_raw,
    evaluate_run,
    aggregate_runs,
    summary_table,
    tsne_figure,
    sweep_figure,
    claims_table,


rule all:
    default_target: True
    input:
        all_targets(),
