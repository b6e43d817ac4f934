#!/usr/bin/env bash
# The cost of gray release on the grab: wrk against activities with gray release disabled
# and enabled, alternating on one server (fsync mode), loopback only.
#
#   bash loadtest/gray-bench.sh          # ROUNDS=5 PORT=18391 SECONDS_PER_RUN=10
#
# "Enabled" is the costliest path: 99.99 %, a 1,000-user whitelist and a city rule, so
# every grab is looked up, hashed (MD5) and recorded in the decisions log.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
PORT=${PORT:-18391}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
URL=http://127.0.0.1:$PORT
OUT=${OUT:-target/loadtest}
mkdir -p "$OUT"

cargo test --workspace --release --no-run    # the tests' build: nothing built twice
BIN=${CARGO_TARGET_DIR:-target}/release
DATA=$(mktemp -d)
$BIN/playcore serve --bind "127.0.0.1:$PORT" --data-dir "$DATA" >"$OUT/gray-server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER; wait $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done

WHITELIST=$(python3 -c "import json; print(json.dumps(['vip-%d' % i for i in range(1000)]))")
GRAY="{\"enabled\":true,\"percentage\":99.99,\"whitelistUserIds\":$WHITELIST,\
\"rules\":{\"cities\":{\"notIn\":[\"nowhere\"]}}}"
echo "machine: $(nproc) cores, $(date -u +%Y-%m-%d)"
for round in $(seq "$ROUNDS"); do
  for mode in disabled enabled; do
    activity=$($BIN/playcore-loadtest flash-rush --url "$URL" --setup-only --stock 5000000 --quiet)
    if [[ $mode == enabled ]]; then
      curl -sf -X PUT -H 'Authorization: Bearer dev-operator' \
        -H 'Content-Type: application/json' -d "$GRAY" \
        "$URL/admin/v1/activities/$activity/gray" >/dev/null
    fi
    report="$OUT/gray-wrk-$round-$mode.txt"
    ACTIVITY=$activity wrk -t1 -c256 -d"${SECONDS_PER_RUN}s" -s loadtest/wrk/grab.lua "$URL" >"$report"
    rate=$(awk '/Requests\/sec/ {print $2}' "$report")
    refused=$(grep -o "Non-2xx or 3xx responses: [0-9]*" "$report" | grep -o "[0-9]*$" || echo 0)
    echo "round $round, gray $mode: $rate grabs/s ($refused refused)"
  done
done
