#!/usr/bin/env bash
# Detail read, two checkouts side by side (ABAB): req/s, p50/p99 and server CPU per request.
# usage: benchmarks/detail_read_ab.sh OLD_CHECKOUT NEW_CHECKOUT   (each with its .venv; make install)
# env: WORKERS (2), SECONDS_PER_ROUND (8), ROUNDS (3). Needs wrk.
set -euo pipefail
old=$(realpath "$1"); new=$(realpath "$2")
workers=${WORKERS:-2}; seconds=${SECONDS_PER_ROUND:-8}; rounds=${ROUNDS:-3}
scratch=$(mktemp -d); pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$scratch"' EXIT

tree_cpu() {  # CPU seconds of a process and its children, from /proc (clock ticks)
    python3 - "$1" <<'PY'
import os, sys
def children(pid):
    try:
        return [int(c) for t in os.listdir(f"/proc/{pid}/task")
                for c in open(f"/proc/{pid}/task/{t}/children").read().split()]
    except OSError:
        return []
todo, ticks = [int(sys.argv[1])], 0
while todo:
    pid = todo.pop()
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    except OSError:
        continue
    todo += children(pid)
print(ticks / os.sysconf("SC_CLK_TCK"))
PY
}

declare -A port pid id
for side in old new; do
    root=${!side}; home=$scratch/$side; port[$side]=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    PROVENANT_HOME=$home "$root/.venv/bin/provenant" run ibkr_trading_signal_workflow --symbol TSLA --json > "$scratch/$side.json"
    id[$side]=$(python3 -c "import json, sys; print(next(a['id'] for a in json.load(open(sys.argv[1]))['artifacts'] if a['type'] == 'chart'))" "$scratch/$side.json")  # the same kind on both sides
    PROVENANT_HOME=$home "$root/.venv/bin/provenant" serve --port "${port[$side]}" --no-mlflow-ui --workers "$workers" > "$scratch/$side.log" 2>&1 &
    pid[$side]=$!; pids+=($!)
done
for side in old new; do
    until curl -sf "http://127.0.0.1:${port[$side]}/api/health" > /dev/null; do sleep 0.5; done
done
for round in $(seq "$rounds"); do
    for side in old new; do
        url="http://127.0.0.1:${port[$side]}/api/artifacts/${id[$side]}"
        wrk -t1 -c32 -d2s "$url" > /dev/null
        before=$(tree_cpu "${pid[$side]}")
        out=$(wrk -t1 -c32 -d"${seconds}s" --latency "$url")
        after=$(tree_cpu "${pid[$side]}")
        requests=$(grep -oP '\d+(?= requests in)' <<< "$out")
        echo "$side round $round: $(grep -oP 'Requests/sec:\s+\K[\d.]+' <<< "$out") req/s," \
             "p50 $(awk '$1 == "50%" {print $2}' <<< "$out"), p99 $(awk '$1 == "99%" {print $2}' <<< "$out")," \
             "server CPU $(python3 -c "print(round(($after - $before) * 1000 / $requests, 3))") ms/request" \
             "$(grep -o 'Non-2xx.*' <<< "$out" || true)"
    done
done
