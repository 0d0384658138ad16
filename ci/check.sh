#!/bin/sh
# Run each check step (a make target writing TAP to build/tap/<step>.tap), keep
# going past failures, and end with one line: "N passed, N failed".
# Each step runs under ci/watchdog.sh: after CHECK_STEP_TIMEOUT seconds
# (default 300; 0 = none) its process group is killed and the step is
# "not ok - STEP (timed out after N s)".
set -u
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
limit=${CHECK_STEP_TIMEOUT:-300}
TAP="$BUILD/tap"
rm -rf "$TAP"
mkdir -p "$TAP"
for step in "$@"; do
    printf '== %s\n' "$step"
    start=$(date +%s)
    ci/watchdog.sh "$limit" $MAKE --no-print-directory "$step"
    rc=$?
    if [ "$rc" = 124 ]; then
        echo "not ok - $step (timed out after $limit s)" >> "$TAP/$step.tap"
        printf '== %s: TIMED OUT after %s s, its process group killed (CHECK_STEP_TIMEOUT=%s)\n' \
            "$step" "$limit" "$limit"
    elif [ "$rc" != 0 ]; then
        echo "not ok - $step: make target failed" >> "$TAP/$step.tap"
    fi
    [ -s "$TAP/$step.tap" ] || echo "not ok - $step: produced no results" >> "$TAP/$step.tap"
    printf '== %s: %ss\n' "$step" "$(( $(date +%s) - start ))"
done
exec ci/tap-summary.sh "$TAP"/*.tap
