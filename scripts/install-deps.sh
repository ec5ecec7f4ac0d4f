#!/usr/bin/env bash
# Installs the Debian packages Rollcall builds and tests against. Idempotent; needs root (or sudo).
set -euo pipefail
packages=(libsqlite3-dev libldap2-dev libssl-dev libargon2-dev pkg-config curl ca-certificates openssl slapd ldap-utils slapd-contrib
    # Active Directory: a real Samba AD DC on loopback (scripts/samba-school.sh), ldbmodify to load it offline.
    samba samba-ad-dc samba-ad-provision winbind ldb-tools
    # USB storage: libudev to build against; umockdev (with its Python bindings) to replay recorded sticks in the tests.
    libudev-dev umockdev libumockdev-dev gir1.2-umockdev-1.0 python3-gi
    # Screen lock: the real dconf tool compiles the tests' dconf databases.
    dconf-cli gsettings-desktop-schemas
    # Encryption: a real LUKS2 volume on a loop file, where the kernel has device-mapper (the test says when not).
    cryptsetup-bin dmsetup
    # Debian packages: build (dpkg-shlibdeps, patchelf for the private runtime path), lint, and check units.
    dpkg-dev patchelf lintian man-db iproute2 adduser
    # The dashboard in a real browser: Debian's headless Chromium and its WebDriver (selenium comes from PyPI).
    chromium chromium-driver fonts-dejavu-core)
# The API fuzz run makes a venv for schemathesis; Debian's own python3 needs python3-venv for that.
python3 -c 'import venv, ensurepip' 2>/dev/null || packages+=(python3-venv)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null | grep -qx installed || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "Installing: ${missing[*]}" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    # The tests start their own slapd on loopback; keep the package's default instance from starting (policy-rc.d 101).
    added_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod +x /usr/sbin/policy-rc.d
        added_policy=yes
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
    if [ -n "$added_policy" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
fi
command -v swift >/dev/null || { echo "swift is not on PATH (expected Swift 6.3 at /opt/swift)" >&2; exit 1; }
