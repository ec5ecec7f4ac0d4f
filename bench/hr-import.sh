#!/usr/bin/env bash
# HR import of generated staff exports (5,000, 20,000 and 40,000 rows; Bromcom-style columns, accented Welsh and
# Irish names, quoted commas, UK dates, 5% with a leaving date) by `rollcall hr import`, release build:
#   first import   into an empty store: every row is a joiner (the heaviest case: every person and event written)
#   re-import      of the same file into a store that has it: every row compared, nothing changes (the daily case)
# Measures wall time and peak RSS (GNU time) over 5 runs each, median. The floor for context: the sqlite3 shell's
# own `.import --csv` of the same file into an empty table (no checks, no comparison, no history).
# Target (issue 6): 20,000 rows in under 1 s, memory flat in file size.
#
# Usage: bench/hr-import.sh        (raw data in bench/out/hr-import/, summary into bench/RESULTS.md)
set -euo pipefail
readonly RUNS=5 SIZES="5000 20000 40000"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT OUT="$ROOT/bench/out/hr-import" RESULTS="$ROOT/bench/RESULTS.md"
export PATH="/opt/swift/usr/bin:$PATH"
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'hr-import.sh: error: %s\n' "$*" >&2; exit 1; }
command -v sqlite3 >/dev/null && [ -x /usr/bin/time ] || die "needs sqlite3 and GNU time (apt-get install sqlite3 time)"
mkdir -p "$OUT"
WORK="$(mktemp -d /tmp/rollcall-hr-bench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

say "Building rollcall (release, --scratch-path .build-release); log: $OUT/build.log"
(cd "$ROOT" && swift build -c release --product rollcall --scratch-path .build-release) >"$OUT/build.log" 2>&1 \
    || { tail -n 30 "$OUT/build.log" >&2; die "swift build failed"; }
BIN="$(cd "$ROOT" && swift build -c release --scratch-path .build-release --show-bin-path)/rollcall"

for size in $SIZES; do
    python3 - "$size" "$WORK/staff-$size.csv" <<'PYEOF'
import random, sys
size, path = int(sys.argv[1]), sys.argv[2]
random.seed(size)
first = ["Alys", "Bethan", "Cai", "Dewi", "Eleri", "Ffion", "Gethin", "Huw", "Siân", "Llŷr", "Pádraig", "Aoife", "Ciarán", "Máire", "Seán", "Zoë"]
last = ["Jones", "Davies", "O'Brien", "Ó Súilleabháin", "ap Siôn", "Ní Bhriain", "MacCarthy", "Llewellyn", "Evans", "Kelly"]
roles = ["Teacher", "Teaching Assistant", "Cover Supervisor", '"Teacher of English, Head of Year 9"', "SENCo"]
with open(path, "w", encoding="utf-8", newline="") as out:
    out.write("Payroll Number,First Name,Last Name,Work Email,Job Title,Start Date,End Date\r\n")
    for i in range(size):
        f, l = random.choice(first), random.choice(last)
        q = '"%s"' % l.replace('"', '""') if "," in l else l
        end = "31/08/2026" if random.random() < 0.05 else ""
        out.write("P%06d,%s,%s,p%06d@school.example,%s,%02d/%02d/20%02d,%s\r\n" % (
            i, f, q, i, random.choice(roles), random.randint(1, 28), random.randint(1, 12), random.randint(0, 25), end))
PYEOF
done

measure() {  # measure NAME SETUP COMMAND...: 5 runs of COMMAND after SETUP each; prints "median_s median_kb"
    local name="$1" setup="$2"; shift 2
    : > "$OUT/$name.txt"
    for _ in $(seq "$RUNS"); do
        eval "$setup"
        /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" > "$WORK/stdout" 2> "$WORK/stderr" || { cat "$WORK/stderr" >&2; die "$name failed"; }
        cat "$WORK/time" >> "$OUT/$name.txt"
    done
    local middle=$(( (RUNS + 1) / 2 ))
    echo "$(sort -n -k1 "$OUT/$name.txt" | sed -n "${middle}p" | cut -d' ' -f1) $(sort -n -k2 "$OUT/$name.txt" | sed -n "${middle}p" | cut -d' ' -f2)"
}

printf '[store]\npath = "%s/store.sqlite"\n[hr]\nmax_leavers_percent = 100\n' "$WORK" > "$WORK/controller.toml"
ROWS=""
for size in $SIZES; do
    file="$WORK/staff-$size.csv"
    say "$size rows: first import, re-import, sqlite3 .import"
    read -r first_s first_kb < <(measure "first-$size" 'rm -f "$WORK"/store.sqlite*' "$BIN" hr import "$file" --kind staff --preset bromcom --config "$WORK/controller.toml")
    rm -f "$WORK"/store.sqlite*; "$BIN" hr import "$file" --kind staff --preset bromcom --config "$WORK/controller.toml" > /dev/null
    cp "$WORK/store.sqlite" "$WORK/loaded.sqlite"
    read -r again_s again_kb < <(measure "again-$size" 'cp "$WORK/loaded.sqlite" "$WORK/store.sqlite"; rm -f "$WORK"/store.sqlite-wal "$WORK"/store.sqlite-shm' "$BIN" hr import "$file" --kind staff --preset bromcom --config "$WORK/controller.toml")
    read -r floor_s floor_kb < <(measure "sqlite3-$size" 'rm -f "$WORK/floor.sqlite"' sqlite3 "$WORK/floor.sqlite" ".import --csv $file staff")
    bytes=$(stat -c %s "$file")
    ROWS+="| $size | $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }') | $first_s | $(awk -v k="$first_kb" 'BEGIN { printf "%.1f", k / 1024 }') | $again_s | $(awk -v k="$again_kb" 'BEGIN { printf "%.1f", k / 1024 }') | $floor_s | $(awk -v k="$floor_kb" 'BEGIN { printf "%.1f", k / 1024 }') | $(awk -v a="$first_s" -v b="$floor_s" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }') |"$'\n'
done

COMMIT="$(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet -- Sources Package.swift || echo -dirty)"
cat > "$OUT/section.md" <<SECTION
## HR import benchmark: \`rollcall hr import\` of generated staff exports

Reproduce: \`bench/hr-import.sh\` (builds \`rollcall\` release into \`.build-release\`, raw data in \`bench/out/hr-import/\`).
$(date -u '+%Y-%m-%d %H:%M UTC'); Rollcall at \`$COMMIT\`; $(nproc) vCPUs; median of $RUNS runs; peak RSS from GNU time.
Target (issue 6): 20,000 rows in under 1 s, memory flat in file size. No peer tool imports an MIS export into a
people model, so the floor is SQLite's own CSV import of the same file (no checks, no comparison, no history).

| rows | file (MB) | first import (s) | peak RSS (MB) | re-import, unchanged (s) | peak RSS (MB) | sqlite3 .import (s) | peak RSS (MB) | first import / sqlite3 |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
$ROWS
SECTION
# shellcheck source=bench/results-section.sh
source "$ROOT/bench/results-section.sh"
replace_section hr-import "$OUT/section.md" "$RESULTS"
cat "$OUT/section.md"
