#!/usr/bin/env bash
# Every check that needs a CUDA device, as ONE run of at most ~8 minutes (a device session has 15):
#   1. benchmarks/gpu.py: every hot path on CUDA beside one CPU thread (exclusive use of the GPU)
#   2. benchmarks/pig_gpu.sh: PIG steps/s eager vs captured, then the paper's Table 1 runs
#      (concurrently with 3. from its Table 1 part on, which reports errors, not speed)
#   3. every `gpu`-marked test
# Outputs under $OUT (default /tmp/gpu_checks): gpu_bench.json, performance.md, pig_gpu.{json,md,log},
# gpu_tests.log, gpu_checks.log.
#   PYTHON=python3 bash benchmarks/gpu_checks.sh          # from the repository root on a GPU machine
set -uo pipefail
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/gpu_checks}
mkdir -p "$OUT"
export OUT PYTHON=$PY PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
GPU_BUDGET=${GPU_BUDGET:-170}
LOG=$OUT/gpu_checks.log
{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  timeout -k 5 $((GPU_BUDGET + 30)) "$PY" benchmarks/gpu.py --budget "$GPU_BUDGET" --out "$OUT"
  echo "gpu.py exit $?"
  bash benchmarks/pig_gpu.sh > /dev/null 2>&1 &
  pig=$!
  sleep "${TEST_DELAY:-95}"   # pig's timing part runs alone; the tests share the GPU with its Table 1 runs
  timeout -k 5 200 "$PY" -m pytest -q -m gpu -p no:cacheprovider -o addopts="" -p no:xdist tests > "$OUT/gpu_tests.log" 2>&1
  echo "gpu tests exit $?"; tail -n 15 "$OUT/gpu_tests.log"
  wait "$pig"; echo "pig_gpu.sh exit $?"
  cat "$OUT/pig_gpu.md" 2>/dev/null
  date -u
} 2>&1 | tee "$LOG"
