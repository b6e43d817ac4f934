#!/usr/bin/env bash
# Open loop, several builds side by side: each round runs every build once, the order
# rotated by one each round, a fresh data directory and the embedded defaults each run.
# Loopback only.
#
#   bash loadtest/ab-multi.sh ROUNDS OUT RATE NAME=BIN...
#
# Prints "name round grabs/s p50_us p99_us" per run; the reports stay in OUT.
set -euo pipefail
ROUNDS=$1 OUT=$2 RATE=$3; shift 3
HARNESS=${HARNESS:-target/release/playcore-loadtest} PORT=18180
mkdir -p "$OUT"
names=(); bins=()
for nb in "$@"; do names+=("${nb%%=*}"); bins+=("${nb#*=}"); done
n=${#names[@]}
run() {
  local name=$1 bin=$2 round=$3 data; data=$(mktemp -d)
  "$bin" serve --bind 127.0.0.1:$PORT --data-dir "$data/d" > "$OUT/$name-$round.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/readyz >/dev/null 2>&1 && break; sleep 0.1; done
  "$HARNESS" flash-rush --url http://127.0.0.1:$PORT --rate "$RATE" --duration 20 \
      --users $((RATE*20)) --requests $((RATE*20)) --stock $((RATE*20)) --concurrency 256 \
      --quiet --out "$OUT/$name-$round.json" >/dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"; sleep 2
  python3 - "$OUT/$name-$round.json" "$name" "$round" <<'PY'
import json,sys
r=json.load(open(sys.argv[1]))
p=[p for p in r['phases'] if p['name'].startswith('playcore grab')][0]
lat=p.get('latency') or {}
print(sys.argv[2], sys.argv[3], round(p['throughputPerSecond']), lat.get('p50Us'), lat.get('p99Us'), flush=True)
PY
}
for round in $(seq "$ROUNDS"); do
  for k in $(seq 0 $((n-1))); do
    i=$(( (k + round) % n ))
    run "${names[$i]}" "${bins[$i]}" "$round"
  done
done
