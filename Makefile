# Two entry points for a fresh machine: `make run` and `make test`.
# Both create .venv from a Python >= 3.12 found on this machine and install the package into it.

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# First Python >= 3.12 on PATH or under pyenv; override with `make PYTHON=/path/to/python3.12`.
PYTHON ?= $(shell for p in python3.13 python3.12 python3 $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9]; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { command -v $$p; break; }; done)

.PHONY: run test lint bench clean install venv-903

# DfE's SSDA903 validator (csc-validator-be-903) in its own venv: it pins pandas < 2 and
# numpy < 1.25, which have wheels up to Python 3.11 and clash with ours. sim calls it by
# subprocess (sim/_validate903.py). Override with `make venv-903 PYTHON311=/path/to/python3.11`.
VENV903 := .venv-903
STAMP903 := $(VENV903)/.installed
PYTHON311 ?= $(shell for p in python3.11 $$HOME/.pyenv/versions/3.11*/bin/python3 /usr/bin/python3.11 python3.10; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3, 9) <= sys.version_info < (3, 12))' 2>/dev/null && { command -v $$p; break; }; done)

venv-903: $(STAMP903)

$(STAMP903):
	@test -n "$(PYTHON311)" || { echo "error: no Python 3.9-3.11 found for the SSDA903 validator; pass PYTHON311=/path/to/python3.11"; exit 1; }
	$(PYTHON311) -m venv $(VENV903)
	$(VENV903)/bin/python -m pip install --quiet --upgrade pip
	$(VENV903)/bin/python -m pip install --quiet 'csc-validator-be-903==0.1.17'
	@touch $(STAMP903)

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.12 found; install one or pass PYTHON=/path/to/python3.12"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/sim las --summary
	$(BIN)/sim run scenarios/baseline.toml --seed 1 --years 4 --scale 1.0 --out results/baseline

test: $(STAMP) $(STAMP903)
	$(BIN)/ruff check sim tests benchmarks experiments docs
	@# pytest exits 5 when it collects no tests: that is a failure here, not a pass.
	$(BIN)/python -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo 'error: pytest collected no tests' >&2; exit 1; fi; exit $$rc

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_geography.py
	$(BIN)/python benchmarks/bench_model.py

clean:
	rm -rf $(VENV) $(VENV903) .pytest_cache .ruff_cache .hypothesis
