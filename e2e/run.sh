#!/usr/bin/env bash
# Runs the H5 end-to-end test (e2e/h5.test.mjs) against the real server:
#   1. starts `playcore serve --demo` on a free loopback port with a temporary data dir;
#   2. waits until /readyz answers 200;
#   3. runs the test with node's built-in runner (headless Chromium through playwright-core);
#   4. stops the server with SIGTERM (its log is printed when something failed).
# Screenshots go to target/e2e/*.png. Needs /usr/bin/chromium and `npm ci` done in e2e/.
#
# Environment: PLAYCORE_BINARY (default target/release/playcore), CHROMIUM_PATH (default
# /usr/bin/chromium), E2E_SCREENSHOT_DIR (default target/e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

binary=${PLAYCORE_BINARY:-$root/target/release/playcore}
chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
export E2E_SCREENSHOT_DIR=${E2E_SCREENSHOT_DIR:-$root/target/e2e}
export CHROMIUM_PATH=$chromium
# How long the server may take to become ready, in polls of 100 ms (30 s).
ready_wait_max=300

fail() {
    echo "e2e: $*" >&2
    exit 1
}

[ -x "$binary" ] || fail "no server binary at $binary (cargo build --release, or set PLAYCORE_BINARY)"
[ -x "$chromium" ] || fail "no Chromium at $chromium (apt-get install chromium)"
[ -d e2e/node_modules/playwright-core ] || fail "playwright-core is not installed (cd e2e && npm ci)"

port=$(node -e 'const s = require("net").createServer();
s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
base="http://127.0.0.1:$port"
work=$(mktemp -d "${TMPDIR:-/tmp}/playcore-e2e.XXXXXX")
mkdir -p "$E2E_SCREENSHOT_DIR"
rm -f "$E2E_SCREENSHOT_DIR"/*.png

env -u PLAYCORE_ENV RUST_LOG=info "$binary" serve --demo --bind "127.0.0.1:$port" \
    --data-dir "$work/data" >"$work/server.log" 2>&1 &
server=$!

status=1
stop_server() {
    if kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server"
        wait "$server" || true
    fi
    if [ "$status" -ne 0 ]; then
        echo "e2e: failed; server log ($work/server.log), last lines:" >&2
        tail -n 40 "$work/server.log" >&2 || true
    else
        rm -rf "$work"
    fi
}
trap stop_server EXIT

ready() {
    node -e 'fetch(process.argv[1]).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))' \
        "$base/readyz"
}

for ((attempt = 0; ; attempt++)); do
    kill -0 "$server" 2>/dev/null || fail "the server exited before it was ready"
    ready && break
    [ "$attempt" -lt "$ready_wait_max" ] || fail "/readyz not 200 after $((ready_wait_max / 10)) s"
    sleep 0.1
done
grep -o 'demo activity online: [^ ]*' "$work/server.log" || true

started=$(date +%s)
cd e2e
PLAYCORE_BASE=$base node --test --test-concurrency=1 h5.test.mjs
status=$?
echo "e2e: passed in $(($(date +%s) - started)) s; screenshots in $E2E_SCREENSHOT_DIR"
