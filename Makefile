# Two-command quickstart on a fresh machine with python3 and make:  make demo  /  make test
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# torch is pinned to the CPU build that lies on this machine's disk; an unpinned torch pulls GBs of CUDA.
TORCH  := torch==2.13.0
PYTEST_ARGS ?=
# one stamp per install level: the demo needs the core dependencies + scikit-fem; tests, docs and lint add extras
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_TEST := $(VENV)/.installed-test
STAMP_DOCS := $(VENV)/.installed-docs
STAMP_DEV  := $(VENV)/.installed-dev

.PHONY: demo test test-all doctest bench docs lint format venv clean

venv: $(STAMP_DEMO)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP_DEMO): pyproject.toml Makefile | $(VENV)/bin/python
	$(PY) -m pip install -q $(TORCH) -e '.[demo]'
	touch $@

$(STAMP_TEST): pyproject.toml Makefile | $(VENV)/bin/python
	$(PY) -m pip install -q $(TORCH) -e '.[all]'
	touch $@ $(STAMP_DEMO)

$(STAMP_DOCS): pyproject.toml Makefile | $(VENV)/bin/python
	$(PY) -m pip install -q $(TORCH) -e '.[docs]'
	touch $@

$(STAMP_DEV): pyproject.toml Makefile | $(VENV)/bin/python
	$(PY) -m pip install -q $(TORCH) -e '.[dev]'
	touch $@

demo: $(STAMP_DEMO)
	$(VENV)/bin/geomsci demo --out demo_output --force

test: $(STAMP_TEST)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q -n 2 $(PYTEST_ARGS)

test-all: $(STAMP_TEST)
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2 -m "not gpu" $(PYTEST_ARGS)

# the examples in docstrings, run as tests
doctest: $(STAMP_TEST)
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -p no:xdist --doctest-modules geomsci

bench: $(STAMP_TEST)
	for f in benchmarks/*.py; do $(PY) $$f || exit 1; done

# API reference (mkdocs + mkdocstrings) into site/, failing on any warning
docs: $(STAMP_DOCS)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

lint: $(STAMP_DEV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP_DEV)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) demo_output site
