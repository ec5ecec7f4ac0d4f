#!/usr/bin/env bash
# The demo: a real controller on loopback with a fresh data dir, the real agent reporting this machine,
# the device table and the HTML report. Stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
./scripts/install-deps.sh
WORK="$(mktemp -d /tmp/rollcall-demo.XXXXXX)"
echo "== Building rollcall and rollcall-agent (debug; the first build takes several minutes)"
for product in rollcall rollcall-agent; do
    swift build --product "$product" > "$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
done
BIN="$(swift build --show-bin-path)"

CONTROLLER_PID=""
cleanup() { [ -n "$CONTROLLER_PID" ] && kill "$CONTROLLER_PID" 2>/dev/null && wait "$CONTROLLER_PID" 2>/dev/null || true; }
trap cleanup EXIT

# Controller: the sample config with a fresh store in the demo directory and a free port.
sed -e "s#^path = .*#path = \"$WORK/controller.sqlite\"#" -e 's/^port = .*/port = 0/' controller/controller.toml > "$WORK/controller.toml"
"$BIN/rollcall" serve --config "$WORK/controller.toml" > "$WORK/controller.out" 2> "$WORK/controller.log" &
CONTROLLER_PID=$!
for _ in $(seq 1 100); do grep -q "rollcall listening on" "$WORK/controller.out" 2>/dev/null && break; sleep 0.1; done
URL="$(grep -o 'http://[0-9.:]*' "$WORK/controller.out" | head -1)"
[ -n "$URL" ] || { echo "The controller did not start; its log:" >&2; cat "$WORK/controller.log" >&2; exit 1; }
echo "== Controller listening on $URL (store $WORK/controller.sqlite)"
echo "   NOTE: plain HTTP on loopback for this demo only; TLS and agent enrolment are the next step."

# Agent: the sample config pointed at the demo controller, run once against this machine's real /.
sed -e "s#^url = .*#url = \"$URL\"#" -e "s#^state_dir = .*#state_dir = \"$WORK/agent\"#" agent/agent.toml > "$WORK/agent.toml"
echo "== Agent: one snapshot of this machine, queued in its outbox and delivered"
"$BIN/rollcall-agent" run --once --config "$WORK/agent.toml" 2> "$WORK/agent.log" || { cat "$WORK/agent.log" >&2; exit 1; }
"$BIN/rollcall-agent" status --config "$WORK/agent.toml"

echo
echo "== Devices known to the controller"
"$BIN/rollcall" devices list --config "$WORK/controller.toml"
REPORT="$PWD/rollcall-report.html"
"$BIN/rollcall" report --format html --output "$REPORT" --config "$WORK/controller.toml"
curl -sS --fail "$URL/report?format=csv" > "$WORK/report.csv"
echo
echo "== The compliance report is in $REPORT (CSV copy from $URL/report?format=csv in $WORK/report.csv)"
