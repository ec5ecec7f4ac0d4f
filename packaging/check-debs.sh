#!/usr/bin/env bash
# Checks the packages packaging/build-debs.sh made, the way a technician would meet them:
#   lintian (no error allowed; warnings listed), systemd-analyze verify of both units once installed, their
#   `systemd-analyze security` exposure, `apt-get install` of both .debs into this machine, the installed
#   binaries loading only Debian libraries and their own private Swift runtime, the controller started from its
#   unit's ExecStart line as the unit's user with the shipped config and answering /healthz, the agent's
#   inventory and status, then `apt-get purge` leaving nothing but the rollcall user (Debian policy keeps users).
# Needs root; installs into this machine (CI's is a throwaway one). Refuses if port 8080 (the shipped config's) is
# taken, rather than test against someone else's server.
#
#   packaging/check-debs.sh [DIR]        DIR holds the .debs (default .build/debs)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEBS="${1:-$ROOT/.build/debs}"
say() { printf 'check-debs: %s\n' "$*" >&2; }
fail() { printf 'check-debs: FAILED: %s\n' "$*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || fail "run as root: it installs and purges the packages"
CONTROLLER_DEB="$(ls "$DEBS"/rollcall-controller_*_amd64.deb | tail -1)"
AGENT_DEB="$(ls "$DEBS"/rollcall-agent_*_amd64.deb | tail -1)"
CONTROLLER_PID=""
cleanup() { [[ -n "$CONTROLLER_PID" ]] && kill "$CONTROLLER_PID" 2>/dev/null; true; }
trap cleanup EXIT

say "lintian $(basename "$CONTROLLER_DEB") $(basename "$AGENT_DEB")"
LINTIAN="$(lintian --tag-display-limit 0 "$CONTROLLER_DEB" "$AGENT_DEB" 2>&1 | grep -E '^[EWI]: ' || true)"
[[ -n "$LINTIAN" ]] && printf '%s\n' "$LINTIAN" | sed 's/^/  /' >&2
grep -q '^E: ' <<<"$LINTIAN" && fail "lintian reports errors"

if ss -ltn | grep -q ':8080 '; then fail "port 8080 is in use here; the shipped controller.toml listens on it"; fi
for path in /var/lib/rollcall /var/lib/rollcall-agent /etc/rollcall; do
    [[ -e "$path" ]] && fail "$path exists already: this check wants a machine without Rollcall (purge it, or remove what a manual run left)"
done
say "apt-get install ./$(basename "$CONTROLLER_DEB") ./$(basename "$AGENT_DEB")"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$CONTROLLER_DEB" "$AGENT_DEB" >/dev/null
id rollcall >/dev/null || fail "postinst did not create the rollcall user"
[[ "$(stat -c %U:%a /var/lib/rollcall)" == rollcall:750 ]] || fail "/var/lib/rollcall is $(stat -c %U:%a /var/lib/rollcall), not rollcall:750"
[[ "$(stat -c %U:%a /var/lib/rollcall-agent)" == rollcall:700 ]] || fail "/var/lib/rollcall-agent is $(stat -c %U:%a /var/lib/rollcall-agent)"
for binary in /usr/bin/rollcall /usr/sbin/rollcall-agent; do
    if ldd "$binary" | grep -q 'not found\|/opt/swift'; then fail "$binary loads: $(ldd "$binary" | grep 'not found\|/opt/swift')"; fi
done

for unit in rollcall.service rollcall-agent.service; do
    say "systemd-analyze verify $unit"
    OUT="$(systemd-analyze verify "/lib/systemd/system/$unit" 2>&1 || true)"
    [[ -z "$OUT" ]] || fail "systemd-analyze verify $unit: $OUT"
    say "  systemd-analyze security: $(systemd-analyze security --offline=true "/lib/systemd/system/$unit" 2>/dev/null | grep -o 'Overall exposure level.*')"
done

# The controller as systemd would start it: ExecStart's command line, as User=/Group=, with the shipped config.
EXEC="$(sed -n 's/^ExecStart=//p' /lib/systemd/system/rollcall.service)"
UNIT_USER="$(sed -n 's/^User=//p' /lib/systemd/system/rollcall.service)"
say "starting \`$EXEC\` as $UNIT_USER"
cd /var/lib/rollcall
# shellcheck disable=SC2086 # ExecStart is a plain command line without quoting
setpriv --reuid="$UNIT_USER" --regid="$UNIT_USER" --init-groups -- $EXEC > /tmp/rollcall-check.out 2> /tmp/rollcall-check.err &
CONTROLLER_PID=$!
cd "$ROOT"
for _ in $(seq 1 100); do curl -sk --max-time 2 https://127.0.0.1:8080/healthz 2>/dev/null | grep -q ok && break; sleep 0.2; done
curl -sk --fail --max-time 5 https://127.0.0.1:8080/healthz | grep -qx ok || fail "the installed controller did not answer /healthz: $(cat /tmp/rollcall-check.err)"
say "  /healthz: ok ($(grep -o 'fingerprint: [0-9A-F:]\{11\}' /tmp/rollcall-check.out)…)"
[[ "$(stat -c %U /var/lib/rollcall/controller.sqlite)" == rollcall ]] || fail "the store is not the rollcall user's"
kill "$CONTROLLER_PID"; wait "$CONTROLLER_PID" 2>/dev/null || true; CONTROLLER_PID=""
setpriv --reuid=rollcall --regid=rollcall --init-groups -- /usr/bin/rollcall devices list --config /etc/rollcall/controller.toml >/dev/null \
    || fail "rollcall devices list as the rollcall user"
/usr/sbin/rollcall-agent inventory --compact | grep -q '"machineID"' || fail "the installed agent's inventory"
/usr/sbin/rollcall-agent status --config /etc/rollcall/agent.toml | grep -q 'not enrolled' || fail "the installed agent's status"
man -w rollcall >/dev/null 2>&1 && man -w 8 rollcall-agent >/dev/null 2>&1 || fail "man pages are not installed"

say "apt-get purge rollcall-controller rollcall-agent"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq rollcall-controller rollcall-agent >/dev/null
LEFT=""
for path in /usr/bin/rollcall /usr/sbin/rollcall-agent /usr/lib/rollcall-controller /usr/lib/rollcall-agent /etc/rollcall /var/lib/rollcall \
    /var/lib/rollcall-agent /lib/systemd/system/rollcall.service /lib/udev/rules.d/70-rollcall-usb.rules /usr/share/doc/rollcall-agent; do
    [[ -e "$path" ]] && LEFT+=" $path"
done
[[ -z "$LEFT" ]] || fail "purge left:$LEFT"
id rollcall >/dev/null || fail "purge removed the rollcall user (Debian policy keeps it)"
say "passed: lintian without errors, installed, the controller started from its unit and answered, purged clean"
