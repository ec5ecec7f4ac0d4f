# Sourced by the bench scripts: replace_section NAME FILE puts FILE's text into bench/RESULTS.md between
# "<!-- begin NAME -->" and "<!-- end NAME -->" (appended when absent), leaving the other benchmarks' sections alone.
replace_section() {
    local name="$1" body="$2" results="$3"
    local begin="<!-- begin $name -->" end="<!-- end $name -->"
    touch "$results"
    awk -v begin="$begin" -v end="$end" -v body="$body" '
        BEGIN { while ((getline line < body) > 0) text = text line "\n" }
        $0 == begin { print; printf "%s", text; skipping = 1; found = 1; next }
        $0 == end { skipping = 0 }
        !skipping { print }
        END { if (!found) { print ""; print begin; printf "%s", text; print end } }
    ' "$results" > "$results.new"
    mv "$results.new" "$results"
}
