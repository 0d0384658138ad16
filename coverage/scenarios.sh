#!/bin/sh
# scenarios.sh BUILD: the coverage scenarios, "name<TAB>command" per line:
# every unit-test program, the sweep once per fail point (the core's own list,
# so a new point is covered without editing this file), and each stress driver
# in its short mode.  DISKALLOC_* and the seed are fixed so the report repeats.
set -eu
b=$1
seed=${COVERAGE_SEED:-1}
t=$(printf '\t')
for test in "$b"/tests/test_*; do
    case "$test" in *.*) continue ;; esac
    [ -x "$test" ] && echo "unit-${test##*/test_}${t}$test"
done
for point in $(grep -o '"diskalloc/[a-z_][a-z_]*"' core/diskalloc.c | tr -d '"' | sort -u); do
    echo "sweep-${point#diskalloc/}${t}$b/stress/core/sweep --seed $seed --point $point"
done
for d in model threads; do
    echo "stress-$d${t}$b/stress/core/$d --seed $seed --quick"
done
for d in diskfull exhaust crash; do
    echo "stress-$d${t}$b/stress/$d --seed $seed --quick"
done
