#!/usr/bin/env bash
# Fuzzes the controller's HTTP API against controller/openapi.yaml with schemathesis, on loopback only.
#
# Starts `rollcall serve` on 127.0.0.1 (a free port, a throwaway store, its own self-signed certificate), enrols one
# fuzz device, adds a technician dashboard account with an API token, checks that signing and the token work
# (preflight), then runs schemathesis three times:
#   signed    every operation, every phase; POST /api/v1/reports signed with the fuzz device's key over the exact
#             body bytes sent (scripts/fuzz/hooks.py), so the report decoder is fuzzed behind authentication; the
#             read operations (device list, device detail, /report) with `Authorization: Bearer` and the
#             technician's token, and again without it and with a made-up one (ignored_auth), which must be refused;
#   decoder   POST /api/v1/reports only, signed, schema-violating bodies only (the signed run spends most of its
#             fuzzing on valid ones): every one must be refused with a 4xx;
#   unsigned  POST /api/v1/reports only, with schemathesis' own made-up Rollcall-* headers: everything must be 401.
# Reproducible: a fixed seed, one worker, no example database. Bounded: --max-examples per operation and phase, and
# each run is stopped after its time budget (a run that hits it counts as a failure). Prints the requests sent per
# operation and status, schemathesis' summary and failures; reports stay in .build/fuzz/; exits non-zero on any
# failure.
#
# Usage: scripts/fuzz-api.sh
# Environment: ROLLCALL_BIN (default .build/debug/rollcall), FUZZ_SEED (default 20261124), FUZZ_MAX_EXAMPLES
# (default 200), time budgets FUZZ_SIGNED_SECONDS (default 110), FUZZ_DECODER_SECONDS (default 30) and
# FUZZ_UNSIGNED_SECONDS (default 30), PYTHON (default python3), FUZZ_KEEP=1 keeps the temporary directory (store,
# config, fuzz device key). With the defaults a run takes about 1.5 minutes and at most about 3.
set -euo pipefail
cd "$(dirname "$0")/.."

ROLLCALL_BIN=${ROLLCALL_BIN:-.build/debug/rollcall}
SEED=${FUZZ_SEED:-20261124}
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-200}
SIGNED_SECONDS=${FUZZ_SIGNED_SECONDS:-110}
DECODER_SECONDS=${FUZZ_DECODER_SECONDS:-30}
UNSIGNED_SECONDS=${FUZZ_UNSIGNED_SECONDS:-30}
PYTHON=${PYTHON:-python3}
SCHEMATHESIS_VERSION=4.32.5
VENV=.build/fuzz-venv
OUT=.build/fuzz
SPEC=controller/openapi.yaml
started=$SECONDS
# No __pycache__ next to scripts/fuzz/*.py in the work tree.
export PYTHONDONTWRITEBYTECODE=1

say() { printf '%s\n' "fuzz-api: $*"; }
fail() { printf '%s\n' "fuzz-api: $*" >&2; exit 1; }

[[ -x $ROLLCALL_BIN ]] || fail "no rollcall binary at $ROLLCALL_BIN (build it, or set ROLLCALL_BIN)"

# --- 1. schemathesis in its own venv (kept between runs) ---------------------------------------------------------
if ! "$VENV/bin/python" - "$SCHEMATHESIS_VERSION" 2>/dev/null <<'EOF'
import sys
from importlib.metadata import version
import cryptography, requests, yaml  # noqa: F401
sys.exit(0 if version("schemathesis") == sys.argv[1] else 1)
EOF
then
    say "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION" "cryptography>=42" pyyaml requests
fi
PY="$VENV/bin/python"
ST="$VENV/bin/st"

rm -rf "$OUT"
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rollcall-fuzz.XXXXXX")
SERVER_PID=
cleanup() {
    local status=$?
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ ${FUZZ_KEEP:-0} == 1 ]]; then say "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 2. a controller on loopback with a throwaway store ---------------------------------------------------------
CONFIG=$WORK/controller.toml
cat >"$CONFIG" <<'EOF'
[server]
host = "127.0.0.1"
port = 0

[store]
path = "controller.sqlite"

[limits]
requests_per_minute = 100000
EOF

# stdbuf: the listening line must reach the file now, not when the server's stdout buffer fills.
stdbuf -oL -eL "$ROLLCALL_BIN" serve --config "$CONFIG" --port 0 >"$OUT/server.out" 2>"$OUT/server.log" &
SERVER_PID=$!
URL=
for _ in $(seq 300); do
    URL=$(sed -n 's|^rollcall listening on \(https://127\.0\.0\.1:[0-9][0-9]*\).*$|\1|p' "$OUT/server.out" | head -n 1)
    [[ -n $URL ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT/server.out" "$OUT/server.log" >&2; fail "rollcall serve exited"; }
    sleep 0.1
done
[[ -n $URL ]] || { cat "$OUT/server.out" "$OUT/server.log" >&2; fail "rollcall serve did not say it listens on https://127.0.0.1 within 30 s"; }
FINGERPRINT=$(sed -n 's/^rollcall TLS certificate SHA-256 fingerprint: *\([0-9A-Fa-f:]*\).*$/\1/p' "$OUT/server.out" | head -n 1)
[[ -n $FINGERPRINT ]] || fail "rollcall serve did not announce its certificate's fingerprint"
say "controller at $URL (certificate $FINGERPRINT), store in $WORK"
# Verify TLS against the very certificate the server announced, rather than not at all.
export ROLLCALL_FUZZ_CA=$WORK/controller.pem
"$PY" scripts/fuzz/rollcall_fuzz.py pin --url "$URL" --fingerprint "$FINGERPRINT" --out "$ROLLCALL_FUZZ_CA"

# --- the fuzz device ------------------------------------------------------------------------------------------------
token() {
    "$ROLLCALL_BIN" enrol-token create --config "$CONFIG" --uses "$1" --expires 1h --format json |
        "$PY" -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}
TOKEN=$(token 5)
SPARE_TOKEN=$(token 10)
STATE=$WORK/fuzz-device.json
"$PY" scripts/fuzz/rollcall_fuzz.py enrol --url "$URL" --token "$TOKEN" --spare-token "$SPARE_TOKEN" \
    --state "$STATE"

# --- the fuzz technician: the read operations need a signed-in dashboard role --------------------------------------
# Its API token goes to the preflight and the hooks in the environment (ROLLCALL_FUZZ_BEARER), not on a command
# line; the request logs in .build/fuzz/ show it, but it is good only for this run's throwaway store.
printf '%s\n' 'Fuzz-Tech-2026!' | "$ROLLCALL_BIN" users add fuzz-tech --role technician --config "$CONFIG" >/dev/null ||
    fail "rollcall users add fuzz-tech failed"
ROLLCALL_FUZZ_BEARER=$("$ROLLCALL_BIN" users token fuzz-tech --config "$CONFIG" 2>"$OUT/users-token.log") ||
    { cat "$OUT/users-token.log" >&2; fail "rollcall users token fuzz-tech failed"; }
[[ -n $ROLLCALL_FUZZ_BEARER ]] || fail "rollcall users token fuzz-tech printed no token"
export ROLLCALL_FUZZ_BEARER
say "dashboard account fuzz-tech (technician) with an API token for the read operations"

failures=0
figures=()
if ! "$PY" scripts/fuzz/rollcall_fuzz.py preflight --url "$URL" --state "$STATE"; then
    failures=$((failures + 1))
fi

# --- 3. schemathesis -------------------------------------------------------------------------------------------------
# Its cache (the failing cases `st replay` re-sends) and Hypothesis' storage go under .build/fuzz/, not into the work
# tree; Hypothesis' starts empty each run, so nothing carries over between runs.
export HYPOTHESIS_STORAGE_DIRECTORY=$PWD/$OUT/hypothesis
cat >"$OUT/schemathesis.toml" <<EOF
[cache]
enabled = true
directory = "$PWD/$OUT/cache"
EOF
# Checks that apply to this API; use_after_free, ensure_resource_availability and object_level_authorization need
# DELETE operations or a second identity, which the API does not have.
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance
CHECKS+=,response_schema_conformance,positive_data_acceptance,negative_data_rejection,missing_required_header
CHECKS+=,unsupported_method,allow_header_conformance,ignored_auth

run_schemathesis() {
    local name=$1 seconds=$2 sign=$3
    shift 3
    say "schemathesis run '$name' (seed $SEED, at most $MAX_EXAMPLES examples per operation and phase, ${seconds} s)"
    local status=0
    SCHEMATHESIS_HOOKS=scripts/fuzz/hooks.py ROLLCALL_FUZZ_STATE=$STATE ROLLCALL_FUZZ_SIGN=$sign \
        ROLLCALL_FUZZ_STATS=$OUT/$name-statuses.json ROLLCALL_FUZZ_REQUEST_LOG=$OUT/$name-requests.jsonl \
        timeout --signal=INT --kill-after=15 "$seconds" \
        "$ST" --config-file "$OUT/schemathesis.toml" run "$SPEC" --url "$URL" --tls-verify "$ROLLCALL_FUZZ_CA" \
        --checks "$CHECKS" --seed "$SEED" --max-examples "$MAX_EXAMPLES" --workers 1 \
        --continue-on-failure --generation-database none --request-timeout 10 --no-color \
        --report junit,ndjson --report-dir "$OUT/$name" "$@" \
        >"$OUT/$name.log" 2>&1 || status=$?
    # Schemathesis' own summary (its failures, with curl reproductions, are in the log).
    sed -n '/^=* SUMMARY =*$/,$p' "$OUT/$name.log" | grep -v '^ *$' | sed 's/^/  /'
    local events
    events=$(ls "$OUT/$name"/ndjson-*.ndjson 2>/dev/null | head -n 1 || true)
    if [[ -n $events ]]; then
        "$PY" scripts/fuzz/rollcall_fuzz.py summary --ndjson "$events" --requests "$OUT/$name-requests.jsonl" \
            --failures "$OUT/$name-failures.json"
    fi
    local tested cases
    tested=$(sed -n 's/^ *Tested: *\([0-9]*\).*/\1/p' "$OUT/$name.log" | head -n 1)
    cases=$(grep -A1 '^ *Test cases:' "$OUT/$name.log" | tail -n 1 | sed 's/^ *//')
    figures+=("$(printf '%-9s %s operation(s); test cases: %s; exit %s' "$name" "${tested:-?}" "${cases:-?}" "$status")")
    if [[ $status == 124 || $status == 130 || $status == 137 ]]; then
        say "run '$name' did not finish within ${seconds} s"
    fi
    if [[ $status != 0 ]]; then
        say "run '$name' FAILED (exit $status); full output in $OUT/$name.log"
        failures=$((failures + 1))
    fi
    return 0
}

run_schemathesis signed "$SIGNED_SECONDS" 1 --phases examples,coverage,fuzzing,stateful
run_schemathesis decoder "$DECODER_SECONDS" 1 --phases fuzzing --mode negative --include-path /api/v1/reports \
    --generation-with-security-parameters false
run_schemathesis unsigned "$UNSIGNED_SECONDS" 0 --phases coverage,fuzzing --include-path /api/v1/reports

# --- 4. the verdict ---------------------------------------------------------------------------------------------------
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    say "the controller died during the run; its log is $OUT/server.log"
    failures=$((failures + 1))
fi
say "figures (seed $SEED, at most $MAX_EXAMPLES examples per operation and phase):"
printf '  %s\n' "${figures[@]}"
say "reports in $OUT/ (JUnit XML, NDJSON events, logs; <run>-failures.json has each failed check with its exact"
say "request bytes); took $((SECONDS - started)) s"
if ((failures > 0)); then
    say "FAILED: $failures of preflight and the signed, decoder and unsigned runs failed"
    exit 1
fi
say "passed: no failures"
