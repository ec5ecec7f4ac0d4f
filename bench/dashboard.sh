#!/usr/bin/env bash
# Dashboard and compliance report at the size of 50 schools: 25,000 devices, 60,000 directory accounts, 200,000 USB
# storage events (bench/estate.py writes them straight into a store the controller created; real posture facts from
# bench/estate-postures.json; ~300 installed packages per device; the sample licence register imported by
# `rollcall licences import`). Release build of `rollcall`, served on 127.0.0.1 with plain HTTP; a technician's API
# token (`rollcall users token`) on every request.
#   controller:  GET /?format=json and GET / (overview), GET /report?format=csv (full compliance report, every
#                section), GET /devices (first HTML page, 100 rows), GET /devices?format=csv; curl's
#                time_starttransfer (server time: the body is rendered before the first byte) and time_total, WARMUP
#                warm-ups then RUNS runs (SLOW_RUNS when a warm-up took over SLOW_SECONDS); median and p95 (nearest
#                rank). Peak RSS: VmHWM of the serving process. `rollcall report --format csv --output /dev/null` as
#                a CLI (wall, GNU time %M).
#   floor:       the same rows read straight out of the store by the sqlite3 shell (-csv, to /dev/null): a COUNT set
#                answering the overview's tiles and charts, the devices rows (posture facts, USB counts), and every
#                report section's rows. Same run, same store, ratios controller / floor.
#   breakdown:   each section's own export (GET /SECTION?format=csv: that table only, no overview), `rollcall report
#                --section NAME` (each includes the overview the report always carries), and the controller's own
#                heaviest SQL statements timed in the sqlite3 shell.
# Targets (issue): overview server time < 100 ms; full compliance report CSV < 2 s.
# Writes raw data to bench/out/dashboard/ and the "dashboard" section of bench/RESULTS.md (first after the main
# measurements, again with the breakdown).
#
# Usage (as root, from anywhere):  bench/dashboard.sh
# Environment:
#   ROLLCALL_BIN   use this rollcall binary instead of building (default: .build-release/release/rollcall, built
#                  with `swift build -c release --product rollcall --scratch-path .build-release` unless it is newer
#                  than Package.swift and every file under Sources/)
#   RUNS (20), WARMUP (2), SLOW_SECONDS (2), SLOW_RUNS (5), SECTION_RUNS (3), CLI_SECTION_RUNS (1)
#   DEVICES (25000), ACCOUNTS (60000), USB (200000), INCIDENTS (3000), PACKAGES (300 per device), SEED (2026)
#   BENCH_QUIET_PCT (10), BENCH_QUIET_MAX (300): wait up to that many seconds for the machine to be at most that busy
#   KEEP_WORK=1    keep the work directory (store, config, token) for a look afterwards
#   BENCH_RESULTS  write the section into this file instead of bench/RESULTS.md (trial runs)
set -euo pipefail

readonly RUNS="${RUNS:-20}" WARMUP="${WARMUP:-2}" SLOW_SECONDS="${SLOW_SECONDS:-2}" SLOW_RUNS="${SLOW_RUNS:-5}"
readonly SECTION_RUNS="${SECTION_RUNS:-3}" CLI_SECTION_RUNS="${CLI_SECTION_RUNS:-1}"
readonly DEVICES="${DEVICES:-25000}" ACCOUNTS="${ACCOUNTS:-60000}" USB="${USB:-200000}" INCIDENTS="${INCIDENTS:-3000}"
readonly PACKAGES="${PACKAGES:-300}" SEED="${SEED:-2026}"
readonly QUIET_PCT="${BENCH_QUIET_PCT:-10}" QUIET_MAX="${BENCH_QUIET_MAX:-300}"
readonly OVERVIEW_TARGET_MS=100 REPORT_TARGET_MS=2000
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT OUT="$ROOT/bench/out/dashboard" RESULTS="${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}"
export PATH="/opt/swift/usr/bin:$PATH"
say() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'dashboard.sh: warning: %s\n' "$*" >&2; }
die() { printf 'dashboard.sh: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=bench/results-section.sh
source "$ROOT/bench/results-section.sh"

missing=()
command -v sqlite3 >/dev/null || missing+=(sqlite3)
command -v curl >/dev/null || missing+=(curl)
command -v jq >/dev/null || missing+=(jq)
[[ -x /usr/bin/time ]] && /usr/bin/time -f %M true 2>/dev/null || missing+=(time)
if ((${#missing[@]})); then
    [[ $EUID -eq 0 ]] || die "needs ${missing[*]} (apt-get install ${missing[*]}), or run as root to have them installed"
    say "Installing ${missing[*]}"
    apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v python3 >/dev/null || die "needs python3"

rm -rf "$OUT"; mkdir -p "$OUT"
WORK="$(mktemp -d /tmp/rollcall-dashboard-bench.XXXXXX)"
SERVER_PID=""
cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    if [[ "${KEEP_WORK:-}" == 1 ]]; then say "Work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------------------------
# The binary
# ---------------------------------------------------------------------------------------------------------------
if [[ -n "${ROLLCALL_BIN:-}" ]]; then
    BIN="$ROLLCALL_BIN"; BUILT="given as ROLLCALL_BIN"
    [[ -x "$BIN" ]] || die "ROLLCALL_BIN=$BIN is not executable"
else
    BIN="$ROOT/.build-release/release/rollcall"
    if [[ -x "$BIN" ]] && [[ -z "$(find "$ROOT/Sources" "$ROOT/Package.swift" -newer "$BIN" -print -quit)" ]]; then
        BUILT="existing release build, newer than every source"
    else
        say "Building rollcall (release, --scratch-path .build-release; ~13 min on 2 cores); log: $OUT/build.log"
        (cd "$ROOT" && swift build -c release --product rollcall --scratch-path .build-release) >"$OUT/build.log" 2>&1 \
            || { tail -n 30 "$OUT/build.log" >&2; die "swift build failed"; }
        BUILT="built by this run"
    fi
fi
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- Sources Package.swift || echo -dirty)"
git -C "$ROOT" status --short -- Sources Package.swift > "$OUT/source-status.txt"
DIRTY_NOTE=""
[[ "$COMMIT" == *-dirty ]] && DIRTY_NOTE="; \`-dirty\`: Sources/ or Package.swift differ from the commit, see \`bench/out/dashboard/source-status.txt\`"
BIN_MB="$(awk -v b="$(stat -c %s "$BIN")" 'BEGIN { printf "%.0f", b / 1048576 }')"

# ---------------------------------------------------------------------------------------------------------------
# The estate
# ---------------------------------------------------------------------------------------------------------------
CONFIG="$WORK/controller.toml" STORE="$WORK/store.sqlite"
printf '[server]\nhost = "127.0.0.1"\nport = 0\n[store]\npath = "%s"\n[tls]\nplain_http = true\n' "$STORE" > "$CONFIG"
say "Creating the store (rollcall users add) and the estate (bench/estate.py fill)"
printf '%s\n' 'Bench-tech-2026' | "$BIN" users add bench --role technician --config "$CONFIG" >"$OUT/setup.log" 2>&1 \
    || { cat "$OUT/setup.log" >&2; die "rollcall users add failed"; }
GEN_START=$EPOCHREALTIME
python3 "$ROOT/bench/estate.py" fill --store "$STORE" --postures "$ROOT/bench/estate-postures.json" --devices "$DEVICES" \
    --accounts "$ACCOUNTS" --usb "$USB" --incidents "$INCIDENTS" --packages "$PACKAGES" --seed "$SEED" > "$OUT/estate.json"
"$BIN" licences import "$ROOT/controller/sample-licences.csv" --config "$CONFIG" >>"$OUT/setup.log" 2>&1 \
    || { cat "$OUT/setup.log" >&2; die "rollcall licences import failed"; }
GEN_SECONDS="$(awk -v a="$GEN_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')"
TOKEN="$("$BIN" users token bench --config "$CONFIG" 2>>"$OUT/setup.log")"
[[ -n "$TOKEN" ]] || die "rollcall users token printed no token"
est() { jq -r ".$1" "$OUT/estate.json"; }
STORE_MB="$(awk -v b="$(stat -c %s "$STORE")" 'BEGIN { printf "%.0f", b / 1048576 }')"

# ---------------------------------------------------------------------------------------------------------------
# Measuring helpers
# ---------------------------------------------------------------------------------------------------------------
CLK_TCK="$(getconf CLK_TCK)"
cpu_counters() { local f; read -r -a f < <(head -n1 /proc/stat); echo "$((f[1] + f[2] + f[3] + f[6] + f[7] + f[8])) $((f[4] + f[5]))"; }
busy_percent() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); u = y[1] - x[1]; t = u + y[2] - x[2]; printf "%.1f", (t > 0 ? 100 * u / t : 0) }'; }
busy_seconds() { awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.1f", (y[1] - x[1]) / hz }'; }
proc_cpu_seconds() { awk -v hz="$CLK_TCK" '{ sub(/.*\) /, ""); printf "%.1f", ($12 + $13) / hz }' "/proc/$1/stat"; }
top_others() {  # the three busiest other processes over the next second, "name (cpu%)"
    top -b -n 2 -d 1 -w 200 2>/dev/null | awk '/^top -/ { block++ }
        block == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 1 && $12 !~ /^(rollcall|curl|sqlite3|top)$/ {
            printf "%s%s (%s%%)", (n++ ? ", " : ""), $12, $9; if (n == 3) exit }' || true
}
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
stats() {  # stats FILE COLUMN -> "median p95 min max n" (seconds); p95 by nearest rank
    python3 - "$1" "$2" <<'PY'
import math, sys
values = sorted(float(line.split()[int(sys.argv[2])]) for line in open(sys.argv[1]) if line.strip())
n = len(values)
median = values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
print(median, values[max(0, math.ceil(0.95 * n) - 1)], values[0], values[-1], n)
PY
}
runs_after() {  # runs_after SECONDS: how many timed runs follow a warm-up that took SECONDS
    awk -v s="$1" -v slow="$SLOW_SECONDS" -v r="$RUNS" -v sr="$SLOW_RUNS" 'BEGIN { print (s > slow ? sr : r) }'
}
# http NAME PATH [RUNS [WARMUPS]]: WARMUP warm-ups, then timed runs (RUNS, or as runs_after says); $OUT/NAME.tsv holds
# "status ttfb total bytes" per run.
http() {
    local name="$1" path="$2" wanted="${3:-}" warm="${4:-$WARMUP}" line status last=0 n
    for _ in $(seq "$warm"); do
        line="$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -H "Authorization: Bearer $TOKEN" "$BASE$path")"
        [[ "${line%% *}" == 200 ]] || die "GET $path answered ${line%% *}"
        last="${line#* }"
    done
    n="${wanted:-$(runs_after "$last")}"
    say "GET $path: $n runs (warm-up $(awk -v s="$last" 'BEGIN { printf "%.3f", s }') s)"
    : > "$OUT/$name.tsv"
    for _ in $(seq "$n"); do
        line="$(curl -s -o "$WORK/$name.body" -w '%{http_code} %{time_starttransfer} %{time_total} %{size_download}' \
            -H "Authorization: Bearer $TOKEN" "$BASE$path")"
        status="${line%% *}"; [[ "$status" == 200 ]] || die "GET $path answered $status"
        echo "$line" >> "$OUT/$name.tsv"
    done
}
# command_runs NAME RUNS WARMUPS CMD...: $OUT/NAME.tsv holds "seconds peak_kb cpu_seconds" per run (wall around GNU time).
command_runs() {
    local name="$1" n="$2" warm="$3" t0 t1; shift 3
    for _ in $(seq "$warm"); do "$@" >/dev/null 2>"$WORK/stderr" || { cat "$WORK/stderr" >&2; die "$name failed"; }; done
    : > "$OUT/$name.tsv"
    for _ in $(seq "$n"); do
        t0=$EPOCHREALTIME
        /usr/bin/time -f '%M %U %S' -o "$WORK/rss" "$@" >/dev/null 2>"$WORK/stderr" || { cat "$WORK/stderr" >&2; die "$name failed"; }
        t1=$EPOCHREALTIME
        echo "$(elapsed "$t0" "$t1") $(tail -n1 "$WORK/rss" | awk '{ printf "%s %.2f", $1, $2 + $3 }')" >> "$OUT/$name.tsv"
    done
}
ms() { awk -v s="$1" 'BEGIN { v = s * 1000; printf (v < 10 ? "%.1f" : "%.0f"), v }'; }
sec() { awk -v s="$1" 'BEGIN { printf (s < 10 ? "%.2f" : "%.1f"), s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { r = a / b; printf (r < 10 ? "%.1f×" : "%.0f×"), r }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v * 1000 < t ? "**met**" : "**NOT met**") }'; }

# ---------------------------------------------------------------------------------------------------------------
# Quiet check, then the controller
# ---------------------------------------------------------------------------------------------------------------
QUIET_NOTE="" waited=0
while :; do
    c0="$(cpu_counters)"; sleep 5; c1="$(cpu_counters)"
    BUSY_BEFORE="$(busy_percent "$c0" "$c1")"
    awk -v b="$BUSY_BEFORE" -v m="$QUIET_PCT" 'BEGIN { exit !(b + 0 <= m + 0) }' && break
    if ((waited >= QUIET_MAX)); then
        QUIET_NOTE="The machine was not quiet: ${BUSY_BEFORE}% busy when measuring started (waited ${QUIET_MAX} s; busiest: $(top_others))."
        warn "machine still ${BUSY_BEFORE}% busy after ${QUIET_MAX} s; measuring anyway"
        break
    fi
    say "Machine ${BUSY_BEFORE}% busy (> ${QUIET_PCT}%): waiting. Busiest: $(top_others)"
    sleep 10; waited=$((waited + 15))
done

say "Starting rollcall serve"
"$BIN" serve --config "$CONFIG" > "$WORK/serve.out" 2> "$OUT/serve.log" &
SERVER_PID=$!
for _ in $(seq 1 300); do grep -q "listening on" "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
BASE="$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.out" | head -n1)"
[[ -n "$BASE" ]] || { cat "$OUT/serve.log" >&2; die "rollcall serve did not say where it listens"; }
RSS_IDLE_KB="$(awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status")"

HTTP_C0="$(cpu_counters)"; HTTP_T0=$EPOCHREALTIME; SERVER_CPU0="$(proc_cpu_seconds "$SERVER_PID")"
http overview-json '/?format=json'
http overview-html '/'
http devices-html '/devices'
http devices-csv '/devices?format=csv'
http report-csv '/report?format=csv'
HTTP_C1="$(cpu_counters)"; HTTP_T1=$EPOCHREALTIME; SERVER_CPU1="$(proc_cpu_seconds "$SERVER_PID")"; HTTP_OTHERS="$(top_others)"
REPORT_BYTES="$(stat -c %s "$WORK/report-csv.body")"
grep -c '^# ' "$WORK/report-csv.body" > "$OUT/report-sections.txt" || true
grep '^# ' "$WORK/report-csv.body" | tr -d '\r' >> "$OUT/report-sections.txt" || true
python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); print(json.dumps({k: v for k, v in o.items() if k != "history"}, indent=1))' \
    "$WORK/overview-json.body" > "$OUT/overview.json"
HWM_MAIN_KB="$(awk '/^VmHWM/ { print $2 }' "/proc/$SERVER_PID/status")"
RSS_AFTER_KB="$(awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status")"
HTTP_WALL="$(elapsed "$HTTP_T0" "$HTTP_T1")"
HTTP_BUSY="$(busy_seconds "$HTTP_C0" "$HTTP_C1")"
SERVER_CPU="$(awk -v a="$SERVER_CPU0" -v b="$SERVER_CPU1" 'BEGIN { printf "%.1f", b - a }')"
HTTP_OTHER="$(awk -v a="$HTTP_BUSY" -v b="$SERVER_CPU" 'BEGIN { d = a - b; printf "%.1f", (d > 0 ? d : 0) }')"

say "Section exports (GET /SECTION?format=csv, $SECTION_RUNS runs each after 1 warm-up)"
SECTIONS="devices usb accounts offboarding equipment licences incidents audit"
for section in $SECTIONS; do
    http "section-$section" "/$section?format=csv" "$SECTION_RUNS" 1
done
HWM_ALL_KB="$(awk '/^VmHWM/ { print $2 }' "/proc/$SERVER_PID/status")"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""

# ---------------------------------------------------------------------------------------------------------------
# The floor: the same rows straight out of the store with the sqlite3 shell
# ---------------------------------------------------------------------------------------------------------------
NOW_MS="$(($(date +%s) * 1000))" DAY=86400000
STALE_MS=$((NOW_MS - 7 * DAY)) USB_FROM_MS=$((NOW_MS - 30 * DAY))
ACCOUNTS_STALE_MS=$((NOW_MS - 120 * DAY)) OVERDUE_MS=$((NOW_MS - 180 * DAY))
{
    echo "SELECT count(*), sum(last_seen >= $STALE_MS) FROM devices WHERE revoked_at IS NULL;"
    echo "SELECT count(*), sum(instr(facts, '\"value\":false') > 0), sum(instr(facts, '\"dmUUID\":\"CRYPT-') > 0), sum(chassis_type IN (8, 9, 10, 14, 30, 31, 32)) FROM device_posture;"
    echo "SELECT count(*), sum(approved = 0), sum(blocked <> 0) FROM usb_events WHERE action <> 'remove' AND occurred_at >= $USB_FROM_MS AND occurred_at < $((NOW_MS + 1000));"
    month_start="$(date -u +%Y-%m-01)"
    for back in $(seq 11 -1 0); do
        from=$(($(date -u -d "$month_start -$back month" +%s) * 1000)) to=$(($(date -u -d "$month_start -$back month +1 month" +%s) * 1000))
        echo "SELECT count(*) FROM incidents WHERE occurred_at >= $from AND occurred_at < $to;"
        echo "SELECT count(*) FROM usb_events WHERE occurred_at >= $from AND occurred_at < $to AND action <> 'remove';"
    done
    echo "SELECT count(*) FROM incidents WHERE status = 'open';"
    echo "SELECT summary FROM directory_syncs ORDER BY id DESC LIMIT 1;"
    echo "SELECT count(*), sum(locked_time IS NOT '000001010000Z' AND coalesce(last_bind_at, created_at) < $ACCOUNTS_STALE_MS),"
    echo "       sum(kind = 'staff' AND locked_time IS NOT '000001010000Z' AND coalesce(password_changed_at, 0) < $OVERDUE_MS) FROM directory_accounts;"
    echo "SELECT product, count(*), sum(seats), min(expires_on) FROM licences GROUP BY product;"
    echo "SELECT count(DISTINCT device_id) FROM device_packages WHERE state = 'installed' AND name GLOB 'google-chrome-*';"
    echo "SELECT count(DISTINCT device_id) FROM device_packages WHERE state = 'installed' AND name GLOB 'libreoffice*-core';"
    echo "SELECT count(DISTINCT device_id) FROM device_packages WHERE state = 'installed' AND name IN ('zoom-client', 'us.zoom.Zoom');"
    echo "SELECT count(DISTINCT device_id) FROM device_packages WHERE state = 'installed' AND name IN ('teams', 'teams-for-linux');"
    echo "SELECT count(DISTINCT device_id) FROM device_packages WHERE state = 'installed' AND (name GLOB 'smart-notebook*' OR name GLOB 'com.smarttech.*');"
    echo "SELECT * FROM compliance_history WHERE day >= date('now', '-365 days') ORDER BY day;"
} > "$OUT/floor-overview.sql"
DEVICE_ROWS="SELECT d.hostname, d.serial, d.vendor, d.model, d.os, d.last_seen, p.chassis_type, p.facts, coalesce(u.total, 0), coalesce(u.unapproved, 0), d.package_count, d.id
FROM devices d LEFT JOIN device_posture p ON p.device_id = d.id
LEFT JOIN (SELECT device_id, count(*) AS total, sum(approved = 0) AS unapproved FROM usb_events
           WHERE action <> 'remove' AND occurred_at >= $USB_FROM_MS GROUP BY device_id) u ON u.device_id = d.id
WHERE d.revoked_at IS NULL ORDER BY d.hostname, d.id"
echo "$DEVICE_ROWS;" > "$OUT/floor-devices.sql"
echo "$DEVICE_ROWS LIMIT 100;" > "$OUT/floor-devices-page.sql"
{
    cat "$OUT/floor-overview.sql" "$OUT/floor-devices.sql"
    echo "SELECT e.*, d.hostname, i.id AS incident_id FROM usb_events e LEFT JOIN devices d ON d.id = e.device_id LEFT JOIN incidents i ON i.usb_event_id = e.id"
    echo "WHERE e.occurred_at >= $USB_FROM_MS ORDER BY e.occurred_at DESC, e.received_at DESC LIMIT 100000;"
    echo "SELECT group_dn, member_dn, member_uid FROM directory_memberships;"
    echo "SELECT * FROM directory_accounts ORDER BY dn;"
    echo "SELECT * FROM licences ORDER BY product, line;"
    echo "SELECT p.device_id, p.source, p.name, p.version, d.hostname, d.last_seen FROM device_packages p JOIN devices d ON d.id = p.device_id"
    echo "WHERE p.state = 'installed' AND d.revoked_at IS NULL AND (p.name GLOB 'google-chrome-*' OR p.name GLOB 'libreoffice*-core'"
    echo "  OR p.name IN ('zoom-client', 'us.zoom.Zoom', 'teams', 'teams-for-linux') OR p.name GLOB 'smart-notebook*' OR p.name GLOB 'com.smarttech.*');"
    echo "SELECT * FROM incidents ORDER BY id;"
} > "$OUT/floor-report.sql"
say "Floor: sqlite3 -csv, $RUNS runs each after $WARMUP warm-up(s)"
for floor in overview devices-page devices report; do
    command_runs "floor-$floor" "$RUNS" "$WARMUP" sqlite3 -csv "$STORE" ".read $OUT/floor-$floor.sql"
done
sqlite3 -csv "$STORE" ".read $OUT/floor-report.sql" | wc -c > "$OUT/floor-report-bytes.txt"

say "CLI: rollcall report --format csv --output /dev/null"
"$BIN" report --format csv --output /dev/null --config "$CONFIG" >/dev/null 2>&1 || die "rollcall report failed"
t0=$EPOCHREALTIME; "$BIN" report --format csv --output /dev/null --config "$CONFIG" >/dev/null 2>&1; t1=$EPOCHREALTIME
CLI_RUNS="$(runs_after "$(elapsed "$t0" "$t1")")"
CLI_C0="$(cpu_counters)"
command_runs cli-report "$CLI_RUNS" 0 "$BIN" report --format csv --output /dev/null --config "$CONFIG"
CLI_C1="$(cpu_counters)"; CLI_OTHERS="$(top_others)"
CLI_BUSY="$(busy_seconds "$CLI_C0" "$CLI_C1")"
CLI_OWN="$(awk '{ s += $3 } END { printf "%.1f", s }' "$OUT/cli-report.tsv")"
CLI_OTHER="$(awk -v a="$CLI_BUSY" -v b="$CLI_OWN" 'BEGIN { d = a - b; printf "%.1f", (d > 0 ? d : 0) }')"

# ---------------------------------------------------------------------------------------------------------------
# RESULTS.md
# ---------------------------------------------------------------------------------------------------------------
row() {  # row LABEL NAME FLOOR TARGET_MS: a controller row of the main table from $OUT/NAME.tsv and $OUT/floor-FLOOR.tsv
    local label="$1" name="$2" floor="$3" target="$4" median p95 min max n tmedian fmedian bytes
    read -r median p95 min max n < <(stats "$OUT/$name.tsv" 1)
    read -r tmedian _ < <(stats "$OUT/$name.tsv" 2)
    read -r fmedian _ < <(stats "$OUT/floor-$floor.tsv" 0)
    bytes="$(awk '{ print $4 }' "$OUT/$name.tsv" | tail -n1)"
    printf '| %s | %s | %s | %s–%s | %s | %s | %s | %s | %s | %s |\n' "$label" "$(ms "$median")" "$(ms "$p95")" "$(ms "$min")" "$(ms "$max")" \
        "$n" "$(ms "$tmedian")" "$(awk -v b="$bytes" 'BEGIN { printf (b >= 1048576 ? "%.1f MB" : "%.0f KB"), (b >= 1048576 ? b / 1048576 : b / 1024) }')" \
        "$(ms "$fmedian")" "$(ratio "$median" "$fmedian")" "${target}"
}
target_line() {  # target_line TEXT NAME COLUMN TARGET_MS
    local median p95
    read -r median p95 _ < <(stats "$OUT/$2.tsv" "$3")
    echo "| $1 | < $(ms "$(awk -v t="$4" 'BEGIN { print t / 1000 }')") ms | $(ms "$median") ms | $(ms "$p95") ms | $(verdict "$median" "$4") (median $(ratio "$median" "$(awk -v t="$4" 'BEGIN { print t / 1000 }')") the target) |"
}
CPU_MODEL="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
MEM_GB="$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)"
OS_NAME="$(. /etc/os-release && echo "$PRETTY_NAME")"
SQLITE_VERSION="$(sqlite3 --version | cut -d' ' -f1)"
read -r CLI_MEDIAN CLI_P95 CLI_MIN CLI_MAX CLI_N < <(stats "$OUT/cli-report.tsv" 0)
read -r CLI_RSS _ < <(stats "$OUT/cli-report.tsv" 1)
read -r FLOOR_REPORT _ < <(stats "$OUT/floor-report.tsv" 0)
read -r FLOOR_REPORT_RSS _ < <(stats "$OUT/floor-report.tsv" 1)

write_section() {  # write_section BREAKDOWN_FILE
    cat > "$OUT/section.md" <<EOF
## Dashboard and compliance report at 50 schools: rollcall serve vs the sqlite3 shell on the same store

Reproduce (as root; builds \`rollcall\` release into \`.build-release\` unless it is newer than the sources, generates the
estate in ~${GEN_SECONDS} s, raw data in \`bench/out/dashboard/\`):

\`\`\`sh
bench/dashboard.sh
\`\`\`

- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); Rollcall at \`$COMMIT\` (\`rollcall\` release, $BIN_MB MB, $BUILT$DIRTY_NOTE).
- Machine: $OS_NAME, kernel \`$(uname -r)\`, $(nproc) vCPUs ($CPU_MODEL), $MEM_GB GiB RAM; SQLite shell $SQLITE_VERSION.
- Estate (\`bench/estate.py\`, seed $SEED): $(est devices) devices over 50 schools ($(est laptops) laptops; $(est stale) not seen for over
  7 days, $(est never_reported) enrolled but never reported), real posture facts from \`rollcall-agent inventory --root\` on
  55 machine trees (\`bench/estate-postures.json\`); $(est device_packages) installed-package rows (~$PACKAGES per device);
  $(est accounts) directory accounts ($(est staff) staff, $(est pupils) pupils, $(est memberships) memberships in $(est groups) groups)
  with their last sync; $(est usb_events) USB storage events over 12 months ($(est usb_unapproved_insertions) unapproved insertions),
  $(est approved_media) approved models; $(est incidents) incidents ($(est incidents_open) open); the sample licence register
  (\`controller/sample-licences.csv\`); a year of daily compliance history. Store: $STORE_MB MB.
- Quiet check: the machine was ${BUSY_BEFORE}% busy in the 5 s before measuring. During the HTTP runs (${HTTP_WALL%.*} s) all CPUs did
  ${HTTP_BUSY} s of work, of which the controller ${SERVER_CPU} s (≈ ${HTTP_OTHER} s by anything else; busiest other processes at
  the end: ${HTTP_OTHERS:-none}); during the CLI runs all CPUs did ${CLI_BUSY} s of work, the CLI ${CLI_OWN} s (≈ ${CLI_OTHER} s by anything
  else; busiest at the end: ${CLI_OTHERS:-none}).${QUIET_NOTE:+ **$QUIET_NOTE**}

| request (technician's API token) | server time median (ms) | p95 (ms) | min–max (ms) | runs | total median (ms) | body | sqlite3 floor median (ms) | ratio controller / floor | floor: the same rows straight out of the store |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |
$(row '`GET /?format=json` (overview)' overview-json overview 'COUNT set for every tile and chart, posture facts scanned, licence installations counted')
$(row '`GET /` (overview, HTML)' overview-html overview 'the same COUNT set')
$(row '`GET /report?format=csv` (full compliance report)' report-csv report 'the COUNT set + the rows of every section (devices with posture facts and USB counts, 30 days of USB events, accounts and memberships, matching installations, incidents)')
$(row '`GET /devices` (first HTML page, 100 rows)' devices-html devices-page 'the devices query with LIMIT 100')
$(row '`GET /devices?format=csv` (every device)' devices-csv devices 'the devices query, every row')

| command | wall median | p95 | min–max | runs | peak RSS | sqlite3 floor | ratio |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| \`rollcall report --format csv --output /dev/null\` | $(sec "$CLI_MEDIAN") s | $(sec "$CLI_P95") s | $(sec "$CLI_MIN")–$(sec "$CLI_MAX") s | $CLI_N | $(mb "$CLI_RSS") MB | $(sec "$FLOOR_REPORT") s ($(mb "$FLOOR_REPORT_RSS") MB) | $(ratio "$CLI_MEDIAN" "$FLOOR_REPORT") |

Server time: curl's \`time_starttransfer\` on loopback (the controller renders the whole body before the first byte);
total adds the transfer. $WARMUP warm-up(s), then $RUNS runs, or $SLOW_RUNS when a warm-up took over $SLOW_SECONDS s (then p95 is the
slowest of those runs). The floor: \`sqlite3 -csv STORE ".read FILE"\` to /dev/null (process start included, a few ms),
$RUNS runs after $WARMUP warm-up(s); the SQL is in \`bench/out/dashboard/floor-*.sql\`. The report CSV: $(awk -v b="$REPORT_BYTES" 'BEGIN { printf "%.1f", b / 1048576 }') MB,
$(head -n1 "$OUT/report-sections.txt") sections; the floor's CSV of the same rows $(awk -v b="$(cat "$OUT/floor-report-bytes.txt")" 'BEGIN { printf "%.1f", b / 1048576 }') MB (it carries
the raw posture facts where the report carries verdicts).
Controller memory: VmRSS $(mb "$RSS_IDLE_KB") MB idle after start, VmHWM $(mb "$HWM_MAIN_KB") MB after the runs above, $(mb "$HWM_ALL_KB") MB after the
section exports below too; VmRSS $(mb "$RSS_AFTER_KB") MB after the runs above.

### Targets (from the issue)

| target | limit | median | p95 | verdict |
| --- | ---: | ---: | ---: | --- |
$(target_line 'overview page server time, JSON (`GET /?format=json`)' overview-json 1 "$OVERVIEW_TARGET_MS")
$(target_line 'overview page server time, HTML (`GET /`)' overview-html 1 "$OVERVIEW_TARGET_MS")
$(target_line 'full compliance report CSV (`GET /report?format=csv`), total' report-csv 2 "$REPORT_TARGET_MS")
$(target_line 'full compliance report CSV (`rollcall report --format csv`)' cli-report 0 "$REPORT_TARGET_MS")

EOF
    [[ -n "${1:-}" && -f "$1" ]] && cat "$1" >> "$OUT/section.md"
    replace_section dashboard "$OUT/section.md" "$RESULTS"
}
write_section
say "Wrote the dashboard section of $RESULTS (main figures); now the breakdown"

# ---------------------------------------------------------------------------------------------------------------
# Breakdown: where the time goes
# ---------------------------------------------------------------------------------------------------------------
say "CLI per section: rollcall report --section NAME --format csv ($CLI_SECTION_RUNS run(s) each)"
for section in $SECTIONS; do
    command_runs "cli-section-$section" "$CLI_SECTION_RUNS" 0 "$BIN" report --section "$section" --format csv --output /dev/null --config "$CONFIG"
done
say "The controller's own heaviest SQL in the sqlite3 shell ($SECTION_RUNS runs each)"
cat > "$OUT/sql-package-titles.sql" <<'EOF'
SELECT p.source, p.name, max(p.section) AS section, max(p.maintainer) AS maintainer,
       count(DISTINCT p.device_id) AS devices, min(p.version) AS low, max(p.version) AS high
FROM device_packages p JOIN devices d ON d.id = p.device_id
WHERE p.state = 'installed' AND d.revoked_at IS NULL
GROUP BY p.source, p.name;
EOF
echo "SELECT d.id, p.collected_at, p.chassis_type, p.facts FROM devices d LEFT JOIN device_posture p ON p.device_id = d.id;" > "$OUT/sql-postures.sql"
{ echo "SELECT group_dn, member_dn, member_uid FROM directory_memberships;"; echo "SELECT * FROM directory_accounts ORDER BY dn;"; } > "$OUT/sql-accounts.sql"
echo "SELECT id, hostname, serial, vendor, model, os, kernel, virtualization, first_seen, last_seen, last_collected_at, package_count, last_report_id, enrolled_at, revoked_at FROM devices ORDER BY hostname, id;" > "$OUT/sql-devices.sql"
for sql in package-titles postures accounts devices; do
    command_runs "sql-$sql" "$SECTION_RUNS" 1 sqlite3 -csv "$STORE" ".read $OUT/sql-$sql.sql"
done

median_of() { stats "$OUT/$1.tsv" "$2" | cut -d' ' -f1; }
EMPTY_CLI="$(median_of cli-section-equipment 0)"
{
    echo "### Where the time goes"
    echo
    echo "Each section alone: its dashboard export \`GET /SECTION?format=csv\` (that table only; median of $SECTION_RUNS after 1 warm-up),"
    echo "and \`rollcall report --section NAME --format csv --output /dev/null\` ($CLI_SECTION_RUNS run(s); every report also gathers the"
    echo "overview, so the section's own share is roughly the run minus the empty equipment section's $(sec "$EMPTY_CLI") s)."
    echo
    echo "| section | rows | \`GET /SECTION?format=csv\` server time | CLI \`report --section\` | CLI minus the empty section |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    for section in $SECTIONS; do
        rows="$(($(python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], newline=""))))' "$WORK/section-$section.body") - 1))"
        t="$(median_of "section-$section" 1)" c="$(median_of "cli-section-$section" 0)"
        echo "| $section | $rows | $(sec "$t") s | $(sec "$c") s | $(sec "$(awk -v a="$c" -v b="$EMPTY_CLI" 'BEGIN { d = a - b; print (d > 0 ? d : 0) }')") s |"
    done
    echo
    echo "The controller's own SQL for the heavy parts, run by the sqlite3 shell on the same store (median of $SECTION_RUNS, output to /dev/null):"
    echo
    echo "| statement (from Sources/RollcallController/Store) | used by | sqlite3 time |"
    echo "| --- | --- | ---: |"
    echo "| the GROUP BY over $(est device_packages) package rows that \`packageTitles()\` ran before migration 10 (it now reads \`package_catalogue\`, kept by triggers) | nothing now: shown for what the catalogue saves | $(sec "$(median_of sql-package-titles 0)") s |"
    echo "| posture facts of every device (before migration 10 each look decoded and judged them; now only new facts are judged) | the first look after new facts or a policy change | $(sec "$(median_of sql-postures 0)") s |"
    echo "| \`directoryAccounts()\`: memberships, then every account ORDER BY dn (kept in memory under the store's accounts revision) | the first look after a sync or an HR import | $(sec "$(median_of sql-accounts 0)") s |"
    echo "| \`devices()\`: every device ORDER BY hostname, id | devices section | $(sec "$(median_of sql-devices 0)") s |"
    echo
    python3 - "$OUT" <<'PY'
import sys, statistics
out = sys.argv[1]
def med(name, col):
    return statistics.median(float(l.split()[col]) for l in open("%s/%s.tsv" % (out, name)) if l.strip())
overview = med("overview-json", 1)
lic, acc, dev, titles = med("section-licences", 1), med("section-accounts", 1), med("section-devices", 1), med("sql-package-titles", 0)
report = med("report-csv", 1)
sections = sum(med("section-" + s, 1) for s in "devices usb accounts offboarding equipment licences incidents".split())
print("Reading it: the overview (%.3f s) reads counts the store keeps as data arrives (package catalogue, licence matches, "
      "posture verdicts, covering indexes) and the account figures kept under the accounts revision; the sections build their "
      "rows: licences %.2f s, accounts %.2f s, devices %.2f s. The report (%.2f s) is the seven sections (%.2f s together, "
      "measured one by one) plus the overview, sharing one judgement of each. The old GROUP BY over every package row, which "
      "every overview and licences page ran before, takes %.1f s on its own." % (overview, lic, acc, dev, report, sections, titles))
PY
} > "$OUT/breakdown.md"
write_section "$OUT/breakdown.md"
cat "$OUT/section.md"
