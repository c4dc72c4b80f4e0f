#!/usr/bin/env bash
# System calls per request (issue 17): the release bare server (benches/examples/bare_server.rs)
# and the release ml-api (plain HTTP, API key, access log and every edge layer on, logs at the
# default `info`), each warmed up, then traced with `strace -c -f` (every thread of the
# process) while wrk sends a fixed number of `POST /predict` requests. Prints a Markdown table
# of system calls per request, per server and per call, from this one run.
#
#   bash benches/syscalls.sh                  # TRACE_SECONDS=10 per server
#   TRACE_SECONDS=3 bash benches/syscalls.sh  # a quick look
#
# Knobs (environment): BUILD (1; 0 uses the release binaries already in target/),
# TRACE_SECONDS (10), CONNECTIONS (8: wrk keeps them open, so connection set-up is 8 accepts
# in the whole run), TOP (12: calls listed per server). Counts are divided by the responses wrk
# counted; the requests still in flight when it stops (at most CONNECTIONS) were served but
# not counted, so the figures are high by at most CONNECTIONS / requests (printed).
#
# Under strace every system call is much slower, so absolute speed means nothing here; the
# count per request is the figure (it also depends on batching: a slower server finds more
# work per wake-up). Every process started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-1}
TRACE_SECONDS=${TRACE_SECONDS:-10}
CONNECTIONS=${CONNECTIONS:-8}
TOP=${TOP:-12}

log() { printf '[syscalls] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in strace wrk curl python3; do
    command -v "$tool" >/dev/null || die "$tool is needed"
done

WORK=$(mktemp -d /tmp/mlguard-syscalls.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$BUILD" = 1 ]; then
    log "building release ml-api and the bare server"
    (cd "$ROOT" && cargo build --release -q -p ml-api && cargo build --release -q -p mlguard-benches --example bare_server)
fi
TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
ML_API="$TARGET_DIR/release/ml-api"
BARE="$TARGET_DIR/release/examples/bare_server"
[ -x "$ML_API" ] && [ -x "$BARE" ] || die "release binaries missing"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_up() {
    local pid=$1 url=$2 i
    for i in $(seq 240); do
        kill -0 "$pid" 2>/dev/null || die "server $pid exited (logs in $WORK)"
        if curl -s -o /dev/null --max-time 2 "$url"; then return 0; fi
        sleep 0.5
    done
    die "$url not up after 120 s"
}

PLAIN='{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}'
printf '%s' "$PLAIN" >"$WORK/predict.json"

# lua FILE HEADER LIMIT: POSTs the iris body; stops after LIMIT responses (LIMIT 0: never).
lua() {
    local file=$1 header=$2 limit=$3
    {
        echo 'wrk.method = "POST"'
        echo "local f = assert(io.open(\"$WORK/predict.json\", \"rb\")); wrk.body = f:read(\"*a\"); f:close()"
        echo 'wrk.headers["Content-Type"] = "application/json"'
        [ -n "$header" ] && printf 'wrk.headers["%s"] = "%s"\n' "${header%%: *}" "${header#*: }"
        echo "local limit = $limit"
        cat <<'EOF'
local n = 0
function response(status, headers, body)
  n = n + 1
  if limit > 0 and n >= limit then wrk.thread:stop() end
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d\n", summary.requests, summary.errors.status))
end
EOF
    } >"$file"
}

# measure NAME PID URL HEADER: warm up, then strace -c -f the server for TRACE_SECONDS.
measure() {
    local name=$1 pid=$2 url=$3 header=$4 out reqs non2xx
    lua "$WORK/$name-warm.lua" "$header" 0
    lua "$WORK/$name.lua" "$header" 0
    code=$(curl -s -o "$WORK/$name.resp" -w '%{http_code}' -H 'Content-Type: application/json' \
        ${header:+-H "$header"} --data-binary "@$WORK/predict.json" "$url")
    [ "$code" = 200 ] || die "$name: HTTP $code: $(head -c 300 "$WORK/$name.resp")"
    log "$name: warming up (2 s)"
    wrk -t1 -c"$CONNECTIONS" -d2s -s "$WORK/$name-warm.lua" "$url" >/dev/null
    log "$name: $TRACE_SECONDS s of requests under strace -c -f"
    strace -c -f -p "$pid" -o "$WORK/$name.strace" &
    local strace_pid=$!
    sleep 1 # attached to every thread
    # A fixed duration, not wrk's `thread:stop()` after REQUESTS responses: wrk's main thread
    # sleeps for the whole -d duration whatever its threads do, so a stopped thread left wrk
    # (and this script) waiting for the full 600 s. The count is what wrk answered.
    out=$(wrk -t1 -c"$CONNECTIONS" -d"$TRACE_SECONDS"s --timeout 10s -s "$WORK/$name.lua" "$url")
    kill -INT "$strace_pid"
    wait "$strace_pid" 2>/dev/null || true
    read -r _ reqs non2xx <<<"$(grep '^RESULT' <<<"$out")"
    [ "$non2xx" = 0 ] || die "$name: $non2xx responses were not 2xx"
    printf '%s\t%s\n' "$name" "$reqs" >>"$WORK/runs.tsv"
}

: >"$WORK/runs.tsv"

log "starting the bare server"
PORT_BARE=$(free_port)
"$BARE" "127.0.0.1:$PORT_BARE" >"$WORK/bare.out" 2>"$WORK/bare.err" &
PID_BARE=$!
PIDS+=("$PID_BARE")
wait_up "$PID_BARE" "http://127.0.0.1:$PORT_BARE/"
measure bare "$PID_BARE" "http://127.0.0.1:$PORT_BARE/predict" ""
kill "$PID_BARE"

log "starting ml-api (plain HTTP, logs at info to a file)"
export MLGUARD_DATA_DIR="$WORK/ml-api-data"
export MLGUARD_PREDICT_RATE=1000000000/second
export MLGUARD_PREDICT_BUDGET=1000000000/day
export MLGUARD_CONCURRENCY_LIMIT=1024
"$ML_API" apikey create syscalls --role admin >"$WORK/apikey" 2>/dev/null
API_KEY=$(tr -d '\n' <"$WORK/apikey")
PORT_API=$(free_port)
MLGUARD_NO_TLS=1 MLGUARD_LISTEN="127.0.0.1:$PORT_API" "$ML_API" serve >"$WORK/ml-api.out" 2>"$WORK/ml-api.err" &
PID_API=$!
PIDS+=("$PID_API")
wait_up "$PID_API" "http://127.0.0.1:$PORT_API/healthz"
measure ml-api "$PID_API" "http://127.0.0.1:$PORT_API/predict" "X-API-Key: $API_KEY"
ACCESS_LINES=$(grep -c 'mlguard_http::access' "$WORK/ml-api.err" || true)
log "ml-api wrote $ACCESS_LINES access-log lines"

python3 - "$WORK" "$TOP" <<'EOF'
import sys, pathlib
work, top = pathlib.Path(sys.argv[1]), int(sys.argv[2])
runs = [l.split("\t") for l in (work / "runs.tsv").read_text().splitlines() if l]

def calls(path):
    out = {}
    for line in path.read_text().splitlines():
        f = line.split()
        if len(f) < 5 or not f[0][0].isdigit() or f[-1] == "total":
            continue
        # % time, seconds, usecs/call, calls, [errors], syscall
        out[f[-1]] = int(f[3])
    return out

per = {}
for name, reqs in runs:
    c = calls(work / f"{name}.strace")
    per[name] = ({k: v / int(reqs) for k, v in c.items()}, int(reqs))
names = [n for n, _ in runs]
print("| system call | " + " | ".join(f"{n} (per request)" for n in names) + " |")
print("|---|" + "---:|" * len(names))
keys = sorted({k for p, _ in per.values() for k in p}, key=lambda k: -max(p.get(k, 0) for p, _ in per.values()))
for k in keys[:top]:
    print(f"| `{k}` | " + " | ".join(f"{per[n][0].get(k, 0):.3f}" for n in names) + " |")
print("| **all** | " + " | ".join(f"**{sum(per[n][0].values()):.2f}**" for n in names) + " |")
print("| requests traced | " + " | ".join(str(per[n][1]) for n in names) + " |")
EOF
