# Two-command quickstart on a fresh machine with python3 and make:  make demo  /  make test
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# torch is pinned to the CPU build that lies on this machine's disk; an unpinned torch pulls GBs of CUDA.
TORCH  := torch==2.13.0
PYTEST_ARGS ?=

.PHONY: demo test test-all bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH) -e '.[all]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/geomsci demo --out demo_output

test: $(STAMP)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q -n 2 $(PYTEST_ARGS)

test-all: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2 -m "not gpu" $(PYTEST_ARGS)

bench: $(STAMP)
	for f in benchmarks/*.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) demo_output
