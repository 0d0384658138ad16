#!/bin/sh
# Run each check step (a make target writing TAP to build/tap/<step>.tap), keep
# going past failures, and end with one line: "N passed, N failed".
set -u
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
TAP="$BUILD/tap"
rm -rf "$TAP"
mkdir -p "$TAP"
for step in "$@"; do
    printf '== %s\n' "$step"
    start=$(date +%s)
    if ! $MAKE --no-print-directory "$step"; then
        echo "not ok - $step: make target failed" >> "$TAP/$step.tap"
    fi
    [ -s "$TAP/$step.tap" ] || echo "not ok - $step: produced no results" >> "$TAP/$step.tap"
    printf '== %s: %ss\n' "$step" "$(( $(date +%s) - start ))"
done
exec ci/tap-summary.sh "$TAP"/*.tap
