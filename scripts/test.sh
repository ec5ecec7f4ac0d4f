#!/usr/bin/env bash
# Runs every Rollcall test: installs what the tests need, builds (debug) once, runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
./scripts/install-deps.sh
swift build --build-tests
swift test --skip-build --parallel 2>&1 | tee .build/test-output.txt
# The API against controller/openapi.yaml: schemathesis on the live controller (loopback), bounded to ~3 minutes.
ROLLCALL_BIN="$(swift build --show-bin-path)/rollcall" ./scripts/fuzz-api.sh
# The dashboard in a real browser: headless Chromium driven by Selenium signs in as each role, sorts, filters, records
# incidents (and has a forged form refused), downloads CSV; screenshots land in .build/browser/screenshots.
ROLLCALL_BIN="$(swift build --show-bin-path)/rollcall" ./scripts/browser-test.sh
# The Debian packages, made from this debug build: lintian, installed into this machine, the controller started from
# its unit's ExecStart and answering, purged (packaging/). A release is packaged the same way with the default
# --configuration release.
./packaging/build-debs.sh --configuration debug
./packaging/check-debs.sh
