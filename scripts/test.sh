#!/usr/bin/env bash
# Runs every Rollcall test: installs what the tests need, builds (debug) once, runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
./scripts/install-deps.sh
swift build --build-tests
swift test --skip-build --parallel 2>&1 | tee .build/test-output.txt
