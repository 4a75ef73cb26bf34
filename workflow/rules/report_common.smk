# Functions of the report's rules (workflow/rules/report.smk): display names and the
# reproduction report's sections (src/mmclust/report/, python -m mmclust.report):
# scorecards per paper table, the data sheet, run health, what was not run and the claims.
# Experiments blocked by a manual download or a missing GPU are left out of the sections
# and listed in "what was not run"; `snakemake ready` makes everything that can run.


def display_name(w):
    """A t-SNE figure's method as its experiment's labels write it (the paper's name)."""
    name = PLAN.figure_experiment(w.dataset, w.input, w.method)
    return (
        PLAN.experiments[name]["labels"].get(w.method, w.method) if name else w.method
    )


from mmclust.report import notrun as _notrun  # noqa: E402  (no pandas at import)

BLOCKED = _notrun.blocked(PLAN)


def config_name(path):
    """A config file as the commands of the report name it: relative to the workflow's
    folder when it is inside it (config/demo.yaml), else as given."""
    inside = Path(path).resolve().is_relative_to(Path(workflow.basedir).resolve())
    return os.path.relpath(path, workflow.basedir) if inside else str(path)


def report_experiments():
    """The selected experiments that nothing blocks: those the report's sections cover."""
    return [e for e in PLAN.selected_experiments() if e not in BLOCKED]


def scorecard_experiments():
    return [e for e in report_experiments() if PLAN.experiments[e].get("paper")]


def report_sheets():
    """The report's section files (the default target and `ready` make them)."""
    out = [
        f"results/report/{name}.html"
        for name in ("scorecards", "datasheet", "health", "not_run", "claims")
    ]
    out += [f"results/report/scorecard_{e}.png" for e in scorecard_experiments()]
    return out


def ready_targets():
    """The tables and figures of every experiment nothing blocks, and the report's sections."""
    out = []
    for name in report_experiments():
        out += paths.table_files(name)
        out += [
            paths.tsne_path(r.dataset, r.input, r.method, r.seed)
            for r in PLAN.tsne_runs(name)
        ]
        if PLAN.experiments[name].get("sweep"):
            out += paths.sweep_files(name)
    return out + report_sheets()


def claims_section_inputs():
    """Hook: the claims table's files, once the workflow has a `claims_table` rule.

    The Claims section shows them beside what the tables alone allow; without the rule
    it shows the latter only.
    """
    if "claims_table" not in {r.name for r in workflow.rules}:
        return []
    return [str(f) for f in rules.claims_table.output]


def report_datasets():
    return sorted(
        {ds for e in report_experiments() for ds in PLAN.experiment_datasets(e)}
    )


def datasheet_entries():
    from mmclust.report.datasheet import entries_from_plan

    return entries_from_plan(PLAN, report_datasets())


def report_fit_files():
    runs = sorted({r for e in report_experiments() for r in PLAN.experiment_runs(e)})
    return [f"{r.folder}/fit.json" for r in runs]
