#!/usr/bin/env bash
# capture-fixture.sh — copy the /sys, /proc and /etc files that Rollcall's
# hardware collector reads into a fixture tree, so the collector can be
# tested against a configurable root directory.
#
# Usage:  sudo scripts/capture-fixture.sh [--redact-serials] [--source-root DIR] ROOT_OUT
#
#   ROOT_OUT           directory to create/fill (ROOT_OUT/sys/..., ROOT_OUT/proc/..., ROOT_OUT/etc/...)
#   --redact-serials   replace serial numbers, UUIDs, WWIDs, MAC addresses and
#                      the machine-id with clearly fake values of the same length
#   --source-root DIR  read from DIR instead of / (for testing this script)
#
# Run it as root: several DMI files (product_serial, product_uuid, board_serial,
# chassis_serial) and /proc/1/cgroup are only readable by root. Files that are
# absent or unreadable are skipped silently; nothing is invented.
#
# Layout notes (see Tests/Fixtures/README.md):
#   * sys/block/DEV and sys/block/DEV/device are written as real directories
#     holding only the attributes below (sysfs symlinks are resolved).
#   * sys/class/net/IF is a real directory; IF/device is a real directory that
#     holds only a symlink `driver` with the ORIGINAL readlink target (dangling
#     in the fixture; the collector only uses its last path component).
#   * IF/wireless and IF/phy80211 are written as directories containing an
#     empty file `.captured`, because git cannot store empty directories.
#   * sys/firmware/acpi/tables/FACP is truncated to its 36-byte ACPI header.
set -euo pipefail

usage() {
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
}

REDACT=0
SRC=/
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --redact-serials) REDACT=1; shift ;;
        --source-root) [ $# -ge 2 ] || { usage >&2; exit 2; }; SRC=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        --) shift; break ;;
        -*) echo "capture-fixture: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) [ -z "$OUT" ] || { echo "capture-fixture: only one ROOT_OUT allowed" >&2; exit 2; }
           OUT=$1; shift ;;
    esac
done
if [ -z "$OUT" ] && [ $# -gt 0 ]; then OUT=$1; shift; fi
[ -n "$OUT" ] || { usage >&2; exit 2; }
SRC=${SRC%/}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

if [ "$(id -u)" -ne 0 ] && [ "$SRC" = "" ]; then
    echo "capture-fixture: warning: not root; DMI serials/UUID and /proc/1/cgroup will be missing" >&2
fi

# ---------------------------------------------------------------- redaction
# Fake alphabets: clearly not real, but still syntactically plausible.
FAKE_HEX="badc0ffee0ddf00d"          # hex-only values: MAC, UUID, machine-id, WWID
FAKE_SERIAL="FAKESERIAL0123456789"   # free-form serial numbers

# fake_value KIND < value > value' — same length; separators and padding
# (spaces, ':', '-', '.') are kept, every letter/digit is replaced. Hex values
# keep the original's letter case; a missing final newline stays missing.
fake_value() {
    local kind=$1 line out ch f i n alpha nl
    if [ "$kind" = hex ]; then alpha=$FAKE_HEX; else alpha=$FAKE_SERIAL; fi
    while true; do
        nl=$'\n'
        IFS= read -r line || { nl=""; [ -n "$line" ] || break; }
        out=""; n=0
        local upper=0
        [[ $kind == hex && $line == *[[:upper:]]* ]] && upper=1
        for (( i = 0; i < ${#line}; i++ )); do
            ch=${line:i:1}
            if [[ $ch == [[:alnum:]] ]]; then
                f=${alpha:$(( n % ${#alpha} )):1}
                if [ "$upper" -eq 1 ]; then f=${f^^}; fi
                out+=$f; n=$(( n + 1 ))
            else
                out+=$ch
            fi
        done
        printf '%s%s' "$out" "$nl"
        [ -n "$nl" ] || break
    done
}

# WWIDs look like "eui.0025...", "naa.5000...", "t10.ATA  MODEL SERIAL": keep the
# scheme prefix, fake the rest (t10 ids also embed the model; it is faked too).
fake_wwid() {
    local line prefix rest nl
    while true; do
        nl=$'\n'
        IFS= read -r line || { nl=""; [ -n "$line" ] || break; }
        if [[ $line =~ ^([A-Za-z0-9]{2,5}\.)(.*)$ ]]; then
            prefix=${BASH_REMATCH[1]}; rest=${BASH_REMATCH[2]}
        else
            prefix=""; rest=$line
        fi
        printf '%s%s%s' "$prefix" "$(printf '%s' "$rest" | fake_value hex)" "$nl"
        [ -n "$nl" ] || break
    done
}

# redaction kind for a relative path, or empty
redact_kind() {
    case "$1" in
        sys/class/dmi/id/product_uuid) echo hex ;;
        sys/class/dmi/id/*_serial)     echo serial ;;
        sys/block/*/serial|sys/block/*/device/serial) echo serial ;;
        sys/block/*/wwid|sys/block/*/device/wwid)     echo wwid ;;
        sys/class/net/*/address)       echo hex ;;
        etc/machine-id)                echo hex ;;
        *) echo "" ;;
    esac
}

# ---------------------------------------------------------------- copying
# copy_file REL [DEST_REL] — copy SRC/REL (following symlinks) to OUT/DEST_REL.
# sysfs files report a fake size, so read them with cat; skip on any error.
copy_file() {
    local rel=$1 dest=${2:-$1} src="$SRC/$1" tmp kind
    [ -f "$src" ] && [ -r "$src" ] || return 0
    mkdir -p "$OUT/$(dirname "$dest")"
    tmp="$OUT/$dest.tmp.$$"
    if ! cat "$src" > "$tmp" 2>/dev/null; then
        rm -f "$tmp"; return 0
    fi
    if [ "$REDACT" -eq 1 ]; then
        kind=$(redact_kind "$dest")
        case "$kind" in
            hex|serial) fake_value "$kind" < "$tmp" > "$tmp.r" && mv "$tmp.r" "$tmp" ;;
            wwid)       fake_wwid < "$tmp" > "$tmp.r" && mv "$tmp.r" "$tmp" ;;
        esac
    fi
    mv "$tmp" "$OUT/$dest"
}

# an empty marker file, because git cannot store empty directories
mark_dir() {
    mkdir -p "$OUT/$1"
    : > "$OUT/$1/.captured"
}

# ---- DMI
for f in sys_vendor product_name product_version product_serial product_uuid \
         product_family product_sku board_vendor board_name board_version \
         board_serial chassis_type chassis_vendor chassis_serial \
         chassis_asset_tag bios_vendor bios_version bios_date; do
    copy_file "sys/class/dmi/id/$f"
done

# ---- ACPI FADT header (36 bytes: signature, length, revision, checksum,
#      OEM ID @10 (6 bytes), OEM table ID @16 (8 bytes), OEM rev, creator id/rev)
facp="$SRC/sys/firmware/acpi/tables/FACP"
if [ -r "$facp" ]; then
    mkdir -p "$OUT/sys/firmware/acpi/tables"
    if ! head -c 36 "$facp" > "$OUT/sys/firmware/acpi/tables/FACP" 2>/dev/null; then
        rm -f "$OUT/sys/firmware/acpi/tables/FACP"
    fi
fi

# ---- /proc
for f in proc/cpuinfo proc/meminfo proc/sys/kernel/osrelease proc/cmdline proc/1/cgroup; do
    copy_file "$f"
done

# ---- clocksource, hypervisor
copy_file sys/devices/system/clocksource/clocksource0/current_clocksource
copy_file sys/devices/system/clocksource/clocksource0/available_clocksource
copy_file sys/hypervisor/type

# ---- OS identity
if [ -e "$SRC/etc/os-release" ]; then
    copy_file etc/os-release            # symlink to ../usr/lib/os-release is dereferenced
else
    copy_file usr/lib/os-release
fi
copy_file etc/hostname
copy_file etc/machine-id

# ---- container markers (empty files are kept as empty files)
copy_file .dockerenv
copy_file run/.containerenv
copy_file run/systemd/container

# ---- block devices (all of them, loop/ram included: the collector must skip those)
if [ -d "$SRC/sys/block" ]; then
    for d in "$SRC"/sys/block/*; do
        [ -e "$d" ] || continue
        dev=$(basename "$d")
        mkdir -p "$OUT/sys/block/$dev"
        for a in size removable ro queue/rotational serial wwid; do
            copy_file "sys/block/$dev/$a"
        done
        if [ -e "$d/device" ]; then
            for a in model vendor serial wwid; do
                copy_file "sys/block/$dev/device/$a"
            done
        fi
    done
fi

# ---- network interfaces
if [ -d "$SRC/sys/class/net" ]; then
    for n in "$SRC"/sys/class/net/*; do
        [ -e "$n" ] || continue
        ifname=$(basename "$n")
        [ -d "$n" ] || continue          # skips the bonding_masters file
        mkdir -p "$OUT/sys/class/net/$ifname"
        for a in address operstate carrier speed mtu type; do
            copy_file "sys/class/net/$ifname/$a"   # carrier/speed fail with EINVAL when down: skipped
        done
        if [ -e "$n/device" ]; then
            mkdir -p "$OUT/sys/class/net/$ifname/device"
            if target=$(readlink "$n/device/driver" 2>/dev/null); then
                ln -sfn "$target" "$OUT/sys/class/net/$ifname/device/driver"
            else
                mark_dir "sys/class/net/$ifname/device"
            fi
        fi
        [ -d "$n/wireless" ] && mark_dir "sys/class/net/$ifname/wireless"
        [ -e "$n/phy80211" ] && mark_dir "sys/class/net/$ifname/phy80211"
    done
fi

echo "capture-fixture: wrote $(find "$OUT" \( -type f -o -type l \) | wc -l) files to $OUT" >&2
