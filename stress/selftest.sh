#!/bin/sh
# selftest.sh DIR — prove the stress drivers can fail.  The drivers in DIR are
# linked against stress/seedlike.c (not the core).  With SEEDLIKE_DEFECT unset
# every driver must pass (so a failure below is the defect's doing); then each
# of the Rust crate's defects is switched on in turn and must be reported by
# the driver(s) meant to catch it.  Prints a table defect -> driver -> caught,
# exits 1 if a defect went uncaught or the baseline failed.
# SELFTEST_SEED pins the seed (default fixed: the gate is deterministic).
set -u
dir=${1:?usage: selftest.sh DIR}
seed=${SELFTEST_SEED:-20251124}
logs=$dir/logs
mkdir -p "$logs"

# defect: the drivers that should catch it (issue 3); missing binaries are
# listed as "not built".
expect() {
    case $1 in
    none)                       echo "diskfull exhaust crash files model sweep threads powerloss" ;;
    moving_data)                echo "model sweep" ;;
    sparse_open)                echo "model sweep files" ;;
    open_leftover)              echo "model sweep" ;;
    state_before_resize)        echo "model sweep diskfull" ;;
    no_copy_on_grow)            echo "model diskfull" ;;
    no_reservation_bound)       echo "exhaust model sweep" ;;
    sparse_growth)              echo "diskfull" ;;
    abort_on_ftruncate_failure) echo "sweep" ;;
    leak_mapping_per_resize)    echo "sweep exhaust" ;;
    shrink_without_sync)        echo "crash" ;;
    fork_unlock)                echo "files" ;;
    nosync|header-first)        echo "powerloss crash" ;; # crash is listed to show it misses them
    esac
}
DEFECTS="moving_data sparse_open open_leftover
state_before_resize no_copy_on_grow no_reservation_bound sparse_growth
abort_on_ftruncate_failure leak_mapping_per_resize shrink_without_sync fork_unlock nosync header-first"

# run DEFECT DRIVER: sets rc and how (what the driver said)
run() {
    log=$logs/$1-$2.log
    if [ "$1" = none ]; then
        env -u SEEDLIKE_DEFECT "$dir/$2" --quick --seed "$seed" > "$log" 2>&1
    else
        SEEDLIKE_DEFECT=$1 "$dir/$2" --quick --seed "$seed" > "$log" 2>&1
    fi
    rc=$?
    v=$(grep -c '^VIOLATION:' "$log")
    c=$(grep -c '^CRASH:' "$log")
    if [ $rc -gt 128 ]; then how="the driver itself died (signal $((rc - 128)))"
    else how="exit $rc, $v violations, $c crashes"; fi
    first=$(grep -m1 '^VIOLATION:\|^CRASH:' "$log" | cut -c1-110)
}

printf '%-27s %-9s %-7s %s\n' defect driver caught "how (logs: $logs)"
fail=0
baseline_ok=1
for drv in $(expect none); do
    [ -x "$dir/$drv" ] || { printf '%-27s %-9s %-7s %s\n' "none (baseline)" "$drv" - "not built"; continue; }
    run none "$drv"
    case $rc in
    0) verdict=clean ;;
    77) verdict=skip ;;
    *) verdict=FAILS; baseline_ok=0; fail=1 ;;
    esac
    printf '%-27s %-9s %-7s %s\n' "none (baseline)" "$drv" "$verdict" "$how"
    [ "$verdict" = FAILS ] && printf '%39s %s\n' "" "$first"
done

uncaught=""
for d in $DEFECTS; do
    caught=0
    for drv in $(expect "$d"); do
        if [ ! -x "$dir/$drv" ]; then
            printf '%-27s %-9s %-7s %s\n' "$d" "$drv" - "not built"
            continue
        fi
        run "$d" "$drv"
        if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then yes=yes; caught=1; else yes=no; fi
        printf '%-27s %-9s %-7s %s\n' "$d" "$drv" "$yes" "$how"
        [ -n "$first" ] && printf '%39s %s\n' "" "$first"
    done
    [ $caught -eq 1 ] || { uncaught="$uncaught $d"; fail=1; }
done

[ $baseline_ok -eq 1 ] || echo "selftest: FAILED: a driver fails on seedlike without a defect (see above): its catches prove nothing"
if [ -n "$uncaught" ]; then
    echo "selftest: FAILED: uncaught:$uncaught"
else
    echo "selftest: every defect was caught"
fi
exit $fail
