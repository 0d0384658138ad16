#!/bin/sh
# coverage.sh SCENARIOS_FILE: run each scenario ("name<TAB>command" per line)
# against the --coverage build of the core, capture one lcov tracefile per
# scenario (so the report can say which scenario reached which error path),
# merge them, write coverage/html with genhtml, and run the gate.
set -u
list=$1
BUILD=${BUILD:-build/cov}
out=coverage
rc="--rc lcov_branch_coverage=1"
rm -rf "$out/scenarios" "$out/html"
mkdir -p "$out/scenarios" "$out/html"
# geninfo 1.16 on Debian prints perl redefinition warnings: not ours, hide them
quiet() { "$@" 2>&1 | grep -v -e 'Subroutine .* redefined' -e '^$' ; }

tab=$(printf '\t')
failed=""
while IFS="$tab" read -r name cmd; do
    case "$name" in ''|'#'*) continue ;; esac
    find "$BUILD" -name '*.gcda' -delete
    printf 'coverage: %-40s ' "$name"
    start=$(date +%s)
    if sh -c "$cmd" > "$out/scenarios/$name.log" 2>&1; then st=ok; else st="exit $?"; fi
    # a scenario that failed proves nothing by what it reached (77: skipped, as in make check)
    case "$st" in ok|"exit 77") ;; *) failed="$failed $name" ;; esac
    if ls "$BUILD"/core/*.gcda >/dev/null 2>&1; then
        quiet lcov -q --capture $rc --directory "$BUILD/core" --output-file "$out/scenarios/$name.info"
    fi
    echo "$st ($(( $(date +%s) - start ))s)"
done < "$list"

set -- "$out"/scenarios/*.info
[ -e "$1" ] || { echo "coverage: no scenario produced data"; exit 1; }
args=""
for f in "$@"; do args="$args -a $f"; done
quiet lcov -q $rc $args --output-file "$out/core.info"
quiet genhtml -q --branch-coverage --legend --title "diskalloc core" \
    --output-directory "$out/html" "$out/core.info"
python3 coverage/report.py core/diskalloc.c "$@" --out "$out/html/error-paths.txt"
status=$?
if [ -n "$failed" ]; then
    echo "GATE FAILED: scenarios failed, so what they reached proves nothing (logs in $out/scenarios/):$failed"
    status=1
fi
echo "coverage: report in $out/html/index.html, error paths in $out/html/error-paths.txt"
exit $status
