# Two entry points (see README): `make run` and `make test`.
# Both create a local virtualenv in .venv and install what they need into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(EXTRAS)

.PHONY: run test test-long mutate lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: $(VENV)/bin/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/bin/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,bench,dask]'
	touch $@

run: $(VENV)/.installed-run
	$(BIN)/ioreqlab run

test: $(VENV)/.installed-test
	./scripts/system-packages
	./scripts/xen-sources
	$(BIN)/ruff check src tests bench fuzz
	$(BIN)/ruff format --check src tests bench fuzz
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The long Hypothesis profile (5,000 examples, 200 stateful steps): a scheduled job,
# not CI's; see docs/reliability.md.
test-long: $(VENV)/.installed-test
	HYPOTHESIS_PROFILE=long $(BIN)/python -m pytest

# Mutation testing of the core, in stages (tests/mutation.py; docs/mutation.md):
# `make mutate` runs every stage (hours); `make mutate STAGES=rangeset` one;
# MUTATE_JOBS=1 keeps mutmut to one core.
$(VENV)/.installed-mutate: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e '.[test,bench,dask,mutate]'
	touch $@

mutate: $(VENV)/.installed-mutate
	$(BIN)/python -m tests.mutation $(if $(STAGES),$(STAGES),--all) --doc

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build src/*.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
