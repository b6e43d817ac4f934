#!/usr/bin/env bash
# The HTTP benchmark of docs/benchmarks.md, on this machine, loopback only.
#
#   bash loadtest/bench.sh            # everything (about 5 minutes on 2 cores)
#   STEPS="ceiling open" bash loadtest/bench.sh
#   STEPS="ceiling open" OPEN_RATE=20000 bash loadtest/bench.sh   # builds compared at one rate
#
# Steps: ceiling (playcore's grab next to the ceiling server, rounds alternating, in
# one run), open (open loop at half of the maximum just measured, the ceiling first at
# the same rate), wrk (the harness's maximum next to wrk's on the same endpoints), rush
# (1,000,000 attempts from 200,000 users on a stock of 50,000, in fsync and relaxed
# modes). Reports go to $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-target/loadtest}
STEPS=${STEPS:-"ceiling open wrk rush"}
PLAYCORE_PORT=${PLAYCORE_PORT:-18080}
CEILING_PORT=${CEILING_PORT:-18090}
CONCURRENCY=${CONCURRENCY:-256}
# Rounds of the ceiling step, 200,000 grabs each; the ratio is the median of the rounds'
# ratios, so more rounds weigh a noisy moment of a shared machine less.
ROUNDS=${ROUNDS:-5}
PLAYCORE=http://127.0.0.1:$PLAYCORE_PORT
CEILING=http://127.0.0.1:$CEILING_PORT
mkdir -p "$OUT"

# The build the tests use (same features), so nothing is built twice.
cargo test --workspace --release --no-run
BIN=target/release
HARNESS=$BIN/playcore-loadtest
DATA=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT

wait_for() { # URL
  for _ in $(seq 100); do
    curl -sf "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2
  return 1
}

start_playcore() { # durability, name of its log
  stop_playcore
  rm -rf "$DATA/playcore"
  PLAYCORE__STORAGE__DURABILITY=$1 $BIN/playcore serve --bind "127.0.0.1:$PLAYCORE_PORT" \
    --data-dir "$DATA/playcore" >"$OUT/$2.log" 2>&1 &
  PLAYCORE_PID=$!
  PIDS+=("$PLAYCORE_PID")
  wait_for "$PLAYCORE/readyz"
}

stop_playcore() {
  if [[ -n "${PLAYCORE_PID:-}" ]]; then
    kill "$PLAYCORE_PID" 2>/dev/null || true
    wait "$PLAYCORE_PID" 2>/dev/null || true
    PLAYCORE_PID=
  fi
}

start_ceiling() {
  $BIN/playcore-ceiling --bind "127.0.0.1:$CEILING_PORT" >"$OUT/ceiling.log" 2>&1 &
  PIDS+=("$!")
  wait_for "$CEILING/healthz"
}

json() { # FILE EXPRESSION: reads a number out of a report
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"
}

# Every grab a new user: each answer is a new durable order.
writes() { # REQUESTS
  echo --users "$1" --requests "$1" --stock "$1"
}

step_ceiling() {
  echo "== playcore grab (fsync) next to the ceiling, $ROUNDS rounds"
  $HARNESS flash-rush --url "$PLAYCORE" --ceiling-url "$CEILING" --rounds "$ROUNDS" \
    $(writes $((ROUNDS * 200000))) --concurrency "$CONCURRENCY" --quiet --out "$OUT/ceiling.json"
}

step_open() {
  local maximum rate
  maximum=$(json "$OUT/ceiling.json" \
    "(lambda t: t[len(t) // 2])(sorted(p['throughputPerSecond'] for p in r['phases'] if p['name'].startswith('playcore grab')))")
  rate=$(python3 -c "print(round($maximum / 2))")
  if [[ -n "${OPEN_RATE:-}" ]]; then
    rate=$OPEN_RATE
    echo "== open loop at OPEN_RATE (playcore's maximum was $maximum/s): $rate/s for 20 s"
  else
    echo "== open loop at half of playcore's maximum ($maximum/s): $rate/s for 20 s"
  fi
  # The ceiling first at the same rate, then playcore: the harness and this VM's latency
  # floor at that rate, measured in the same run.
  $HARNESS flash-rush --url "$PLAYCORE" --ceiling-url "$CEILING" --rounds 1 --rate "$rate" \
    --duration 20 $(writes $((rate * 20))) --concurrency "$CONCURRENCY" --quiet \
    --out "$OUT/open.json"
}

step_wrk() {
  local activity
  for target in "$PLAYCORE" "$CEILING"; do
    activity=$($HARNESS flash-rush --url "$PLAYCORE" --setup-only --stock 5000000 --quiet)
    echo "== wrk -t1 and -t2 against $target (activity $activity)"
    ACTIVITY=$activity wrk -t1 -c"$CONCURRENCY" -d10s -s loadtest/wrk/grab.lua "$target" |
      tee "$OUT/wrk-t1-${target##*:}.txt" | grep -E "Requests/sec|Non-2xx|Latency"
    ACTIVITY=$activity wrk -t2 -c"$CONCURRENCY" -d10s -s loadtest/wrk/grab.lua "$target" |
      tee "$OUT/wrk-t2-${target##*:}.txt" | grep -E "Requests/sec|Non-2xx|Latency"
    echo "== the harness against $target"
    if [[ "$target" == "$PLAYCORE" ]]; then
      $HARNESS flash-rush --url "$PLAYCORE" $(writes 400000) --concurrency "$CONCURRENCY" \
        --quiet --out "$OUT/harness-playcore.json" | grep -E "^playcore grab"
    else
      $HARNESS flash-rush --url "$PLAYCORE" --ceiling-url "$CEILING" $(writes 400000) \
        --concurrency "$CONCURRENCY" --quiet --out "$OUT/harness-ceiling.json" | grep -E "^ceiling"
    fi
  done
}

step_rush() {
  for mode in fsync relaxed; do
    start_playcore "$mode" "playcore-rush-$mode"
    echo "== flash-rush: 1,000,000 attempts, 200,000 users, stock 50,000 ($mode)"
    $HARNESS flash-rush --url "$PLAYCORE" --users 200000 --requests 1000000 --stock 50000 \
      --concurrency "$CONCURRENCY" --quiet --out "$OUT/rush-$mode.json"
  done
}

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
echo "machine: $(nproc) cores, $(date -u +%Y-%m-%d)"
start_ceiling
# One server for the steps before the rushes; its log shows e.g. when snapshots ran.
start_playcore fsync playcore-fsync
for step in $STEPS; do
  "step_$step"
done
