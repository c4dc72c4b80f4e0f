#!/usr/bin/env bash
# End-to-end load benchmark of ml-api (issue 10): the release server over real loopback sockets,
# driven by wrk, against (a) the same model in a bare axum app with no security layer and (b) the
# tutorial's FastAPI app (benches/peers/fastapi/) under uvicorn. Prints a markdown table of
# requests/s, p50/p99 latency and server CPU per request, and the ratios, all from this one run.
#
# NOT run by CI: it takes about 5 minutes and wants two otherwise quiet cores.
#
#   bash benches/load.sh                      # the figures in docs/benchmarks.md
#   DURATION=5 ROUNDS=1 bash benches/load.sh  # a quick look
#   PROFILE=1 bash benches/load.sh            # also a perf profile of each server's /predict
#   PG_CASE=0 bash benches/load.sh            # without the PostgreSQL cases
#
# Knobs (environment): DURATION seconds per measurement (10), CONNECTIONS (32), THREADS of wrk (1),
# ROUNDS (3: every case runs once per round, rounds alternate the order, the table shows the
# median round), TLS_CASE (1: also ml-api over TLS), PROFILE (0), SERVER_CPU (0), LOAD_CPU (1),
# PG_CASE (1 when initdb and postgres are found: also ml-api with MLGUARD_DATABASE_URL on a
# throwaway PostgreSQL, to show the hot path makes no database round trip; 0 to skip).
#
# Every server listens on 127.0.0.1 on a free port and all traffic stays on loopback. Every
# process started here is stopped on exit (trap), and every load run is bounded by DURATION.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEER="$ROOT/benches/peers/fastapi"
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-3}
TLS_CASE=${TLS_CASE:-1}
# PostgreSQL's binaries: on PATH, else Debian's /usr/lib/postgresql/*/bin (not on PATH).
PG_BIN=$(dirname "$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1 || true)")
if [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/postgres" ]; then PG_CASE=${PG_CASE:-1}; else PG_CASE=${PG_CASE:-0}; fi
PROFILE=${PROFILE:-0}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
WARMUP=2

log() { printf '[load] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

WORK=$(mktemp -d /tmp/mlguard-load.XXXXXX)
PIDS=()
PG_DIR=""   # the throwaway PostgreSQL's directory, when PG_CASE=1
AS_PG=()    # how PostgreSQL's commands run: as an unprivileged user when we are root
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "$PG_DIR" ]; then
        "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools -------------------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
    log "installing wrk (apt)"
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
command -v curl >/dev/null || die "curl is needed"
command -v python3 >/dev/null || die "python3 is needed (FastAPI peer and the report)"

NPROC=$(nproc)
if command -v taskset >/dev/null && [ "$NPROC" -ge 2 ]; then
    SERVER_PIN=(taskset -c "$SERVER_CPU")
    LOAD_PIN=(taskset -c "$LOAD_CPU")
    PINNING="servers pinned to CPU $SERVER_CPU, wrk to CPU $LOAD_CPU (taskset)"
else
    SERVER_PIN=()
    LOAD_PIN=()
    PINNING="no pinning (taskset missing or fewer than 2 CPUs): servers and wrk share the CPUs"
fi

# --- build -------------------------------------------------------------------------------------
log "building release ml-api and the bare server"
(cd "$ROOT" && cargo build --release -q -p ml-api && cargo build --release -q -p mlguard-benches --example bare_server)
TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
ML_API="$TARGET_DIR/release/ml-api"
BARE="$TARGET_DIR/release/examples/bare_server"
[ -x "$ML_API" ] && [ -x "$BARE" ] || die "release binaries missing"

# --- FastAPI peer ------------------------------------------------------------------------------
if [ ! -x "$PEER/.venv/bin/uvicorn" ] || ! cmp -s "$PEER/requirements.txt" "$PEER/.venv/requirements.txt"; then
    log "setting up the FastAPI virtualenv (benches/peers/fastapi/.venv)"
    python3 -m venv "$PEER/.venv"
    "$PEER/.venv/bin/pip" install -q -r "$PEER/requirements.txt"
    cp "$PEER/requirements.txt" "$PEER/.venv/requirements.txt"
fi
[ -f "$PEER/model.pkl" ] || { log "training the tutorial's model (utilis.py)"; "$PEER/.venv/bin/python" "$PEER/utilis.py"; }

# --- helpers -----------------------------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start NAME CMD...: runs CMD pinned to the server CPU, logs in $WORK/NAME.out/.err; sets $LAST_PID.
start() {
    local name=$1
    shift
    "${SERVER_PIN[@]}" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# wait_up PID URL: until URL answers (any status), at most 120 s.
wait_up() {
    local pid=$1 url=$2 i
    for i in $(seq 240); do
        kill -0 "$pid" 2>/dev/null || die "server $pid exited (logs in $WORK)"
        if curl -sk -o /dev/null --max-time 2 "$url"; then return 0; fi
        sleep 0.5
    done
    die "$url not up after 120 s"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# busy and total ticks of the server CPU (all processes on it, other users' included)
core_ticks() {
    if [ "${#SERVER_PIN[@]}" -gt 0 ]; then
        awk -v c="cpu$SERVER_CPU" '$1 == c {print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat
    else
        echo "0 0"
    fi
}

# --- servers -----------------------------------------------------------------------------------
PLAIN='{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}'
printf '%s' "$PLAIN" >"$WORK/predict.json"
python3 -c 'import json,sys; sys.stdout.write(json.dumps({"plaintext": "a" * 1024}))' >"$WORK/encrypt.json"

DATA="$WORK/ml-api-data"
export MLGUARD_DATA_DIR="$DATA"
export MLGUARD_PREDICT_RATE=1000000000/second  # the maximum the quota parser accepts
export MLGUARD_PREDICT_BUDGET=1000000000/day    # the daily query budget (issue 18) would stop a load run
export MLGUARD_CRYPTO_RATE=1000000000/second   # /encrypt is measured too
export MLGUARD_TOKEN_RATE=1000/minute
export MLGUARD_ACCESS_TOKEN_TTL=2h
export MLGUARD_CONCURRENCY_LIMIT=1024

log "starting ml-api (plain HTTP) and creating an admin API key"
"$ML_API" apikey create load-bench --role admin >"$WORK/apikey" 2>/dev/null
API_KEY=$(tr -d '\n' <"$WORK/apikey")
PORT_API=$(free_port)
MLGUARD_NO_TLS=1 MLGUARD_LISTEN="127.0.0.1:$PORT_API" start ml-api "$ML_API" serve
PID_API=$LAST_PID
URL_API="http://127.0.0.1:$PORT_API"
wait_up "$PID_API" "$URL_API/healthz"
ADMIN_PASSWORD=$(sed -n 's/.*created user `admin` with password: \(.*\)$/\1/p' "$WORK/ml-api.err" | head -1)
[ -n "$ADMIN_PASSWORD" ] || die "no admin password in ml-api's first-run output"
JWT_API=$(curl -s --data-urlencode grant_type=password --data-urlencode username=admin \
    --data-urlencode "password=$ADMIN_PASSWORD" "$URL_API/token" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

if [ "$TLS_CASE" = 1 ]; then
    log "starting ml-api over TLS (same data directory: same users, keys and secrets)"
    PORT_TLS=$(free_port)
    MLGUARD_LISTEN="127.0.0.1:$PORT_TLS" start ml-api-tls "$ML_API" serve
    PID_TLS=$LAST_PID
    URL_TLS="https://127.0.0.1:$PORT_TLS"
    wait_up "$PID_TLS" "$URL_TLS/healthz"
fi

if [ "$PG_CASE" = 1 ]; then
    # A throwaway PostgreSQL (the way mlguard-testkit starts one): initdb into its own temporary
    # directory, trust authentication, loopback TCP and a Unix socket in that directory, no
    # fsync; as root, everything runs as the `postgres` user (or `nobody`) through setpriv,
    # since PostgreSQL refuses to run as root. Stopped (immediate) and removed on exit.
    log "starting a throwaway PostgreSQL and ml-api on it (MLGUARD_DATABASE_URL)"
    [ -x "$PG_BIN/pg_ctl" ] || die "pg_ctl not found next to $PG_BIN/initdb"
    PG_DIR=$(mktemp -d /tmp/mlguard-load-pg.XXXXXX)
    if [ "$(id -u)" = 0 ]; then
        pg_user=postgres
        id "$pg_user" >/dev/null 2>&1 || pg_user=nobody
        chown "$(id -u "$pg_user"):$(id -g "$pg_user")" "$PG_DIR"
        AS_PG=(setpriv "--reuid=$(id -u "$pg_user")" "--regid=$(id -g "$pg_user")" --clear-groups)
    fi
    "${AS_PG[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --no-sync -E UTF8 \
        --locale=C >"$WORK/pg-initdb.log" 2>&1 || die "initdb failed (see $WORK/pg-initdb.log)"
    PORT_PG=$(free_port)
    # Pinned with the servers: whatever PostgreSQL does during a run counts against their core.
    "${SERVER_PIN[@]}" "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT_PG -k $PG_DIR -c fsync=off" start >/dev/null ||
        die "PostgreSQL did not start: $(tail -5 "$PG_DIR/log" 2>/dev/null)"
    PG_URL="postgres://postgres@127.0.0.1:$PORT_PG/postgres"
    DATA_PG="$WORK/ml-api-pg-data"
    MLGUARD_DATA_DIR="$DATA_PG" MLGUARD_DATABASE_URL="$PG_URL" \
        "$ML_API" apikey create load-bench --role admin >"$WORK/apikey-pg" 2>/dev/null ||
        die "apikey create on PostgreSQL failed"
    API_KEY_PG=$(tr -d '\n' <"$WORK/apikey-pg")
    PORT_API_PG=$(free_port)
    MLGUARD_DATA_DIR="$DATA_PG" MLGUARD_DATABASE_URL="$PG_URL" MLGUARD_NO_TLS=1 \
        MLGUARD_LISTEN="127.0.0.1:$PORT_API_PG" start ml-api-pg "$ML_API" serve
    PID_API_PG=$LAST_PID
    URL_API_PG="http://127.0.0.1:$PORT_API_PG"
    wait_up "$PID_API_PG" "$URL_API_PG/healthz"
    ADMIN_PASSWORD_PG=$(sed -n 's/.*created user `admin` with password: \(.*\)$/\1/p' "$WORK/ml-api-pg.err" | head -1)
    [ -n "$ADMIN_PASSWORD_PG" ] || die "no admin password in the PostgreSQL ml-api's first-run output"
    JWT_API_PG=$(curl -s --data-urlencode grant_type=password --data-urlencode username=admin \
        --data-urlencode "password=$ADMIN_PASSWORD_PG" "$URL_API_PG/token" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
fi

log "starting the bare server"
PORT_BARE=$(free_port)
start bare "$BARE" "127.0.0.1:$PORT_BARE"
PID_BARE=$LAST_PID
URL_BARE="http://127.0.0.1:$PORT_BARE"
wait_up "$PID_BARE" "$URL_BARE/"

log "starting the FastAPI peer (uvicorn, one process)"
PORT_PY=$(free_port)
FA_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
FA_API_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
(
    cd "$PEER"
    FASTAPI_PREDICT_RATE=1000000000/second FASTAPI_TOKEN_RATE=1000/minute \
        FASTAPI_SECRET_KEY="$FA_SECRET" FASTAPI_API_KEY="$FA_API_KEY" \
        exec "${SERVER_PIN[@]}" .venv/bin/uvicorn main:app --host 127.0.0.1 --port "$PORT_PY" --workers 1
) >"$WORK/fastapi.out" 2>"$WORK/fastapi.err" &
PID_PY=$!
PIDS+=("$PID_PY")
URL_PY="http://127.0.0.1:$PORT_PY"
wait_up "$PID_PY" "$URL_PY/docs"
JWT_PY=$(curl -s -d username=admin -d password=password "$URL_PY/token" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# --- cases -------------------------------------------------------------------------------------
# name | server pid | url | header ("" for none) | body file
CASES=(
    "bare axum /predict (no security)|$PID_BARE|$URL_BARE/predict||predict.json"
    "ml-api /predict, JWT|$PID_API|$URL_API/predict|Authorization: Bearer $JWT_API|predict.json"
    "ml-api /predict, API key|$PID_API|$URL_API/predict|X-API-Key: $API_KEY|predict.json"
    "ml-api /encrypt 1 KiB, JWT|$PID_API|$URL_API/encrypt|Authorization: Bearer $JWT_API|encrypt.json"
    "FastAPI /predict, JWT|$PID_PY|$URL_PY/predict|Authorization: Bearer $JWT_PY|predict.json"
    "FastAPI /predict-apikey, API key|$PID_PY|$URL_PY/predict-apikey|api-key: $FA_API_KEY|predict.json"
    "FastAPI /encrypt/ 1 KiB, no auth|$PID_PY|$URL_PY/encrypt/||encrypt.json"
)
IDX_TLS=-1
if [ "$TLS_CASE" = 1 ]; then
    IDX_TLS=${#CASES[@]}
    CASES+=("ml-api /predict, JWT, TLS|$PID_TLS|$URL_TLS/predict|Authorization: Bearer $JWT_API|predict.json")
fi
IDX_PG=-1
if [ "$PG_CASE" = 1 ]; then
    IDX_PG=${#CASES[@]}
    CASES+=("ml-api /predict, JWT, PostgreSQL|$PID_API_PG|$URL_API_PG/predict|Authorization: Bearer $JWT_API_PG|predict.json")
    CASES+=("ml-api /predict, API key, PostgreSQL|$PID_API_PG|$URL_API_PG/predict|X-API-Key: $API_KEY_PG|predict.json")
fi

# lua FILE HEADER BODYFILE: a wrk script that POSTs the body and prints one RESULT line.
lua() {
    local file=$1 header=$2 body=$3
    {
        echo 'wrk.method = "POST"'
        echo "local f = assert(io.open(\"$WORK/$body\", \"rb\")); wrk.body = f:read(\"*a\"); f:close()"
        echo 'wrk.headers["Content-Type"] = "application/json"'
        if [ -n "$header" ]; then
            printf 'wrk.headers["%s"] = "%s"\n' "${header%%: *}" "${header#*: }"
        fi
        cat <<'EOF'
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %.0f %.0f %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
EOF
    } >"$file"
}

log "checking every case answers 200"
i=0
for c in "${CASES[@]}"; do
    IFS='|' read -r name pid url header body <<<"$c"
    lua "$WORK/case$i.lua" "$header" "$body"
    args=(-sk -o "$WORK/case$i.resp" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "@$WORK/$body")
    [ -n "$header" ] && args+=(-H "$header")
    code=$(curl "${args[@]}" "$url")
    [ "$code" = 200 ] || die "$name: HTTP $code: $(head -c 300 "$WORK/case$i.resp")"
    log "  $name: 200 $(head -c 80 "$WORK/case$i.resp")"
    i=$((i + 1))
done

# run_wrk INDEX SECONDS: one bounded wrk run of case INDEX; prints "RESULT ... cpu_ticks".
run_wrk() {
    local idx=$1 secs=$2 name pid url header body before after out busy0 total0 busy1 total1
    IFS='|' read -r name pid url header body <<<"${CASES[$idx]}"
    before=$(cpu_ticks "$pid")
    read -r busy0 total0 <<<"$(core_ticks)"
    out=$(timeout $((secs + 30)) "${LOAD_PIN[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --timeout 5s \
        --latency -s "$WORK/case$idx.lua" "$url")
    after=$(cpu_ticks "$pid")
    read -r busy1 total1 <<<"$(core_ticks)"
    printf '%s\n' "$out" >>"$WORK/wrk.log"
    printf '%s %d %d %d\n' "$(grep '^RESULT' <<<"$out")" $((after - before)) $((busy1 - busy0)) $((total1 - total0))
}

log "warming up ($WARMUP s per case)"
for i in "${!CASES[@]}"; do run_wrk "$i" "$WARMUP" >/dev/null; done

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$WORK/results.tsv"
for round in $(seq "$ROUNDS"); do
    order=("${!CASES[@]}")
    if [ $((round % 2)) = 0 ]; then
        order=()
        for ((j = ${#CASES[@]} - 1; j >= 0; j--)); do order+=("$j"); done
    fi
    for i in "${order[@]}"; do
        name=${CASES[$i]%%|*}
        read -r _ reqs dur p50 p99 non2xx sockerr ticks busy total <<<"$(run_wrk "$i" "$DURATION")"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$round" "$reqs" "$dur" "$p50" "$p99" "$non2xx" "$sockerr" "$ticks" "$busy" "$total" >>"$WORK/results.tsv"
        log "round $round: $name: $reqs requests, p50 ${p50} us, p99 ${p99} us, non-2xx $non2xx, socket errors $sockerr"
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report ------------------------------------------------------------------------------------
names_file="$WORK/names"
for c in "${CASES[@]}"; do printf '%s\n' "${c%%|*}"; done >"$names_file"
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
python3 - "$WORK/results.tsv" "$names_file" "$(getconf CLK_TCK)" <<EOF
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines() if l]
names = open(sys.argv[2]).read().splitlines()
tck = int(sys.argv[3])
agg = {}
for idx, rnd, reqs, dur, p50, p99, non2xx, sockerr, ticks, busy, total in rows:
    a = agg.setdefault(int(idx), {"rps": [], "p50": [], "p99": [], "cpu": [], "use": [], "core": [], "bad": 0})
    reqs, dur = int(reqs), int(dur)
    a["rps"].append(reqs / (dur / 1e6))
    a["p50"].append(int(p50) / 1000)
    a["p99"].append(int(p99) / 1000)
    a["cpu"].append(int(ticks) / tck / reqs * 1e6 if reqs else float("nan"))
    a["use"].append(int(ticks) / tck / (dur / 1e6))
    a["core"].append(int(busy) / int(total) if int(total) else float("nan"))
    a["bad"] += int(non2xx) + int(sockerr)
med = {i: {k: statistics.median(v) for k, v in a.items() if k != "bad"} for i, a in agg.items()}
print()
print("Machine: $NPROC CPUs ($CPU_MODEL); $PINNING.")
print("wrk: $THREADS thread(s), $CONNECTIONS connections, ${DURATION} s per run, ${ROUNDS} round(s) (median shown);"
      " load average $LOAD_BEFORE before, $LOAD_AFTER after.")
print()
print("| case | requests/s | p50 | p99 | server CPU per request | server process, share of a core | server core busy (all processes) | errors |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for i, name in enumerate(names):
    m = med[i]
    print(f"| {name} | {m['rps']:,.0f} | {m['p50']:.2f} ms | {m['p99']:.2f} ms | {m['cpu']:.0f} µs"
          f" | {m['use']:.0%} | {m['core']:.0%} | {agg[i]['bad']} |")
print()
def ratio(a, b, what):
    ra, rb = med[a]["rps"] / med[b]["rps"], med[a]["cpu"] / med[b]["cpu"]
    added = med[a]["cpu"] - med[b]["cpu"]
    print(f"| {what} | {ra:.3g}x | {rb:.3g}x | {added:+.0f} µs |")
print("| A / B | requests/s, A / B | server CPU per request, A / B | CPU per request, A - B |")
print("| --- | ---: | ---: | ---: |")
ratio(1, 0, "ml-api /predict JWT / bare (full stack vs no security)")
ratio(2, 0, "ml-api /predict API key / bare")
ratio(1, 4, "ml-api / FastAPI, /predict with JWT")
ratio(2, 5, "ml-api / FastAPI, /predict with API key")
ratio(3, 6, "ml-api / FastAPI, /encrypt 1 KiB")
if $IDX_TLS >= 0:
    ratio($IDX_TLS, 1, "ml-api TLS / plain HTTP, /predict with JWT")
if $IDX_PG >= 0:
    ratio($IDX_PG, 1, "ml-api PostgreSQL / SQLite (default), /predict with JWT")
    ratio($IDX_PG + 1, 2, "ml-api PostgreSQL / SQLite (default), /predict with API key")
EOF

# --- profile (optional, after the table) ------------------------------------------------------------------------
if [ "$PROFILE" = 1 ] && command -v perf >/dev/null; then
    for i in 0 1 4; do
        IFS='|' read -r name pid _ <<<"${CASES[$i]}"
        log "perf profile of $name"
        perf record -q -e cpu-clock -F 999 -g -p "$pid" -o "$WORK/perf$i.data" -- sleep "$DURATION" 2>/dev/null &
        perf_pid=$!
        run_wrk "$i" "$DURATION" >/dev/null
        wait "$perf_pid" || true
        echo "### perf: $name (self time, top symbols)"
        perf report -i "$WORK/perf$i.data" --no-children -g none --sort dso,symbol --stdio >"$WORK/perf$i.txt" 2>/dev/null || true
        grep -E '^ +[0-9]' "$WORK/perf$i.txt" | sed 's/ *$//' | cut -c1-160 | head -25 || true
        echo "### perf: $name (by library)"
        perf report -i "$WORK/perf$i.data" --no-children -g none --sort dso --stdio >"$WORK/perf$i.dso.txt" 2>/dev/null || true
        grep -E '^ +[0-9]' "$WORK/perf$i.dso.txt" | sed 's/ *$//' | head -8 || true
    done
fi
