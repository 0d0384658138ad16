#!/bin/sh
# scenarios.sh BUILD: the coverage scenarios, "name<TAB>command" per line:
# every unit-test program, the sweep once per fail point (the core's own list,
# so a new point is covered without editing this file), and each stress driver
# built (coverage.mk builds all of `make stress`) in its short mode.
# DISKALLOC_* and the seed are fixed so the report repeats.
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
# every driver coverage.mk built (all of `make stress`), in its short mode
for d in "$b"/stress/core/* "$b"/stress/*; do
    name=${d##*/}
    case "$name" in sweep|*.*) continue ;; esac
    if [ -f "$d" ] && [ -x "$d" ]; then echo "stress-$name${t}$d --seed $seed --quick"; fi
done
