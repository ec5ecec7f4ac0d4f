#!/usr/bin/env bash
# Builds a throwaway Samba Active Directory domain controller the way Rollcall's tests, demo and benchmark need it.
#
#   scripts/samba-school.sh --template DIR
#       Provisions the domain SCHOOL.TEST once into DIR (~8 s): a certificate for 127.0.0.1 signed by a CA of its
#       own (DIR/tls/ca.pem), LDAP only (no DNS, Kerberos, SMB or replication services), listening on loopback.
#       Nothing is done when DIR/ready exists.
#   scripts/samba-school.sh --dir DIR --template TEMPLATE [--data FILE]... [--plain-binds] [--start]
#       Copies the template to DIR (0.1 s), loads each LDIF file offline and, with --start, runs samba in the
#       background until `kill $(cat DIR/samba.pid)`. The Administrator's password is in DIR/admin.secret.
#
# A DC listens on the fixed ports 389 and 636: one per machine at a time.
#
# Data files may use @DOMAIN@ (DC=school,DC=test), @DAYS_AGO_N@ (an LDAP GeneralizedTime N days before now),
# @FILETIME_DAYS_AGO_N@ (a Windows FILETIME N days before now) and @PASSWORD(text)@ (base64 of the quoted UTF-16LE
# password, for `unicodePwd::`). Entries go through Samba's own modules as `ldbmodify` on the offline sam.ldb, so
# passwords are hashed and SIDs made as on a live DC. Values no client may write (pwdLastSet other than 0 or -1,
# lastLogonTimestamp, lastLogon, whenCreated) are then written into the domain partition directly, so the sample
# school can have six-month-old passwords and long-unused accounts today.
# By default, as on a real DC, a simple bind needs TLS (ldaps:// or StartTLS); --plain-binds allows it in clear text.
set -euo pipefail

dir="" template="" start="" plain=""
data=()
while (($#)); do
    case "$1" in
        --dir) dir="$2"; shift 2 ;;
        --template) template="$2"; shift 2 ;;
        --data) data+=("$2"); shift 2 ;;
        --plain-binds) plain=yes; shift ;;
        --start) start=yes; shift ;;
        *) echo "samba-school.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$template" ] || { echo "samba-school.sh: --template is required" >&2; exit 2; }
command -v samba-tool >/dev/null || { echo "samba-school.sh: samba-tool is missing (apt-get install samba samba-ad-dc samba-ad-provision ldb-tools)" >&2; exit 1; }

admin_password="Admin-Secret-1"
realm="SCHOOL.TEST"
domain_dn="DC=school,DC=test"

if [ ! -e "$template/ready" ]; then
    rm -rf "$template"
    mkdir -p "$template"
    samba-tool domain provision --realm="$realm" --domain=SCHOOL --server-role=dc --dns-backend=NONE --use-rfc2307 \
        --adminpass="$admin_password" --targetdir="$template" --host-name=dc1 \
        --option="interfaces=lo" --option="bind interfaces only=yes" > "$template/provision.log" 2>&1 \
        || { cat "$template/provision.log" >&2; exit 1; }
    mkdir -p "$template/tls" "$template/run" "$template/log" "$template/cache"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Rollcall test CA" \
        -keyout "$template/tls/ca.key" -out "$template/tls/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=dc1.school.test" -keyout "$template/tls/key.pem" -out "$template/tls/cert.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:dc1.school.test\nextendedKeyUsage=serverAuth\n' > "$template/tls/ext.cnf"
    openssl x509 -req -in "$template/tls/cert.csr" -CA "$template/tls/ca.pem" -CAkey "$template/tls/ca.key" -CAcreateserial \
        -days 3650 -extfile "$template/tls/ext.cnf" -out "$template/tls/cert.pem" 2>/dev/null
    chmod 600 "$template/tls/key.pem"
    # Only the LDAP server; every path under the template (rewritten for each copy).
    /usr/bin/python3 - "$template/etc/smb.conf" "$template" <<'PY'
import sys
path, top = sys.argv[1], sys.argv[2]
drop = ("server services", "log file")
lines = [l for l in open(path).read().splitlines() if not l.strip().startswith(drop)]
extra = [
    "\tserver services = ldap",
    f"\tpid directory = {top}/run", f"\tncalrpc dir = {top}/run/ncalrpc",
    f"\twinbindd socket directory = {top}/run/winbindd", f"\tntp signd socket directory = {top}/run/ntp_signd",
    f"\tlog file = {top}/log/log.%m", "\tlog level = 1",
    "\ttls enabled = yes", f"\ttls keyfile = {top}/tls/key.pem", f"\ttls certfile = {top}/tls/cert.pem",
    f"\ttls cafile = {top}/tls/ca.pem",
]
index = lines.index("[global]") + 1
open(path, "w").write("\n".join(lines[:index] + extra + lines[index:]) + "\n")
PY
    printf '%s' "$admin_password" > "$template/admin.secret"
    chmod 600 "$template/admin.secret"
    touch "$template/ready"
fi

[ -n "$dir" ] || exit 0
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
cp -a "$template" "$dir"
sed -i "s#$template#$dir#g" "$dir/etc/smb.conf"
if [ -n "$plain" ]; then
    sed -i 's#^\[global\]$#[global]\n\tldap server require strong auth = no#' "$dir/etc/smb.conf"
fi

for file in ${data[@]+"${data[@]}"}; do
    # Split each file into what Samba's modules accept (changes, in order) and the system-only values written raw.
    /usr/bin/python3 - "$file" "$dir/load.ldif" "$dir/raw.ldif" "$domain_dn" <<'PY'
import base64, re, sys, time
source, load_path, raw_path, domain = sys.argv[1:5]
now = time.time()
text = open(source, encoding="utf-8").read()
def days_ago(match):
    return time.strftime("%Y%m%d%H%M%S.0Z", time.gmtime(now - int(match.group(1)) * 86400))
def filetime_days_ago(match):
    return str(int((now - int(match.group(1)) * 86400) * 10_000_000) + 116444736000000000)
def password(match):
    return base64.b64encode(('"' + match.group(1) + '"').encode("utf-16-le")).decode()
text = text.replace("@DOMAIN@", domain)
text = re.sub(r"@FILETIME_DAYS_AGO_(\d+)@", filetime_days_ago, text)
text = re.sub(r"@DAYS_AGO_(\d+)@", days_ago, text)
text = re.sub(r"@PASSWORD\((.*?)\)@", password, text)
system_only = ("pwdlastset", "lastlogontimestamp", "lastlogon", "whencreated")
load, raw = [], []
for block in re.split(r"\n\s*\n", text):
    lines = [l for l in block.splitlines() if l and not l.startswith("#")]
    if not lines:
        continue
    dn, rest = lines[0], lines[1:]
    kept, special = [], []
    for line in rest:
        name, _, value = line.partition(":")
        value = value.strip()
        if name.lower() in system_only and not (name.lower() == "pwdlastset" and value in ("0", "-1")):
            special.append(f"replace: {name}\n{name}: {value}\n-")
        else:
            kept.append(line)
    if kept and not kept[0].lower().startswith("changetype:"):
        kept.insert(0, "changetype: add")
    if kept:
        load.append("\n".join([dn] + kept))
    if special:
        raw.append("\n".join([dn, "changetype: modify"] + special))
open(load_path, "w").write("\n\n".join(load) + "\n")
open(raw_path, "w").write("\n\n".join(raw) + "\n")
PY
    # In chunks of 500 entries: ldbmodify keeps one transaction per run, and its cost grows with the square of the
    # entries in it (20,000 at once take 13 minutes, in chunks about one).
    rm -f "$dir"/load.ldif.part-*
    awk -v prefix="$dir/load.ldif.part-" 'BEGIN { RS = ""; ORS = "\n\n" } { print > sprintf("%s%05d", prefix, int((NR - 1) / 500)) }' "$dir/load.ldif"
    for part in "$dir"/load.ldif.part-*; do
        ldbmodify -H "$dir/private/sam.ldb" "$part" >> "$dir/load.log" 2>&1 || { cat "$dir/load.log" >&2; exit 1; }
    done
    if [ -s "$dir/raw.ldif" ] && grep -q . "$dir/raw.ldif"; then
        partition="$dir/private/sam.ldb.d/${domain_dn^^}.ldb"
        ldbmodify -H "tdb://$partition" "$dir/raw.ldif" > "$dir/raw.log" 2>&1 || { cat "$dir/raw.log" >&2; exit 1; }
    fi
done

if [ -n "$start" ]; then
    if holder=$(ss -Hltnp 'sport = :389' 2>/dev/null) && [ -n "$holder" ]; then
        echo "samba-school.sh: port 389 is taken, and an AD DC needs it: $holder" >&2
        exit 1
    fi
    setsid samba -i -M single -s "$dir/etc/smb.conf" < /dev/null > "$dir/samba.log" 2>&1 &
    echo $! > "$dir/samba.pid"
    for _ in $(seq 1 200); do
        kill -0 "$(cat "$dir/samba.pid")" 2>/dev/null || break
        if ldapsearch -x -H ldap://127.0.0.1 -s base -b "" namingContexts >/dev/null 2>&1; then exit 0; fi
        sleep 0.05
    done
    echo "samba-school.sh: samba did not answer on 127.0.0.1:389" >&2
    cat "$dir/samba.log" >&2
    exit 1
fi
