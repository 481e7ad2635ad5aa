# `make test` and `make demo` set up .venv on a fresh machine (Python 3.10+ and pip only).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint typecheck pytest bench compat clean

$(STAMP): requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-build-isolation visdom==0.2.4  # an sdist whose build needs pkg_resources
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks compat
	$(BIN)/ruff format --check src tests benchmarks compat

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck pytest

demo: $(STAMP)
	$(BIN)/python -m cadence.examples.digits $(ARGS)

# Ignite 0.5.5's own test suite against cadence (and against Ignite for the baseline); see compat/run.py.
compat: $(STAMP)
	$(BIN)/python compat/run.py $(ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py

clean:
	rm -rf $(VENV) runs .compat .pytest_cache .mypy_cache .ruff_cache
