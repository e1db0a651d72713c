# Two commands set everything up on a fresh machine:
#   make demo   creates .venv, installs, runs the demo study and prints where the results are
#   make test   creates .venv if missing and runs the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch/torchvision: the pair this project is tested with (pip takes them from the local disk where they lie there)
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.installed

.PHONY: demo test test-all test-slow bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[dev,dashboard,postgres,reports]"
	touch $(STAMP)

# the demo: a small Optuna study of distribution repulsion on split digits (8 trials, 2 at a time, pruning after
# each task), then the HTML comparison report of its trials
DEMO_DIR := multirun/repulsion-digits
demo: $(STAMP)
	WANDB_SILENT=true $(BIN)/python launch.py -m hparams_search=repulsion experiment=demo hydra/launcher=joblib \
		hydra.sweeper.n_trials=8 hydra.sweeper.n_jobs=2
	$(BIN)/python -m analysis.report $(DEMO_DIR) -o $(DEMO_DIR)/report.html
	@echo "results: $(DEMO_DIR)/ (optuna.db, trials.csv, optimization_results.yaml, one job dir per trial)"
	@echo "report:  $(DEMO_DIR)/report.html"

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python benchmarks/step_speed.py

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
