# Two commands set everything up on a fresh machine:
#   make demo   creates .venv, installs, runs the demo study and prints where the results are
#   make test   creates .venv if missing and runs the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch/torchvision: the pair this project is tested with (pip takes them from the local disk where they lie there)
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.installed

.PHONY: demo test test-all bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[dev,dashboard]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python launch.py experiment=demo
	$(BIN)/python launch.py experiment=demo model.replay=none model.si_c=0 experiment_name=demo-finetune

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/step_speed.py

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
