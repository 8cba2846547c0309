#!/usr/bin/env bash
# The checks that need a CUDA device, as one script (run on a GPU machine from the repo root):
# every `gpu`-marked test (CUDA results equal CPU ones) and the batched-Hermite throughput on CUDA
# beside the same code on one CPU thread. Output goes to stdout and, when $OUT is set, to $OUT/gpu_checks.log.
set -o pipefail
LOG=${OUT:-/tmp}/gpu_checks.log
PY=${PYTHON:-python3}  # e.g. PYTHON=.venv/bin/python
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  "$PY" -m pytest -q -m gpu -p no:cacheprovider -o addopts="" tests
  "$PY" benchmarks/nbody.py --throughput-only cuda
  "$PY" benchmarks/nbody.py --throughput-only cpu
} 2>&1 | tee "$LOG"
