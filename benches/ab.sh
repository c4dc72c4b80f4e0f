#!/usr/bin/env bash
# A/B of two release ml-api binaries in one run: POST /predict with an API key, rounds alternating
# A and B, each server pinned to CPU 0 and wrk to CPU 1, each in its own fresh data directory.
# Prints requests/s and the server's CPU time per request of every run (read the medians).
# For "did this change make the server slower?" on a machine whose speed drifts between runs.
#
#   cargo build --release -p ml-api && cp target/release/ml-api /tmp/ml-api-new
#   git worktree add --detach /tmp/old <commit> && (cd /tmp/old && CARGO_TARGET_DIR=/tmp/old-target \
#       cargo build --release -p ml-api) && cp /tmp/old-target/release/ml-api /tmp/ml-api-old
#   (a target directory of its own: the workspace's crates get the same artifact names in every
#   checkout, so a shared one makes cargo link whichever checkout built last, by file times)
#   bash benches/ab.sh /tmp/ml-api-old /tmp/ml-api-new        # ROUNDS=3 DURATION=8 by default
#
# NOT run by CI (it wants two otherwise quiet cores). Needs wrk, taskset, curl, python3.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY" >&2; exit 2; }
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
W=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
declare -A BIN=([old]=$1 [new]=$2)
printf '%s' '{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}' > $W/predict.json
export MLGUARD_PREDICT_RATE=1000000000/second MLGUARD_PREDICT_BUDGET=1000000000/day MLGUARD_CRYPTO_RATE=1000000000/second MLGUARD_TOKEN_RATE=1000/minute MLGUARD_CONCURRENCY_LIMIT=1024 MLGUARD_NO_TLS=1
declare -A PORT PID
for v in old new; do
  export MLGUARD_DATA_DIR=$W/data-$v
  ${BIN[$v]} apikey create bench --role admin > $W/key-$v 2>/dev/null
  PORT[$v]=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  MLGUARD_LISTEN=127.0.0.1:${PORT[$v]} taskset -c 0 ${BIN[$v]} serve > $W/$v.out 2> $W/$v.err &
  PID[$v]=$!
  for i in $(seq 120); do curl -s -o /dev/null http://127.0.0.1:${PORT[$v]}/healthz && break; sleep 0.5; done
  cat > $W/$v.lua <<LUA
wrk.method = "POST"
local f = assert(io.open("$W/predict.json", "rb")); wrk.body = f:read("*a"); f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "$(tr -d '\n' < $W/key-$v)"
LUA
  taskset -c 1 wrk -t1 -c32 -d2s -s $W/$v.lua http://127.0.0.1:${PORT[$v]}/predict > /dev/null
done
ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
for r in $(seq "$ROUNDS"); do
  for v in old new; do
    t0=$(ticks ${PID[$v]})
    out=$(taskset -c 1 wrk -t1 -c32 -d${DURATION}s -s $W/$v.lua http://127.0.0.1:${PORT[$v]}/predict)
    t1=$(ticks ${PID[$v]})
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    cpu=$(python3 -c "print(round(($t1-$t0)*10000/$reqs, 1))")
    echo "round $r $v: $rps req/s, $reqs requests, server CPU ${cpu} us/request, non-2xx ${non2xx:-0}"
  done
done
