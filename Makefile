# Two commands set everything up on a fresh machine:
#   make demo   creates .venv, installs, runs the demo study and prints where the results are
#   make test   creates .venv if missing and runs the tests
# `make help` lists every target; `make` alone only creates .venv and installs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch/torchvision: the pair this project is tested with (pip takes them from the local disk where they lie there)
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.installed

.PHONY: demo help test test-all test-slow lint bench gpu-wheels clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[dev,dashboard,postgres,reports]"
	touch $(STAMP)

# the demo: a small Optuna study of distribution repulsion on split digits, tuned on a validation split (8 trials,
# 2 at a time, pruning after each task), then its best configuration against BI-R + SI on 3 fresh seeds (paired Δ
# on the test set), and the HTML report, which opens with that comparison (conf/hparams_search/demo.yaml)
DEMO_DIR := multirun/demo-repulsion-digits
demo: $(STAMP)  ## run the demo study (8 trials + a 3-seed confirmation against the baseline) and write its report
	WANDB_SILENT=true $(BIN)/python launch.py hparams_search=demo experiment=demo hydra/launcher=joblib
	$(BIN)/python -m analysis.report $(DEMO_DIR) -o $(DEMO_DIR)/report.html
	@echo "results: $(DEMO_DIR)/ (optuna.db, trials.csv, optimization_results.yaml, a dir per trial, confirm/)"
	@echo "report:  $(DEMO_DIR)/report.html"

# the tests run on pytest-xdist's workers, one per core (`make test WORKERS=0` runs them in this process), a test
# file to a worker (--dist loadfile): a module's shared run is made once, the SLURM tests take the cluster in turn
# (xdist_group marks would be finer, but pytest 9.2 ignores the node ids pytest-xdist 3.8 gives them); the files
# start in collection order, longest first (tests/conftest.py), not pytest-xdist's order by number of tests
WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -q -n $(WORKERS) --dist loadfile --no-loadscope-reorder

test: $(STAMP)  ## the fast tests (-m "not slow"): 815 in 4 min 4 s on 2 idle cores (2026-12-07)
	$(PYTEST) -m "not slow"

test-all: $(STAMP)  ## every test, the slow end-to-end ones included: about 13 min on 2 idle cores (2026-12-07)
	$(PYTEST)

test-slow: $(STAMP)  ## only the 70 slow end-to-end tests: 8 min 59 s on 2 idle cores (2026-12-07)
	$(PYTEST) -m slow

lint: $(STAMP)  ## ruff (lint and format check) and mypy, as configured in pyproject.toml
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)  ## speed and memory of the training step (benchmarks/step_speed.py)
	$(BIN)/python benchmarks/step_speed.py

# the wheels benchmarks/gpu_check.py needs on a bare GPU machine that has PyTorch, numpy, pandas, scikit-learn and
# scipy but no package index (benchmarks/README.md, GPU): benchmarks/gpu_wheels.txt, for CPython $(GPU_PY) on manylinux
# x86-64, each a binary wheel from the index, or (antlr4-python3-runtime, pure Python, an sdist only) built here
WHEELS ?= .whl
GPU_PY ?= 3.12
GPU_PLATFORMS := --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
gpu-wheels:  ## download into .whl/ the wheels gpu_check.py needs on a bare GPU machine (60 MB at most)
	rm -rf $(WHEELS) && mkdir -p $(WHEELS)
	@for spec in $$(grep -v '^#' benchmarks/gpu_wheels.txt); do \
		$(PYTHON) -m pip download -q --no-deps --only-binary=:all: --python-version $(GPU_PY) --implementation cp \
			$(GPU_PLATFORMS) -d $(WHEELS) $$spec 2>/dev/null || \
		$(PYTHON) -m pip wheel -q --no-deps -w $(WHEELS) $$spec || exit 1; \
	done
	@for w in $(WHEELS)/*.whl; do case $$w in *-none-any.whl|*-cp$(subst .,,$(GPU_PY))-*manylinux*.whl) ;; \
		*) echo "$$w is not for CPython $(GPU_PY) on manylinux x86-64"; exit 1;; esac; done
	@ls -s $(WHEELS)
	@total=$$(cat $(WHEELS)/*.whl | wc -c); \
		echo "$$(ls $(WHEELS) | wc -l) wheels, $$total bytes ($$((total / 1000000)) MB) in $(WHEELS)/, limit 60 MB"; \
		test $$total -le 60000000

clean:  ## remove .venv, outputs/, multirun/ and pytest's cache
	rm -rf $(VENV) outputs multirun .pytest_cache

# every target with a "## what it does" comment, one line each
help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-zA-Z_-]+):.*## (.*)/\1\t\2/' | \
		awk -F '\t' '{printf "  make %-10s %s\n", $$1, $$2}'
