#!/usr/bin/env bash
# The GPU session's one prepared check (nvidia-h200: Python 3.12, torch 2.11+cu130, numpy 2.5.2, no registry).
# Build the wheels first, here:  bash benchmarks/gpu_wheelhouse.sh   (.whl/, ~19 MiB)
# Then one device call, carrying .whl:   bash benchmarks/gpu_check.sh      (timeout_s 600; steps below)
#
#   bash benchmarks/gpu_check.sh            on the GPU machine: installs .whl into /tmp/site, runs every step
#   bash benchmarks/gpu_check.sh --dry-run  prints each step's command and time limit, runs nothing
#   DEVICE=cpu bash benchmarks/gpu_check.sh the same flow on the CPU, in quick mode, with this machine's python
#                                           (no wheel install): checks the script itself, not the GPU
#
# Each step has its own time limit (seconds, below), cut to what is left of BUDGET_S (default 540: the whole
# script stays inside one 10-minute device command), so one hung step cannot eat the rest. Logs go to $OUT when
# set (the device tool returns at most 8 files): gpu_check.log (everything), results.jsonl (one line per step:
# name, rc, seconds, the step's JSON output), summary.txt. Exit status: the number of failed steps (0 = all ok).
set -uo pipefail
cd "$(dirname "$0")/.."

DRY=0
[[ "${1:-}" == "--dry-run" ]] && DRY=1
DEVICE=${DEVICE:-cuda}
BUDGET_S=${BUDGET_S:-540}
LOG_DIR=${OUT:-${LOG_DIR:-/tmp/gpu_check}}
mkdir -p "$LOG_DIR"
LOG=$LOG_DIR/gpu_check.log RESULTS=$LOG_DIR/results.jsonl SUMMARY=$LOG_DIR/summary.txt
: >"$LOG"; : >"$RESULTS"; : >"$SUMMARY"
WORK=$(mktemp -d /tmp/gpu_check.XXXX)
export GRAPHCONV_DATA_DIR=$WORK/data PYTHONUNBUFFERED=1   # a fresh run store; never the repo's data/
if [[ $DEVICE == cuda ]]; then
  PY=${PY:-python3}; QUICK=() ; SITE=/tmp/site
else
  PY=${PY:-$( [[ -x .venv/bin/python ]] && echo .venv/bin/python || echo python3 )}; QUICK=(--quick); SITE=
fi
START=$(date +%s)
FAILED=0

log() { echo "$*" | tee -a "$LOG"; }

# step NAME LIMIT_S CMD...: run CMD with the smaller of LIMIT_S and the budget left; record rc, seconds and the
# last line of stdout that parses as JSON.
step() {
  local name=$1 limit=$2; shift 2
  local left=$(( BUDGET_S - ($(date +%s) - START) ))
  (( limit > left )) && limit=$left
  log ""
  log "=== $name (limit ${limit}s): $*"
  if (( DRY )); then echo "{\"step\": \"$name\", \"rc\": null, \"dry_run\": true}" >>"$RESULTS"; return 0; fi
  if (( limit < 10 )); then
    log "--- $name: SKIPPED (budget spent)"; echo "$name SKIPPED (budget)" >>"$SUMMARY"; FAILED=$((FAILED + 1))
    echo "{\"step\": \"$name\", \"rc\": null, \"skipped\": \"budget\"}" >>"$RESULTS"; return 1
  fi
  local t0=$SECONDS rc
  timeout --kill-after=10 "$limit" "$@" >"$WORK/$name.out" 2> >(tee -a "$LOG" >&2)
  rc=$?
  cat "$WORK/$name.out" >>"$LOG"
  local secs=$(( SECONDS - t0 ))
  local verdict=ok
  (( rc == 124 || rc == 137 )) && verdict="TIMEOUT" || { (( rc != 0 )) && verdict="FAILED rc=$rc"; }
  [[ $verdict == ok ]] || FAILED=$((FAILED + 1))
  log "--- $name: $verdict in ${secs}s"
  printf '%-22s %-14s %4ss\n' "$name" "$verdict" "$secs" >>"$SUMMARY"
  "$PY" - "$name" "$rc" "$secs" "$WORK/$name.out" >>"$RESULTS" 2>/dev/null <<'EOF' || true
import json, sys
name, rc, secs, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
result = None
for line in reversed(open(path, errors="replace").read().splitlines()):
    try:
        result = json.loads(line)
        break
    except ValueError:
        continue
print(json.dumps({"step": name, "rc": rc, "seconds": secs, "result": result}))
EOF
  return $rc
}

# --- 0. wheels (GPU machine only): escnn, lie_learn (numpy 2 rebuild), py3nj (gfortran vendored), pymanopt,
#        autograd, mlxtend; --no-deps, the machine's numpy/torch/scipy stay
if [[ -n $SITE ]]; then
  if ls .whl/*.whl >/dev/null 2>&1; then
    step install-wheels 60 bash -c "$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
      --upgrade --target $SITE .whl/*.whl"
  else
    log "no .whl/ here: escnn and mlxtend are missing unless the machine has them (carry .whl)"
  fi
  export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
fi

# --- 1. the machine and the versions that matter
step info 45 bash -c "
  nvidia-smi 2>&1 || echo 'no nvidia-smi';
  ldd --version | head -1; nproc;
  $PY - <<'EOF'
import json, importlib, sys
out = {'python': sys.version.split()[0]}
for m in ('torch', 'numpy', 'scipy', 'torch_geometric', 'escnn', 'py3nj', 'lie_learn', 'mlxtend', 'pymanopt'):
    try:
        mod = importlib.import_module(m)
        out[m] = getattr(mod, '__version__', 'ok')
    except Exception as e:
        out[m] = 'MISSING: ' + type(e).__name__ + ': ' + str(e)[:120]
import torch
out['cuda'] = torch.cuda.is_available()
out['gpu'] = torch.cuda.get_device_name(0) if out['cuda'] else None
print(json.dumps(out))
EOF"

# --- 2. the CUDA test file (skips itself without a GPU)
step test-cuda 150 "$PY" -m pytest -q -p no:cacheprovider tests/core/test_cuda.py

# --- 3. throughput benchmark (shared-graph GCN vs PyG, ChebNet vs CNN)
BENCH_LIMIT=90; [[ $DEVICE == cuda ]] || BENCH_LIMIT=150   # 2-core CPU, --quick: 92 s measured
step bench $BENCH_LIMIT "$PY" -m core bench --device "$DEVICE" "${QUICK[@]}" --json

# --- 4. one full 60,000-image epoch, published ChebNet K=25 vs CNN (only if this checkout's CLI has the flag)
if grep -q -- "--full-epoch" core/cli/__init__.py; then
  if [[ $DEVICE == cuda ]]; then
    step bench-full-epoch 100 "$PY" -m core bench --full-epoch --device "$DEVICE" --json
  else
    step bench-full-epoch 100 "$PY" -m core bench --full-epoch --device "$DEVICE" --images 640 --json
  fi
else
  log "=== bench-full-epoch: not in this checkout's CLI (no --full-epoch), skipped"
  echo "bench-full-epoch       n/a (no flag)" >>"$SUMMARY"
fi

# --- 5. an escnn C8 steerable net on mnist-rot, one epoch
step escnn-c8 120 "$PY" -m core train --model escnn --group C8 --data mnist-rot --epochs 1 --device "$DEVICE" \
  "${QUICK[@]}" --json

# --- 6. two runs started together through the process backend (the app's worker processes), sharing the device
two_runs() {  # in a child bash (timeout runs programs, not functions): PY, DEVICE, QUICK_FLAG, WORK exported
  $PY -m core train --model cheb --epochs 2 --device "$DEVICE" $QUICK_FLAG --backend process --json \
    >"$WORK/run-a.json" 2>"$WORK/run-a.err" &
  local a=$!
  $PY -m core train --model cnn --epochs 2 --device "$DEVICE" $QUICK_FLAG --backend process --json \
    >"$WORK/run-b.json" 2>"$WORK/run-b.err" &
  local b=$!
  wait $a; local ra=$?
  wait $b; local rb=$?
  cat "$WORK/run-a.err" "$WORK/run-b.err" >&2
  $PY - "$WORK/run-a.json" "$WORK/run-b.json" <<'EOF'
import json, sys
runs = []
for path in sys.argv[1:]:
    try:
        s = json.loads(open(path).read().strip().splitlines()[-1])
        runs.append({k: s.get(k) for k in ("run_id", "status", "device", "backend", "test_accuracy", "seconds")})
    except Exception as e:
        runs.append({"error": f"{path}: {e}"})
print(json.dumps({"runs": runs}))
EOF
  return $(( ra || rb ))
}
QUICK_FLAG=${QUICK[*]:-}
export PY DEVICE WORK QUICK_FLAG
export -f two_runs
step two-process-runs 90 bash -c two_runs

# --- summary
log ""
log "=== summary (device $DEVICE, $(( $(date +%s) - START ))s of ${BUDGET_S}s budget)"
cat "$SUMMARY" | tee -a "$LOG"
(( DRY )) && log "(dry run: nothing was executed)"
log "logs: $LOG_DIR/{gpu_check.log,results.jsonl,summary.txt}"
rm -rf "$WORK"
exit $FAILED
