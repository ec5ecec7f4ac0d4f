#!/usr/bin/env bash
# Builds rollcall-controller_VERSION_amd64.deb and rollcall-agent_VERSION_amd64.deb from a Swift build.
#
#   packaging/build-debs.sh [--configuration release|debug] [--output DIR]
#
# The Swift runtime libraries the binaries need (libswiftCore, Foundation, Dispatch, ...) are copied from the
# toolchain into a private directory of each package (/usr/lib/rollcall-controller, /usr/lib/rollcall-agent) and
# the binaries' RUNPATH points there, so neither package needs a Swift toolchain and both can sit on one server.
# Debian libraries (libldap, libsqlite3, libudev, libssl) become Depends, worked out by dpkg-shlibdeps. The
# controller's man page is generated from its argument parser; the agent's (its own small parser) is agent/.
# Release is what a school installs; the test command packages its debug build to test the packaging itself.
set -euo pipefail
CONFIGURATION=release
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUTPUT="$ROOT/.build/debs"
while (($#)); do
    case "$1" in
        --configuration) CONFIGURATION="$2"; shift 2 ;;
        --output) OUTPUT="$2"; shift 2 ;;
        *) echo "usage: $0 [--configuration release|debug] [--output DIR]" >&2; exit 64 ;;
    esac
done
export PATH="/opt/swift/usr/bin:$PATH"
cd "$ROOT"
VERSION="$(sed -n 's/.*version: "\([0-9][0-9.]*\)".*/\1/p' Sources/rollcall/RollcallCommand.swift | head -1)"
[[ -n "$VERSION" ]] || { echo "cannot read the version from Sources/rollcall/RollcallCommand.swift" >&2; exit 1; }
SWIFT_LIBS="$(dirname "$(dirname "$(command -v swift)")")/lib/swift/linux"
MAINTAINER="Rollcall developers <rollcall-developers@users.noreply.github.com>"
DATE_R="$(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")"

echo "== swift build -c $CONFIGURATION (rollcall, rollcall-agent, generate-manual)" >&2
swift build -c "$CONFIGURATION" --product rollcall >&2
swift build -c "$CONFIGURATION" --product rollcall-agent >&2
swift build -c "$CONFIGURATION" --product generate-manual >&2
BIN="$(swift build -c "$CONFIGURATION" --show-bin-path)"
WORK="$(mktemp -d /tmp/rollcall-debs.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUTPUT"

# install_binary SRC DEST_IN_TREE PRIVATE_LIB_DIR TREE: strip, point RUNPATH at the private dir, copy the Swift
# runtime libraries it (and they) load from the toolchain.
install_binary() {
    local source="$1" destination="$2" private="$3" tree="$4"
    install -D -m 0755 "$source" "$tree$destination"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$tree$destination"
    patchelf --set-rpath "$private" "$tree$destination"
    mkdir -p "$tree$private"
    local library
    for library in $(ldd "$source" | awk -v dir="$SWIFT_LIBS/" 'index($3, dir) == 1 { print $3 }'); do
        install -m 0644 "$library" "$tree$private/"
        strip --strip-unneeded --remove-section=.comment --remove-section=.note "$tree$private/$(basename "$library")"
        patchelf --set-rpath "$private" "$tree$private/$(basename "$library")"
    done
}

# Depends from the ELF files' needs, through dpkg-shlibdeps (it wants a debian/control to read).
depends() {
    local tree="$1" package="$2"; shift 2
    mkdir -p "$WORK/shlibs/debian"
    printf 'Source: rollcall\n\nPackage: %s\nArchitecture: amd64\n' "$package" > "$WORK/shlibs/debian/control"
    (cd "$WORK/shlibs" && dpkg-shlibdeps -O --ignore-missing-info -l"$tree/usr/lib/rollcall-controller" -l"$tree/usr/lib/rollcall-agent" \
        "$@" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
}

docs() { # TREE PACKAGE
    local tree="$1" package="$2" doc="$1/usr/share/doc/$2"
    install -d "$doc"
    cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: rollcall
Source: https://github.com/rollcall-school/rollcall

Files: *
Copyright: 2026 Rollcall developers
License: Apache-2.0

Files: usr/lib/rollcall-*/*
Copyright: 2014-2026 Apple Inc. and the Swift project authors
License: Apache-2.0 with Runtime Library Exception
 The Swift runtime libraries (libswiftCore, Foundation, Dispatch and their
 dependencies), copied from the Swift toolchain the binaries were built with.
 lib_FoundationICU carries ICU, Copyright 2016-2026 Unicode, Inc., under the
 Unicode License v3.
 .
 Runtime Library Exception to the Apache 2.0 License: As an exception, if you
 use this Software to compile your source code and portions of this Software
 are embedded into the binary product as a result, you may redistribute such
 product without providing attribution as would otherwise be required by
 Sections 4(a), 4(b) and 4(d) of the License.

License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
    printf '%s (%s) unstable; urgency=medium\n\n  * %s %s: inventory, enrolment and TLS, OpenLDAP accounts,\n    HR imports, offboarding and joiners, the equipment register,\n    USB storage control, screen-lock and disk-encryption checks.\n\n -- %s  %s\n' \
        "rollcall" "$VERSION" "$package" "$VERSION" "$MAINTAINER" "$DATE_R" | gzip -9n > "$doc/changelog.gz"
}

finish() { # TREE PACKAGE DESCRIPTION-FILE DEPENDS
    local tree="$1" package="$2" description="$3" depends="$4"
    find "$tree" -type d -exec chmod 0755 {} +
    (cd "$tree" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
    local size
    size="$(du -sk --exclude=DEBIAN "$tree" | cut -f1)"
    {
        printf 'Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: %s\nInstalled-Size: %s\n' "$package" "$VERSION" "$MAINTAINER" "$size"
        printf 'Depends: %s\nSection: admin\nPriority: optional\nHomepage: https://github.com/rollcall-school/rollcall\n' "$depends"
        cat "$description"
    } > "$tree/DEBIAN/control"
    chmod 0644 "$tree/DEBIAN/control" "$tree/DEBIAN/md5sums" "$tree/DEBIAN/conffiles"
    dpkg-deb --root-owner-group -Zxz --build "$tree" "$OUTPUT/${package}_${VERSION}_amd64.deb" >&2
}

# --- rollcall-controller ---------------------------------------------------------------------------------------
CTL="$WORK/controller"
install_binary "$BIN/rollcall" /usr/bin/rollcall /usr/lib/rollcall-controller "$CTL"
install -D -m 0644 controller/controller.toml "$CTL/etc/rollcall/controller.toml"
install -D -m 0644 controller/rollcall.service "$CTL/lib/systemd/system/rollcall.service"
mkdir -p "$WORK/man"
"$BIN/generate-manual" "$BIN/rollcall" --section 1 --date "$(date -u -d "$DATE_R" +%Y-%m-%d)" --authors "Rollcall developers" --output-directory "$WORK/man" >&2
install -D -m 0644 "$WORK/man/rollcall.1" "$CTL/usr/share/man/man1/rollcall.1"
gzip -9n "$CTL/usr/share/man/man1/rollcall.1"
docs "$CTL" rollcall-controller
install -d "$CTL/DEBIAN"
echo /etc/rollcall/controller.toml > "$CTL/DEBIAN/conffiles"
install -m 0755 packaging/controller/postinst packaging/controller/prerm packaging/controller/postrm "$CTL/DEBIAN/"
cat > "$WORK/controller.description" <<'TEXT'
Description: school device and account lifecycle: the controller
 Rollcall keeps a UK school's IT in line with its e-safety policy. The
 controller receives the workstations' signed reports over HTTPS into its
 store, syncs with the school's LDAP directory, plans and applies leavers'
 offboarding, joiners' accounts and password rotation (every change planned,
 shown, audited and limited), keeps the equipment register, judges screen
 locks and disk encryption, controls USB storage and writes the compliance
 report.
TEXT
finish "$CTL" rollcall-controller "$WORK/controller.description" \
    "$(depends "$CTL" rollcall-controller -e"$CTL/usr/bin/rollcall" "$CTL"/usr/lib/rollcall-controller/*.so*), adduser"

# --- rollcall-agent --------------------------------------------------------------------------------------------
AGT="$WORK/agent"
install_binary "$BIN/rollcall-agent" /usr/sbin/rollcall-agent /usr/lib/rollcall-agent "$AGT"
install -D -m 0644 agent/agent.toml "$AGT/etc/rollcall/agent.toml"
install -D -m 0644 agent/rollcall-agent.service "$AGT/lib/systemd/system/rollcall-agent.service"
install -D -m 0644 agent/70-rollcall-usb.rules "$AGT/lib/udev/rules.d/70-rollcall-usb.rules"
install -D -m 0644 agent/rollcall-agent.8 "$AGT/usr/share/man/man8/rollcall-agent.8"
gzip -9n "$AGT/usr/share/man/man8/rollcall-agent.8"
docs "$AGT" rollcall-agent
install -d "$AGT/DEBIAN"
echo /etc/rollcall/agent.toml > "$AGT/DEBIAN/conffiles"
install -m 0755 packaging/agent/postinst packaging/agent/prerm packaging/agent/postrm "$AGT/DEBIAN/"
cat > "$WORK/agent.description" <<'TEXT'
Description: school device and account lifecycle: the workstation agent
 Rollcall keeps a UK school's IT in line with its e-safety policy. The agent
 runs on each Linux workstation: it reports the hardware and software
 inventory, the screen-lock settings of every desktop and user and whether
 the disks are encrypted, watches udev for USB storage (switching unapproved
 sticks off when the school's policy says so), and keeps every report in a
 durable outbox until the controller has it.
TEXT
# libssl is loaded with dlopen (TLS and signing), so dpkg-shlibdeps cannot see it.
finish "$AGT" rollcall-agent "$WORK/agent.description" \
    "$(depends "$AGT" rollcall-agent -e"$AGT/usr/sbin/rollcall-agent" "$AGT"/usr/lib/rollcall-agent/*.so*), libssl3, adduser"

ls -l "$OUTPUT"/*_"$VERSION"_amd64.deb
