#!/usr/bin/env bash
# The event-delivery benchmarks. Loopback only; each step starts fresh servers with the
# embedded defaults (loopback endpoints allowed) and a fresh data directory.
#
#   bash loadtest/webhooks-bench.sh STEP [ARGS]   (release binaries in target/release)
#
# Steps:
#   ab ROUNDS            grab throughput with three endpoints subscribed to every event
#                        against none, alternating (closed loop, 200,000 grabs each)
#   latency RATE SECONDS open loop at RATE grabs/s (one event each) with one endpoint:
#                        the receiver's latency from the event's time to its arrival
#   catchup ACTIVITIES GRABS
#                        the receiver down (503) during ACTIVITIES rushes of GRABS grabs
#                        each, then up: how fast the endpoint catches up (the sustained
#                        delivery rate; the receiver answers at once), and the server's
#                        peak memory meanwhile
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/playcore}
HARNESS=${HARNESS:-target/release/playcore-loadtest}
RECEIVER=${RECEIVER:-target/release/playcore-receiver}
PORT=18280 RECEIVER_PORT=19100
URL=http://127.0.0.1:$PORT
OUT=${OUT:-$(mktemp -d)}; mkdir -p "$OUT"
ADMIN=(-H "Authorization: Bearer dev-admin" -H "Content-Type: application/json")
export PLAYCORE__WEBHOOKS__ALLOW_PRIVATE_ADDRESSES=true

start_server() { # DATA
    "$BIN" serve --bind 127.0.0.1:$PORT --data-dir "$1" > "$OUT/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 100); do curl -sf $URL/readyz >/dev/null 2>&1 && return; sleep 0.1; done
    echo "server did not start" >&2; exit 2
}
stop_server() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }
start_receiver() { # [idle|prompt]
    # The receiver stands for a system elsewhere. Where the grab path is measured it must
    # not take the CPU playcore would have, so it runs in the idle class (SCHED_IDLE).
    # Where delivery itself is measured it must answer at once, as a receiver on its own
    # machine would: in the idle class it waits for the scheduler behind playcore's own
    # background threads, so there it runs in the normal class.
    local class=(chrt --idle 0)
    [[ ${1:-idle} == prompt ]] && class=()
    "${class[@]}" "$RECEIVER" --bind 127.0.0.1:$RECEIVER_PORT > "$OUT/receiver.log" 2>&1 &
    RECEIVER_PID=$!
    sleep 0.3
}
stop_receiver() { kill "$RECEIVER_PID"; wait "$RECEIVER_PID" 2>/dev/null || true; }
endpoint() { # DESCRIPTION
    curl -sf "${ADMIN[@]}" -XPOST $URL/admin/v1/webhooks/endpoints \
        -d "{\"url\":\"http://127.0.0.1:$RECEIVER_PORT/hook\",\"description\":\"$1\"}" >/dev/null
}
stats() { curl -sf http://127.0.0.1:$RECEIVER_PORT/stats; }
rush() { # GRABS [extra harness args]
    local grabs=$1; shift
    "$HARNESS" flash-rush --url $URL --users "$grabs" --requests "$grabs" --stock "$grabs" \
        --concurrency 256 --quiet --out "$OUT/rush.json" "$@" >/dev/null
    python3 - "$OUT/rush.json" <<'PY'
import json,sys
r=json.load(open(sys.argv[1]))
p=[p for p in r['phases'] if p['name'].startswith('playcore grab')][0]
lat=p.get('latency') or {}
print(round(p['throughputPerSecond']), lat.get('p50Us'), lat.get('p99Us'))
PY
}
wait_delivered() { # COUNT TIMEOUT_S: until the receiver has COUNT distinct ids
    local deadline=$((SECONDS + $2))
    while (( SECONDS < deadline )); do
        local got; got=$(stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["distinctIds"])')
        (( got >= $1 )) && return 0
        sleep 0.5
    done
    echo "timed out at $(stats)" >&2; return 1
}
peak_rss_kib() { awk '/VmHWM/ {print $2}' /proc/"$SERVER"/status; }

step_ab() {
    local rounds=$1
    start_receiver
    for round in $(seq "$rounds"); do
        for build in none three; do
            [[ $((round % 2)) == 0 ]] && build=$([[ $build == none ]] && echo three || echo none)
            local data; data=$(mktemp -d)
            start_server "$data/d"
            if [[ $build == three ]]; then endpoint a; endpoint b; endpoint c; fi
            echo "$build $round $(rush 200000)"
            stop_server; rm -rf "$data"; sleep 2
        done
    done
    stop_receiver
}

step_latency() {
    local rate=$1 seconds=$2 data; data=$(mktemp -d)
    start_receiver; start_server "$data/d"; endpoint latency
    rush $((rate * seconds)) --rate "$rate" --duration "$seconds" >/dev/null
    wait_delivered $((rate * seconds)) 60 || true
    echo "latency at $rate/s: $(stats)"
    stop_server; stop_receiver; rm -rf "$data"
}

step_catchup() {
    local activities=$1 grabs=$2 data; data=$(mktemp -d)
    start_receiver prompt; start_server "$data/d"; endpoint catchup
    curl -sf -XPOST http://127.0.0.1:$RECEIVER_PORT/down
    for activity in $(seq "$activities"); do echo "rush $activity: $(rush "$grabs")"; done
    echo "peak RSS during the outage: $(peak_rss_kib) KiB"
    curl -sf -XPOST http://127.0.0.1:$RECEIVER_PORT/reset
    curl -sf -XPOST http://127.0.0.1:$RECEIVER_PORT/up
    wait_delivered $((activities * grabs)) 900 || true
    stats > "$OUT/catchup-stats.json"
    echo "catch-up: $(stats | python3 -c 'import json,sys; s=json.load(sys.stdin); s.pop("perSecond"); print(json.dumps(s))')"
    echo "peak RSS after catching up: $(peak_rss_kib) KiB"
    stop_server; stop_receiver; rm -rf "$data"
}

step=$1; shift
"step_$step" "$@"
