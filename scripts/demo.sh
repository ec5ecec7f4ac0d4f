#!/usr/bin/env bash
# The demo: a real controller on loopback with a fresh data dir, the real agent reporting this machine,
# the device table and the HTML report; then a throwaway slapd with the sample school (controller/sample-school.ldif),
# a directory sync, the accounts plan and the password audit. Plans are applied only with --apply. With --ad the
# directory is a throwaway Samba Active Directory DC (SCHOOL.TEST, ldaps on 127.0.0.1:636) with the same school
# (controller/sample-school-ad.ldif) instead of slapd. Stops what it started.
set -euo pipefail
APPLY="" AD=""
for argument in "$@"; do
    case "$argument" in
        --apply) APPLY=yes ;;
        --ad) AD=yes ;;
        *) echo "demo.sh: unknown argument $argument (--apply, --ad)" >&2; exit 2 ;;
    esac
done
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
./scripts/install-deps.sh
WORK="$(mktemp -d /tmp/rollcall-demo.XXXXXX)"
echo "== Building rollcall and rollcall-agent (debug; the first build takes several minutes)"
for product in rollcall rollcall-agent; do
    swift build --product "$product" > "$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
done
BIN="$(swift build --show-bin-path)"

CONTROLLER_PID=""
cleanup() {
    [ -n "$CONTROLLER_PID" ] && kill "$CONTROLLER_PID" 2>/dev/null && wait "$CONTROLLER_PID" 2>/dev/null
    [ -f "$WORK/slapd/slapd.pid" ] && kill "$(cat "$WORK/slapd/slapd.pid")" 2>/dev/null
    [ -f "$WORK/samba/samba.pid" ] && kill -9 "$(cat "$WORK/samba/samba.pid")" 2>/dev/null
    true
}
trap cleanup EXIT

# Controller: the sample config with a fresh store in the demo directory and a free port.
# The demo judges encryption on every machine (the sample policy asks it of laptops only), so this one gets a verdict.
sed -e "s#^path = .*#path = \"$WORK/controller.sqlite\"#" -e 's/^port = .*/port = 0/' \
    -e 's/^encryption_required_for = .*/encryption_required_for = "all"/' controller/controller.toml > "$WORK/controller.toml"
"$BIN/rollcall" serve --config "$WORK/controller.toml" > "$WORK/controller.out" 2> "$WORK/controller.log" &
CONTROLLER_PID=$!
for _ in $(seq 1 100); do grep -q "rollcall listening on" "$WORK/controller.out" 2>/dev/null && break; sleep 0.1; done
URL="$(grep -o 'https://[0-9.:]*' "$WORK/controller.out" | head -1)"
[ -n "$URL" ] || { echo "The controller did not start; its log:" >&2; cat "$WORK/controller.log" >&2; exit 1; }
FINGERPRINT="$(grep -o 'fingerprint: [0-9A-F:]*' "$WORK/controller.out" | cut -d' ' -f2)"
echo "== Controller listening on $URL (store $WORK/controller.sqlite)"
echo "   TLS: a self-signed certificate made on first start, SHA-256 fingerprint $FINGERPRINT"

# Agent: the sample config with a demo state directory; it enrols with a one-time token, then reports.
sed -e "s#^state_dir = .*#state_dir = \"$WORK/agent\"#" agent/agent.toml > "$WORK/agent.toml"
echo
echo "== rollcall enrol-token create (a one-time secret; the controller keeps only its hash)"
TOKEN="$("$BIN/rollcall" enrol-token create --uses 1 --expires 1h --config "$WORK/controller.toml" 2>/dev/null)"
"$BIN/rollcall" enrol-token list --config "$WORK/controller.toml"
echo
echo "== rollcall-agent enrol $URL --token rct_… --fingerprint $FINGERPRINT"
"$BIN/rollcall-agent" enrol "$URL" --token "$TOKEN" --fingerprint "$FINGERPRINT" --config "$WORK/agent.toml"
echo
echo "== Agent: one snapshot of this machine, queued in its outbox and delivered over TLS, signed with its key"
"$BIN/rollcall-agent" run --once --config "$WORK/agent.toml" 2> "$WORK/agent.log" || { cat "$WORK/agent.log" >&2; exit 1; }
"$BIN/rollcall-agent" status --config "$WORK/agent.toml"

echo
echo "== Devices known to the controller"
"$BIN/rollcall" devices list --config "$WORK/controller.toml"
echo
echo "== rollcall posture (this machine's screen lock and disk encryption, judged under [posture]; encryption asked of every machine here)"
"$BIN/rollcall" posture --config "$WORK/controller.toml"

# USB storage: this machine's agent watches udev; a VM has no USB port, so a recorded SanDisk stick is plugged in
# and out of a umockdev testbed, which the agent's libudev monitor sees exactly as a real one. The Kingston model
# is approved first; the SanDisk is not, so it opens an incident.
echo
echo "== rollcall media approve 0951:1666 (the school's Kingston DataTraveler sticks)"
"$BIN/rollcall" media approve 0951:1666 --description "Kingston DataTraveler 3.0 (school stock)" --config "$WORK/controller.toml"
echo
echo "== A SanDisk Cruzer Blade plugged into this machine (replayed through umockdev), then removed"
printf 'wait-listener 20\nadd %s\nsleep 1.5\nremove %s\nsleep 1.5\nquit\n' \
    "$PWD/Tests/Fixtures/usb/sandisk-cruzer-blade.umockdev" "$PWD/Tests/Fixtures/usb/sandisk-cruzer-blade.umockdev" \
    | umockdev-wrapper /usr/bin/python3 scripts/umockdev-usb.py -- "$BIN/rollcall-agent" run --config "$WORK/agent.toml" \
        > "$WORK/usb-driver.out" 2> "$WORK/agent-usb.log" || true
grep -E "USB storage|USB watcher" "$WORK/agent-usb.log" | sed 's/^/   agent: /' || true
# Under umockdev the agent's /sys is the testbed's, so the snapshot it sent at start describes the testbed: one
# more ordinary run reports this machine again before the report is written.
"$BIN/rollcall-agent" run --once --config "$WORK/agent.toml" 2>> "$WORK/agent.log" || { cat "$WORK/agent.log" >&2; exit 1; }
echo
echo "== rollcall usb events"
"$BIN/rollcall" usb events --config "$WORK/controller.toml"
echo
echo "== rollcall incidents list"
"$BIN/rollcall" incidents list --config "$WORK/controller.toml"
echo
echo "== rollcall licences import controller/sample-licences.csv (the school's licence register)"
"$BIN/rollcall" licences import controller/sample-licences.csv --config "$WORK/controller.toml"
echo
echo "== rollcall licences reconcile (seats against this machine's packages; vendors' packages nobody licensed)"
"$BIN/rollcall" licences reconcile --config "$WORK/controller.toml"
echo
echo "== rollcall incidents add (the e-safety officer logs an incident reported by a teacher)"
"$BIN/rollcall" incidents add --category cyberbullying --reported-by "Form tutor 9B" --where "ICT suite 2" \
    --who "two Year 9 pupils" --description "Unkind messages posted in a class chat during a lesson" \
    --action head-teacher --action safeguarding --config "$WORK/controller.toml"
echo
echo "== rollcall users add (a dashboard account per role; passwords are read from standard input and kept as Argon2id)"
DASHBOARD_USERS=("technician:technician:Demo-Tech-2026" "esafety:e-safety-officer:Demo-Safe-2026" \
    "governor:governor:Demo-Gov-2026!" "deputy:read-only:Demo-Read-2026")
for entry in "${DASHBOARD_USERS[@]}"; do
    IFS=: read -r name role password <<< "$entry"
    printf '%s\n' "$password" | "$BIN/rollcall" users add "$name" --role "$role" --config "$WORK/controller.toml"
done
API_TOKEN="$("$BIN/rollcall" users token technician --label demo --days 1 --config "$WORK/controller.toml" 2>/dev/null)"

echo
if [ -n "$AD" ]; then
    echo "== The directory: a throwaway Samba AD DC on loopback (SCHOOL.TEST) with the sample school (Oakfield Academy)"
    exec 9>/tmp/rollcall-samba-ad.lock
    flock -n 9 || { echo "The Samba AD tests or benchmark hold the DC (port 389); try again when they finish" >&2; exit 1; }
    ./scripts/samba-school.sh --template "$PWD/.build/samba-ad-template-demo" --dir "$WORK/samba" --data controller/sample-school-ad.ldif --start
    export LDAPTLS_CACERT="$WORK/samba/tls/ca.pem"
    # The sample configuration with its [directory] for Active Directory and the AD school's names.
    /usr/bin/python3 - "$WORK/controller.toml" "$WORK/controller-directory.toml" "$WORK/samba" "$PWD" <<'PY'
import re, sys
source, target, samba, repo = sys.argv[1:5]
text = open(source).read()
ou = "OU=Oakfield,DC=school,DC=test"
directory = f"""[directory]
kind = "active-directory"
url = "ldaps://127.0.0.1"
ca_file = "{samba}/tls/ca.pem"
bind_dn = "Administrator@SCHOOL.TEST"
password_file = "{samba}/admin.secret"
staff_base_dns = ["OU=Staff,{ou}"]
pupil_base_dns = ["OU=Pupils,{ou}"]
group_base_dns = ["OU=Groups,{ou}"]

"""
text = re.sub(r"^\[directory\]\n.*?(?=^\[)", directory, text, flags=re.S | re.M)
text = re.sub(r"^protected_groups = .*$", 'protected_groups = ["IT Admins"]', text, flags=re.M)
text = re.sub(r"^leavers_ou = .*$", f'leavers_ou = "OU=Leavers,{ou}"\nset_account_expires = true', text, flags=re.M)
text = re.sub(r"^leavers_file = .*$", f'leavers_file = "{repo}/controller/sample-leavers-ad.txt"', text, flags=re.M)
text = re.sub(r"^staff_groups = .*$", f'staff_groups = ["CN=Teachers,OU=Groups,{ou}"]', text, flags=re.M)
text = re.sub(r"^technician_groups = .*$", f'technician_groups = ["CN=IT Admins,OU=Groups,{ou}"]', text, flags=re.M)
open(target, "w").write(text)
PY
    echo "   samba on ldaps://127.0.0.1 (CA $WORK/samba/tls/ca.pem; domain policy: 180 days, 7 characters, complexity)"
else
    echo "== The directory: a throwaway slapd on loopback with the sample school (Oakfield Academy)"
    LDAP_PORT=""
    for _ in $(seq 1 50); do
        candidate=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then LDAP_PORT=$candidate; break; fi
    done
    [ -n "$LDAP_PORT" ] || { echo "No free loopback port for slapd" >&2; exit 1; }
    ./scripts/slapd-school.sh --dir "$WORK/slapd" --suffix dc=oakfield,dc=test --data controller/sample-school.ldif --syncprov --start "$LDAP_PORT"
    sed -e "s#^url = \"ldap://.*#url = \"ldap://127.0.0.1:$LDAP_PORT\"#" \
        -e "s#^password_file = .*#password_file = \"$WORK/slapd/admin.secret\"#" \
        -e "s#^leavers_file = .*#leavers_file = \"$PWD/controller/sample-leavers.txt\"#" \
        "$WORK/controller.toml" > "$WORK/controller-directory.toml"
    echo "   slapd on ldap://127.0.0.1:$LDAP_PORT (ppolicy: 180 days, 6 characters; last-bind tracking on)"
fi
RC=("$BIN/rollcall")
CONFIG=(--config "$WORK/controller-directory.toml")
echo
echo "== rollcall directory sync"
"${RC[@]}" directory sync "${CONFIG[@]}" 2>>"$WORK/controller.log"
echo
echo "== rollcall hr import controller/sample-staff.csv --kind staff --preset sims (a SIMS staff extract, Windows-1252)"
"${RC[@]}" hr import controller/sample-staff.csv --kind staff --preset sims "${CONFIG[@]}"
echo
# The sample register, plus this machine as the leaver's laptop: the serial is the one its agent reported (the DMI
# product serial, else the board's, else the first disk's), so the register entry matches it the way a real one would.
SERIAL="$("$BIN/rollcall-agent" inventory 2>/dev/null | python3 -c '
import json, sys
h = json.load(sys.stdin)["hardware"]
s = h.get("system", {})
print(next((x for x in [s.get("serial"), s.get("boardSerial")] + [d.get("serial") for d in h.get("disks", [])] if x), ""))')"
cp controller/sample-equipment.csv "$WORK/equipment.csv"
if [ -n "$SERIAL" ]; then
    printf 'OAK-L017,%s,Demo,This machine,Laptop,01/09/2024,799.00,Staff room,S1004\r\n' "$SERIAL" >> "$WORK/equipment.csv"
    echo "== rollcall equipment import (the sample register, plus this machine, serial $SERIAL, issued to the leaver Ada Okafor)"
else
    echo "== rollcall equipment import (the sample register; this machine reports no serial number, so it is not added)"
fi
"${RC[@]}" equipment import "$WORK/equipment.csv" "${CONFIG[@]}"
"${RC[@]}" equipment list "${CONFIG[@]}"
echo
echo "== rollcall accounts plan (leavers and the roster from the HR import, stale after 120 days)"
"${RC[@]}" accounts plan "${CONFIG[@]}"
echo
"${RC[@]}" licences import controller/sample-licences.csv "${CONFIG[@]}" > /dev/null
echo "== rollcall offboard plan (leavers whose date has passed: accounts, equipment to get back, per-user licences)"
"${RC[@]}" offboard plan "${CONFIG[@]}"
OFFBOARD_ID="$("${RC[@]}" plan list --format csv "${CONFIG[@]}" | awk -F, '$2 == "offboarding" { print $1; exit }')"
CHECKLIST="$PWD/rollcall-offboarding.html"
"${RC[@]}" offboard show "$OFFBOARD_ID" --format html --output "$CHECKLIST" "${CONFIG[@]}"
echo
echo "== rollcall accounts plan --joiners (new starters in the HR import with no account yet)"
"${RC[@]}" accounts plan --joiners "${CONFIG[@]}"
JOINERS_ID="$("${RC[@]}" plan list --format csv "${CONFIG[@]}" | awk -F, '$2 == "joiners" { print $1; exit }')"
echo
echo "== rollcall passwords audit"
"${RC[@]}" passwords audit "${CONFIG[@]}"
if [ -n "$APPLY" ]; then
    echo
    echo "== rollcall plan apply $OFFBOARD_ID (the offboarding plan; asked for with --apply)"
    "${RC[@]}" plan apply "$OFFBOARD_ID" --accept-mass-change "${CONFIG[@]}"
    if [ -n "$JOINERS_ID" ]; then
        echo
        echo "== rollcall plan apply $JOINERS_ID --passwords-file $WORK/joiners-passwords.csv (the joiners plan)"
        "${RC[@]}" plan apply "$JOINERS_ID" --accept-mass-change --passwords-file "$WORK/joiners-passwords.csv" "${CONFIG[@]}"
        ls -l "$WORK/joiners-passwords.csv"
    fi
    if [ -n "$SERIAL" ]; then
        echo
        echo "== rollcall equipment return OAK-L017 and OAK-L003 (Ada Okafor hands her laptops back)"
        "${RC[@]}" equipment return OAK-L017 "${CONFIG[@]}"
        "${RC[@]}" equipment return OAK-L003 --note "charger missing" "${CONFIG[@]}"
    fi
    echo
    echo "== A disabled leaver tries to log on"
    if [ -n "$AD" ]; then
        ldapsearch -x -H ldaps://127.0.0.1 -D aokafor@SCHOOL.TEST -w Staff-Pass-4 -s base -b "" 2>&1 | grep -E "ldap_bind|data" || true
    else
        ldapwhoami -x -H "ldap://127.0.0.1:$LDAP_PORT" -D "uid=aokafor,ou=leavers,dc=oakfield,dc=test" -w Staff-Pass-4 -e ppolicy 2>&1 || true
    fi
fi
echo
REPORT="$PWD/rollcall-report.html"
GOVERNORS="$PWD/rollcall-governors.html"
echo "== rollcall report (every section: overview, devices, USB, accounts, offboarding, equipment, licences, incidents)"
"$BIN/rollcall" report --format html --output "$REPORT" --config "$WORK/controller.toml"
curl -sS --fail --cacert "$WORK/tls/controller.crt" -H "Authorization: Bearer $API_TOKEN" "$URL/report?format=csv" > "$WORK/report.csv"
echo "   and its CSV from $URL/report?format=csv with a technician's API token: $WORK/report.csv"
echo
echo "== rollcall report governors (counts per term, no names, counts under 5 hidden)"
"$BIN/rollcall" report governors --format html --output "$GOVERNORS" --config "$WORK/controller.toml"
"$BIN/rollcall" report governors --format csv --output "$WORK/governors.csv" --config "$WORK/controller.toml"
head -n 12 "$WORK/governors.csv"
echo
echo "== rollcall audit verify"
"${RC[@]}" audit verify "${CONFIG[@]}"
echo
echo "The offboarding checklists (one printable page per leaver) are in $CHECKLIST."
echo "The compliance report is in $REPORT; the governors' report in $GOVERNORS."
echo
echo "== The dashboard: $URL/ (self-signed certificate, fingerprint $FINGERPRINT)"
for entry in "${DASHBOARD_USERS[@]}"; do
    IFS=: read -r name role password <<< "$entry"
    printf '   %-18s user %-11s password %s\n' "$role" "$name" "$password"
done
echo "Nothing in the directory has changed unless you ran with --apply: plans wait for \`rollcall plan apply ID\`."
if [ -t 0 ]; then
    read -r -p "The controller keeps serving the dashboard until you press Enter. " _ || true
fi
