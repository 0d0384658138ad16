#!/bin/sh
# check.sh TAPFILE BIN SEEDS: run BIN once on each seed file (no mutation),
# one TAP line per seed; a failing seed prints the target's report and the
# replay command.
set -u
tap=$1 bin=$2 seeds=$3
name=$(basename "$bin")
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then TMPDIR=/dev/shm; fi
# a target killed by a finding leaves its private dir: all of them go with this one
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/fuzz.XXXXXX") || exit 1
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
# a failing seed's stack trace is for its replay: symbolizing each one triples the step's time
export ASAN_OPTIONS="${ASAN_OPTIONS:-symbolize=0}"
log=$(mktemp)
for f in "$seeds"/*; do
    [ -f "$f" ] || continue
    seed=$(basename "$f")
    if timeout -s KILL 60 "$bin" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 "$f" > "$log" 2>&1; then
        echo "ok - $name/$seed" >> "$tap"
    else
        why=$(grep -m1 -E 'VIOLATION|ERROR:|runtime error' "$log" | sed 's/^[^:]*: //')
        echo "not ok - $name/$seed: ${why:-exit status $?}" >> "$tap"
        echo "$name/$seed: ${why:-failed}"
        echo "    replay: $bin $f"
    fi
done
rm -f "$log"
