"""Where every stage writes, relative to the workflow's working directory.

One function per kind of file; the rules' output patterns are these same
templates with wildcards.
"""

from __future__ import annotations


def raw_marker(raw: str) -> str:
    return f"resources/raw/{raw}/.complete"


def dataset_dir(dataset: str) -> str:
    return f"resources/datasets/{dataset}"


def dataset_files(dataset: str) -> dict[str, str]:
    folder = dataset_dir(dataset)
    return {"data": f"{folder}/data.npz", "meta": f"{folder}/meta.json"}


def features_path(dataset: str, input: str) -> str:
    return f"resources/features/{dataset}/{input}.npz"


def pretrain_dir(dataset: str, input: str, seed: int | str) -> str:
    return f"results/pretrain/{dataset}/{input}/seed{seed}"


def run_dir(dataset: str, input: str, method: str, seed: int | str) -> str:
    return f"results/runs/{dataset}/{input}/{method}/seed{seed}"


def table_files(experiment: str) -> list[str]:
    return [f"results/tables/{experiment}.{ext}" for ext in ("csv", "md", "tex")]


def runs_table(experiment: str) -> str:
    return f"results/tables/{experiment}_runs.csv"


def sweep_files(experiment: str) -> list[str]:
    return [f"results/figures/{experiment}.png", f"results/tables/{experiment}_sweep.csv"]


def claims_files() -> list[str]:
    """The claims table (the name ``claims`` is reserved: no experiment may take it)."""
    return [f"results/tables/claims.{ext}" for ext in ("csv", "md")]


def tsne_path(dataset: str, input: str, method: str, seed: int | str) -> str:
    return f"results/figures/tsne_{dataset}_{input}_{method}_seed{seed}.png"
