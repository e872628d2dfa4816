#!/usr/bin/env bash
# Run TorchServe and the gateway in the foreground; Ctrl-C stops both.
# Used by `make up`; expects the venv and the model store to be built.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
TS_CONFIG=${TS_CONFIG:-model-store/config.properties}
export LOG_LOCATION=${LOG_LOCATION:-var/logs} METRICS_LOCATION=${METRICS_LOCATION:-var/logs}
# Idle OpenMP threads sleep instead of spinning: two whisper workers share the cores (README, "Two whisper workers").
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
mkdir -p "$LOG_LOCATION"

models=$("$VENV/bin/python" model-store/build.py --list)
ts_pid="" gw_pid=""
cleanup() {
  trap - INT TERM EXIT
  echo "stopping gateway and TorchServe..."
  [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null || true
  "$VENV/bin/torchserve" --stop >/dev/null 2>&1 || true
  [ -n "$ts_pid" ] && kill "$ts_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

"$VENV/bin/torchserve" --start --ncs --foreground --disable-token-auth \
  --model-store model-store --ts-config "$TS_CONFIG" --models "$models" \
  >"$LOG_LOCATION/torchserve.out" 2>&1 &
ts_pid=$!
echo "TorchServe starting (models: $models; log: $LOG_LOCATION/torchserve.out)"

HOST="$HOST" PORT="$PORT" "$VENV/bin/python" -m gateway &
gw_pid=$!
echo "gateway on http://$HOST:$PORT (docs: /docs; readiness: /ready)"

# Whichever stops first takes the other down with it.
wait -n "$ts_pid" "$gw_pid" || true
