# Each target sets up what it needs, then runs: a virtual environment in $(VENV) (made if missing)
# with jaxdnn installed editable from this checkout, plus the extra the target needs. An extra is
# installed once and again only when pyproject.toml changes (a stamp file in $(VENV) records it).
#
#   make reproduce   the main job: python -m experiments.reproduce, writes out/report.md
#   make test        the test suite: python -m pytest -n auto
#   make lint        ruff check .
#   make docs        the documentation site, warnings as errors, into site/
#   make floors      the core tests against the oldest declared jax, jaxlib, optax and numpy
#
# Pass arguments through ARGS: make reproduce ARGS="--quick", make test ARGS="tests/test_loss.py".

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: reproduce test lint docs docs-serve floors clean

reproduce: $(VENV)/.installed-experiments
	$(PY) -m experiments.reproduce $(ARGS)

test: $(VENV)/.installed-test
	$(PY) -m pytest -n auto $(ARGS)

lint: $(VENV)/.installed-lint
	$(PY) -m ruff check . $(ARGS)

docs: $(VENV)/.installed-docs
	$(PY) -m mkdocs build --strict $(ARGS)

docs-serve: $(VENV)/.installed-docs
	$(PY) -m mkdocs serve $(ARGS)

floors:
	PYTHON=$(PYTHON) bash .ci/floors $(ARGS)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[$*]"
	touch $@

clean:
	rm -rf site build dist *.egg-info .pytest_cache .hypothesis
