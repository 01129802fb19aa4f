# Sanad: `make run` sets everything up and starts Sanad; `make test` sets up and runs the checks.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch, installed before anything else can ask for a CUDA one.
TORCH := torch==2.13.0+cpu
WHEELS ?= /opt/wheels
PIP := $(BIN)/pip install --quiet --disable-pip-version-check $(if $(wildcard $(WHEELS)),--find-links $(WHEELS))

.PHONY: install run test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) "$(TORCH)"
	$(PIP) -e .
	@$(BIN)/python -c "import sys, torch; sys.exit('torch is not the CPU build' if torch.version.cuda else 0)"
	@if $(BIN)/pip list 2>/dev/null | grep -qi '^nvidia-'; then echo 'CUDA packages were installed: refusing' >&2; exit 1; fi
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) -e '.[test]'
	@touch $@

run: install
	$(BIN)/sanad run

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(VENV)/.installed-test
	$(BIN)/python tests/bench/bench_answer.py
	$(BIN)/python tests/bench/bench_bot.py

clean:
	rm -rf $(VENV) data
