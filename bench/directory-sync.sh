#!/usr/bin/env bash
# Directory sync benchmark: `rollcall directory sync` of a 50,000-account directory from slapd on loopback, side by
# side with `ldapsearch -E pr=1000/noprompt` reading the same entries and attributes in the same run.
#   - slapd: built by scripts/slapd-school.sh (ppolicy, last bind), loaded with slapadd -q: 4,000 staff and 46,000
#     pupils with the operational attributes a school directory has (pwdChangedTime, pwdLastSuccess, createTimestamp),
#     and year-group posixGroups holding every pupil. A second directory of 10,000 accounts shows memory is flat.
#   - ldapsearch: the staff base, the pupil base and the group base, paged by 1,000, to /dev/null.
#   - rollcall: a first sync into an empty store (everything written), and a re-sync of the unchanged directory.
# Wall time: hyperfine, 1 warm-up + 5 runs, median. Peak RSS: GNU time %M, median of 3.
# Writes raw data to bench/out/directory/ and its section of bench/RESULTS.md.
#
# Usage (from anywhere; needs slapd, ldap-utils, hyperfine, GNU time):  bench/directory-sync.sh
set -euo pipefail

readonly RUNS=5 WARMUP=1 RSS_RUNS=3 BIG=50000 SMALL=10000
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT OUT="$ROOT/bench/out/directory" RESULTS="$ROOT/bench/RESULTS.md"
export PATH="/opt/swift/usr/bin:$PATH"
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'directory-sync.sh: error: %s\n' "$*" >&2; exit 1; }

for tool in slapd slapadd ldapsearch hyperfine swift; do command -v "$tool" >/dev/null || die "$tool is not installed"; done
/usr/bin/time -f %M true 2>/dev/null || die "/usr/bin/time is not GNU time (apt-get install time)"

WORK="$(mktemp -d /tmp/rollcall-dirbench.XXXXXX)"
cleanup() {
    for pidfile in "$WORK"/slapd-*/slapd.pid; do [[ -f "$pidfile" ]] && kill "$(cat "$pidfile")" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
rm -rf "$OUT"; mkdir -p "$OUT"

say "Building rollcall (release, --scratch-path .build-release); log: $OUT/build.log"
(cd "$ROOT" && swift build -c release --product rollcall --scratch-path .build-release) >"$OUT/build.log" 2>&1 \
    || { tail -n 30 "$OUT/build.log" >&2; die "swift build failed"; }
BIN="$(cd "$ROOT" && swift build -c release --scratch-path .build-release --show-bin-path)/rollcall"

free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 20000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
    die "no free port"
}

# directory SIZE: generates, loads and starts a directory of SIZE accounts; prints its port.
directory() {
    local size="$1" dir="$WORK/slapd-$1" port staff pupils
    staff=$((size / 12)); pupils=$((size - staff))
    mkdir -p "$dir"
    awk -v staff="$staff" -v pupils="$pupils" 'BEGIN {
        print "dn: ou=staff,@SUFFIX@\nobjectClass: organizationalUnit\nou: staff\n"
        print "dn: ou=pupils,@SUFFIX@\nobjectClass: organizationalUnit\nou: pupils\n"
        print "dn: ou=groups,@SUFFIX@\nobjectClass: organizationalUnit\nou: groups\n"
        for (i = 0; i < staff + pupils; i++) {
            ou = i < staff ? "staff" : "pupils"; key = (i < staff ? "S" : "A") sprintf("%09d", i)
            printf "dn: uid=u%d,ou=%s,@SUFFIX@\nobjectClass: inetOrgPerson\nobjectClass: shadowAccount\nuid: u%d\ncn: Person %d\nsn: Person\n", i, ou, i, i
            printf "employeeNumber: %s\nmail: u%d@school.example\nuserPassword: Pass-%d\ncreateTimestamp: @DAYS_AGO_%d@\n", key, i, i, 300 + i % 700
            printf "pwdChangedTime: @DAYS_AGO_%d@\npwdLastSuccess: @DAYS_AGO_%d@\n\n", i % 300, i % 200
        }
        for (year = 7; year <= 13; year++) {
            printf "dn: cn=year%d,ou=groups,@SUFFIX@\nobjectClass: posixGroup\ncn: year%d\ngidNumber: %d\n", year, year, 5000 + year
            for (i = staff; i < staff + pupils; i++) if (i % 7 == year - 7) printf "memberUid: u%d\n", i
            print ""
        }
    }' > "$dir/people.ldif"
    port="$(free_port)"
    "$ROOT/scripts/slapd-school.sh" --dir "$dir" --suffix dc=school,dc=test --data "$dir/people.ldif" --start "$port" >&2
    cat > "$dir/controller.toml" <<EOF
[store]
path = "store.sqlite"
[directory]
url = "ldap://127.0.0.1:$port"
bind_dn = "cn=admin,dc=school,dc=test"
password_file = "$dir/admin.secret"
staff_base_dns = ["ou=staff,dc=school,dc=test"]
pupil_base_dns = ["ou=pupils,dc=school,dc=test"]
group_base_dns = ["ou=groups,dc=school,dc=test"]
EOF
    echo "$port"
}

ATTRS="uid cn displayName mail employeeNumber createTimestamp pwdChangedTime pwdReset pwdAccountLockedTime pwdLastSuccess authTimestamp shadowExpire memberOf"
FILTER='(|(objectClass=inetOrgPerson)(objectClass=account)(objectClass=posixAccount))'
GROUPS='(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup)(objectClass=group))'
ldapsearch_cmd() {
    local port="$1" dir="$WORK/slapd-$2" auth
    auth="-x -LLL -H ldap://127.0.0.1:$port -D cn=admin,dc=school,dc=test -y $dir/admin.secret -E pr=1000/noprompt"
    echo "ldapsearch $auth -b ou=staff,dc=school,dc=test '$FILTER' $ATTRS >/dev/null && ldapsearch $auth -b ou=pupils,dc=school,dc=test '$FILTER' $ATTRS >/dev/null && ldapsearch $auth -b ou=groups,dc=school,dc=test '$GROUPS' cn member uniqueMember memberUid >/dev/null"
}

say "Generating and loading the directories ($SMALL and $BIG accounts)"
SMALL_PORT="$(directory $SMALL)"
LOAD_START=$(date +%s.%N)
BIG_PORT="$(directory $BIG)"
LOAD_SECONDS=$(echo "$(date +%s.%N) - $LOAD_START" | bc)
BIG_DIR="$WORK/slapd-$BIG"; SMALL_DIR="$WORK/slapd-$SMALL"
ENTRIES="$(eval "$(ldapsearch_cmd "$BIG_PORT" $BIG | sed 's/>\/dev\/null//g; s/ -LLL / -LLL /')" | grep -c '^dn:')"

say "Timing (hyperfine, $WARMUP warm-up + $RUNS runs)"
hyperfine --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$OUT/hyperfine.json" \
    -n "ldapsearch -E pr=1000/noprompt" "$(ldapsearch_cmd "$BIG_PORT" $BIG)" \
    -n "rollcall directory sync (empty store)" --prepare "rm -f $BIG_DIR/store.sqlite*" "$BIN directory sync --config $BIG_DIR/controller.toml" \
    >"$OUT/hyperfine.txt" 2>&1 || { cat "$OUT/hyperfine.txt" >&2; die "hyperfine failed"; }
"$BIN" directory sync --config "$BIG_DIR/controller.toml" >/dev/null 2>&1
hyperfine --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$OUT/hyperfine-resync.json" \
    -n "rollcall directory sync (unchanged)" "$BIN directory sync --config $BIG_DIR/controller.toml" >"$OUT/hyperfine-resync.txt" 2>&1

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
rss() {  # rss CONFIGDIR: median peak RSS (KB) of a first sync into an empty store
    for _ in $(seq 1 $RSS_RUNS); do
        rm -f "$1"/store.sqlite*
        /usr/bin/time -f %M "$BIN" directory sync --config "$1/controller.toml" 2>&1 >/dev/null | tail -n1
    done | median
}
say "Peak memory (GNU time, median of $RSS_RUNS)"
RSS_BIG="$(rss "$BIG_DIR")"; RSS_SMALL="$(rss "$SMALL_DIR")"
RSS_LDAPSEARCH="$(for _ in 1 2 3; do /usr/bin/time -f %M bash -c "ldapsearch -x -LLL -H ldap://127.0.0.1:$BIG_PORT -D cn=admin,dc=school,dc=test -y $BIG_DIR/admin.secret -E pr=1000/noprompt -b ou=pupils,dc=school,dc=test '$FILTER' $ATTRS >/dev/null" 2>&1 | tail -n1; done | median)"
"$BIN" directory sync --config "$BIG_DIR/controller.toml" --format json > "$OUT/last-sync.json" 2>/dev/null

mean() { jq -r --arg n "$2" '.results[] | select(.command == $n) | .median' "$1"; }
spread() { jq -r --arg n "$2" '.results[] | select(.command == $n) | "\(.min * 1000 | round)–\(.max * 1000 | round) ms"' "$1"; }
T_LDAP="$(mean "$OUT/hyperfine.json" "ldapsearch -E pr=1000/noprompt")"
T_SYNC="$(mean "$OUT/hyperfine.json" "rollcall directory sync (empty store)")"
T_RESYNC="$(mean "$OUT/hyperfine-resync.json" "rollcall directory sync (unchanged)")"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
ms() { awk -v s="$1" 'BEGIN { printf "%.0f", s * 1000 }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
R_SYNC="$(ratio "$T_SYNC" "$T_LDAP")"; R_RESYNC="$(ratio "$T_RESYNC" "$T_LDAP")"
TARGET_TIME="$(awk -v r="$R_SYNC" 'BEGIN { print (r <= 1.5) ? "met" : "NOT met" }')"
GROWTH="$(awk -v a="$RSS_BIG" -v b="$RSS_SMALL" 'BEGIN { printf "%.2f", a / b }')"
TARGET_MEM="$(awk -v g="$GROWTH" 'BEGIN { print (g <= 1.25) ? "met" : "NOT met" }')"
STORE_MB="$(mb "$(( $(stat -c %s "$BIG_DIR/store.sqlite") / 1024 ))")"

cat > "$OUT/RESULTS-directory.md" <<EOF
## Directory sync: rollcall vs ldapsearch (50,000 accounts, slapd on loopback)

Reproduce: \`bench/directory-sync.sh\` (builds \`rollcall\` release into \`.build-release\`, raw data in \`bench/out/directory/\`).

- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); Rollcall at \`$(git -C "$ROOT" describe --always --dirty)\`; $(nproc) CPUs; slapd and ldap-utils $(dpkg-query -W -f='${Version}' slapd).
- Directory: $BIG accounts ($((BIG / 12)) staff, $((BIG - BIG / 12)) pupils) + 7 year-group posixGroups listing every pupil; $ENTRIES entries read per pass; generated and loaded with \`slapadd -q\` in ${LOAD_SECONDS%.*} s.
- Same work: both read the staff, pupil and group bases with paged results of 1,000 and the same attributes; rollcall also writes every account, its digest and every membership to its SQLite store in one transaction.

| | wall time (median of $RUNS) | range | ratio to ldapsearch | peak RSS |
|---|---|---|---|---|
| \`ldapsearch -E pr=1000/noprompt\` (3 bases) | $(ms "$T_LDAP") ms | $(spread "$OUT/hyperfine.json" "ldapsearch -E pr=1000/noprompt") | 1.00× | $(mb "$RSS_LDAPSEARCH") MB (pupil base) |
| \`rollcall directory sync\`, empty store | $(ms "$T_SYNC") ms | $(spread "$OUT/hyperfine.json" "rollcall directory sync (empty store)") | ${R_SYNC}× | $(mb "$RSS_BIG") MB |
| \`rollcall directory sync\`, unchanged directory | $(ms "$T_RESYNC") ms | $(spread "$OUT/hyperfine-resync.json" "rollcall directory sync (unchanged)") | ${R_RESYNC}× | |

- Memory against directory size: peak RSS $(mb "$RSS_SMALL") MB at $SMALL accounts, $(mb "$RSS_BIG") MB at $BIG (×$GROWTH for 5× the accounts).
- Store after the sync: $STORE_MB MB.
- Targets (issue 5): sync ≤ 1.5× ldapsearch including the store — **$TARGET_TIME** (${R_SYNC}×); memory flat in the directory size (≤ 1.25× from $SMALL to $BIG) — **$TARGET_MEM** (×$GROWTH).
EOF
# shellcheck source=bench/results-section.sh
source "$ROOT/bench/results-section.sh"
replace_section directory-sync "$OUT/RESULTS-directory.md" "$RESULTS"
cat "$OUT/RESULTS-directory.md"
