#!/bin/sh
# csv-check.sh FILE [WORKLOADS]: the bench's CSV is well formed — the expected header,
# 17 fields per row, numbers where numbers belong, a note on every row that
# was not measured, and every workload present (the default ones, plus the
# space-separated WORKLOADS, e.g. "scan rcold" for a run with --big).
set -eu
file=$1
extra=${2:-}
header='workload,size_bytes,contender,runs,median_s,min_s,max_s,elements,ns_per_elem,gb_per_s,minflt_per_gib,majflt_per_gib,peak_rss_mib,peak_dirty_mib,peak_cache_mib,da_speedup,note'
[ "$(head -1 "$file")" = "$header" ] || { echo "csv-check: bad header in $file"; exit 1; }
awk -F, -v want="push extend read rread rupdate grow shrink close sync openclose $extra" '
function num(x) { return x ~ /^[0-9]+(\.[0-9]+)?$/ }
NR == 1 { next }
NF != 17 { printf "csv-check: line %d has %d fields\n", NR, NF; bad = 1; next }
!num($2) || !num($4) || !num($8) { printf "csv-check: line %d: bad size/runs/elements\n", NR; bad = 1 }
$4 > 0 {
    for (i = 5; i <= 15; i++)
        if (!num($i)) { printf "csv-check: line %d field %d not a number: %s\n", NR, i, $i; bad = 1 }
    if ($16 != "" && !num($16)) { printf "csv-check: line %d: bad speedup %s\n", NR, $16; bad = 1 }
    if ($6 > $5 || $5 > $7) { printf "csv-check: line %d: min <= median <= max fails\n", NR; bad = 1 }
    seen[$1] = 1
}
$4 == 0 && $17 == "" { printf "csv-check: line %d: unmeasured row without a note\n", NR; bad = 1 }
END {
    n = split(want, w, " ")
    for (i = 1; i <= n; i++) if (!(w[i] in seen)) { printf "csv-check: no %s rows\n", w[i]; bad = 1 }
    if (NR < 2) { print "csv-check: no rows"; bad = 1 }
    exit bad
}' "$file"
echo "csv-check: $file well formed ($(($(wc -l < "$file") - 1)) rows)"
