#!/usr/bin/env bash
# Runs scripts/browser-test.py (the dashboard in headless Chromium, as each role) with Selenium from a venv kept in
# .build/browser-venv (made on first use, remade when the Selenium pin changes). Needs Debian's chromium and
# chromium-driver (scripts/install-deps.sh installs them). Exits non-zero if any check fails.
#
# Usage: scripts/browser-test.sh
# Environment: ROLLCALL_BIN (default .build/debug/rollcall), BROWSER_TEST_SCREENSHOTS (default
# .build/browser/screenshots), BROWSER_TEST_KEEP=1 keeps the temporary directory, PYTHON (default python3) makes the
# venv. A run takes about 40 seconds (about 50 when it makes the venv).
set -euo pipefail
cd "$(dirname "$0")/.."

# 4.52.0 needs a certifi newer than the registry here has; 4.51.0 is the newest that installs and is the one tested.
SELENIUM_VERSION=4.51.0
VENV=.build/browser-venv
PYTHON=${PYTHON:-python3}
export PYTHONDONTWRITEBYTECODE=1

for tool in /usr/bin/chromium /usr/bin/chromedriver; do
    [ -x "$tool" ] || { echo "browser-test: $tool is missing: apt-get install chromium chromium-driver" >&2; exit 2; }
done

have=$("$VENV/bin/python" -c 'import selenium; print(selenium.__version__)' 2>/dev/null || true)
if [ "$have" != "$SELENIUM_VERSION" ]; then
    echo "browser-test: making $VENV with selenium==$SELENIUM_VERSION"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "selenium==$SELENIUM_VERSION"
fi

exec "$VENV/bin/python" scripts/browser-test.py "$@"
