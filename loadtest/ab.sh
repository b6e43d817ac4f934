#!/usr/bin/env bash
# A/B of the durable grab: two builds of the server (the previous one and this one),
# alternating rounds (base first in odd rounds, new first in even ones), the same harness,
# a fresh data directory and the embedded defaults for each run. Loopback only.
#
#   bash loadtest/ab.sh ROUNDS BASE_BIN NEW_BIN HARNESS OUT [RATE]
#
# Without RATE: closed loop, 200,000 grabs (each a new user) at 256 connections. With
# RATE: open loop at RATE/s for 20 s. Prints "build round grabs/s latency" per run; the
# harness reports stay in OUT. Build the base from a worktree of the previous commit with
# its own CARGO_TARGET_DIR, and run from a directory without a config/ folder.
set -euo pipefail
ROUNDS=$1 BASE=$2 NEW=$3 HARNESS=$4 OUT=$5 RATE=${6:-}
PORT=18180
mkdir -p "$OUT"; cd "$OUT"
run() { # NAME BIN ROUND
  local data; data=$(mktemp -d)
  "$2" serve --bind 127.0.0.1:$PORT --data-dir "$data/d" > "$OUT/$1-$3.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/readyz >/dev/null 2>&1 && break; sleep 0.1; done
  if [[ -z "$RATE" ]]; then
    "$HARNESS" flash-rush --url http://127.0.0.1:$PORT --users 200000 --requests 200000 \
      --stock 200000 --concurrency 256 --quiet --out "$OUT/$1-$3.json" >/dev/null
  else
    "$HARNESS" flash-rush --url http://127.0.0.1:$PORT --rate "$RATE" --duration 20 \
      --users $((RATE*20)) --requests $((RATE*20)) --stock $((RATE*20)) --concurrency 256 \
      --quiet --out "$OUT/$1-$3.json" >/dev/null
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
  python3 - "$OUT/$1-$3.json" "$1" "$3" <<'PY'
import json,sys
r=json.load(open(sys.argv[1]))
p=[p for p in r['phases'] if p['name'].startswith('playcore grab')][0]
lat=p.get('latency') or {}
print(sys.argv[2], sys.argv[3], round(p['throughputPerSecond']), json.dumps({k:lat[k] for k in lat if k in ('p50Us','p99Us','maxUs')}))
PY
}
for round in $(seq "$ROUNDS"); do
  if (( round % 2 )); then run base "$BASE" "$round"; run new "$NEW" "$round"
  else run new "$NEW" "$round"; run base "$BASE" "$round"; fi
done
