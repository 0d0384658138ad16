#!/bin/sh
# The whole gate, in order. Each step prints its name and time; the run ends
# with a table of steps and results and fails if any step failed.
# CI_STRESS_SECONDS sets the short stress run (default 20).
set -u
cd "$(dirname "$0")/.."
MAKE="make --no-print-directory"
results=""
failed=0

step() {
    name=$1
    shift
    printf '\n=== %s: %s\n' "$name" "$*"
    start=$(date +%s)
    if "$@"; then status=ok; else status=FAILED; failed=1; fi
    secs=$(( $(date +%s) - start ))
    printf '=== %s: %s in %ss\n' "$name" "$status" "$secs"
    results="$results$(printf '%-14s %-7s %5ss  %s' "$name" "$status" "$secs" "$*")
"
}

step deps       ci/deps.sh
step build-gcc  $MAKE BUILD=build/ci-gcc CC=gcc WERROR=-Werror all
step build-clang $MAKE BUILD=build/ci-clang CC=clang WERROR=-Werror all
step check      $MAKE check WERROR=-Werror
step valgrind   $MAKE valgrind
step asan       $MAKE asan
step tsan       $MAKE stress-tsan
step vendor     ci/vendor-check.sh
step symbols    sh -c "$MAKE build/core/diskalloc.o && ci/symbols.sh build/core/diskalloc.o"
step install    ci/install-check.sh
step selftest   $MAKE stress-selftest
step stress     $MAKE stress STRESS_SECONDS="${CI_STRESS_SECONDS:-20}"
step coverage   $MAKE coverage
step fuzz       $MAKE fuzz FUZZ_SECONDS=60

printf '\n%-14s %-7s %6s  %s\n' step result time command
printf '%s' "$results"
[ $failed -eq 0 ] && echo "ci: all steps passed" || echo "ci: FAILED"
exit $failed
