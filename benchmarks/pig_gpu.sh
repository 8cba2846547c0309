#!/usr/bin/env bash
# The GPU part of geomsci.pig (issue 18) in one run of at most 5 minutes wall:
#   1. (<= TIMING_CAP s) eager vs captured losses over 100 steps (float64, same seed); Adam steps/s,
#      eager vs CUDA graph, per Table 1 problem at the package and the paper sizes; L-BFGS steps/s;
#      error of Adam-then-L-BFGS vs Adam only at equal wall time (Helmholtz, package sizes);
#   2. (<= TABLE_CAP s) the paper's Table 1 runs (paper preset, PIG, Adam only, the paper's iteration
#      counts as far as the cap allows), the five problems as concurrent processes on the one GPU,
#      seeds 0, 1, 2 while time allows; each run reports final and best error;
#   3. a JSON report and a markdown table.
# Outputs (3 files): $OUT/pig_gpu.json, $OUT/pig_gpu.md, $OUT/pig_gpu.log
#
#   PYTHON=python3 bash benchmarks/pig_gpu.sh            # on the GPU machine, from the repository root
#   bash benchmarks/pig_gpu.sh --smoke                   # tiny sizes on the CPU: checks the script (~2 min here)
set -u
PYTHON=${PYTHON:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
OUT=${OUT:-$PWD/pig_gpu_out}
mkdir -p "$OUT"
DEVICE=${DEVICE:-cuda}
SMOKE=()
if [ "${1:-}" = "--smoke" ]; then
    SMOKE=(--smoke)
    DEVICE=${SMOKE_DEVICE:-cpu}
fi
TIMING_CAP=${TIMING_CAP:-90}       # seconds for part 1
TABLE_CAP=${TABLE_CAP:-140}        # seconds of each Table 1 process (all its seeds)
STEP_SECONDS=${STEP_SECONDS:-1.0}  # timing length per steps/s entry
PROBLEMS="helmholtz klein_gordon flow_mixing diffusion allen_cahn"
WORK=$(mktemp -d)
LOG=$OUT/pig_gpu.log
: > "$LOG"
t_start=$(date +%s)
echo "pig_gpu.sh: device $DEVICE, python $PYTHON, caps ${TIMING_CAP}s + ${TABLE_CAP}s, work folder $WORK" | tee -a "$LOG"
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '')" >> "$LOG" 2>&1

# 1. timings
timeout -k 5 "$TIMING_CAP" "$PYTHON" benchmarks/pig.py --gpu-timings --device "$DEVICE" --step-seconds "$STEP_SECONDS" \
    --json "$WORK/timings.json" ${SMOKE[@]+"${SMOKE[@]}"} >> "$LOG" 2>&1
echo "part 1 (timings) exit $? after $(( $(date +%s) - t_start )) s" | tee -a "$LOG"

# 2. Table 1, one process per problem, concurrently; each caps itself at TABLE_CAP, timeout is the backstop
pids=()
for p in $PROBLEMS; do
    timeout -k 5 $(( TABLE_CAP + 20 )) "$PYTHON" benchmarks/pig.py --table1 --problems "$p" --seeds 3 --device "$DEVICE" \
        --max-seconds "$TABLE_CAP" --json "$WORK/table1_$p.json" ${SMOKE[@]+"${SMOKE[@]}"} > "$WORK/table1_$p.log" 2>&1 &
    pids+=($!)
done
for i in "${!pids[@]}"; do
    wait "${pids[$i]}"
    echo "part 2: table1 process $i exit $?" >> "$LOG"
done
for p in $PROBLEMS; do
    echo "---- table1 $p" >> "$LOG"
    tail -n 40 "$WORK/table1_$p.log" >> "$LOG"
done
echo "part 2 (Table 1) done after $(( $(date +%s) - t_start )) s" | tee -a "$LOG"

# 3. report
timeout -k 5 30 "$PYTHON" benchmarks/pig.py --assemble "$WORK" --json "$OUT/pig_gpu.json" --markdown "$OUT/pig_gpu.md" >> "$LOG" 2>&1
echo "done after $(( $(date +%s) - t_start )) s: $OUT/pig_gpu.json $OUT/pig_gpu.md $OUT/pig_gpu.log" | tee -a "$LOG"
rm -rf "$WORK"
