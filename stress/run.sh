#!/bin/sh
# stress/run.sh LIST|DRIVER...: run stress drivers one after the other within a
# time budget and print a table of their SUMMARY lines (stress/common.h).
#   LIST     a file naming one driver binary per line ($(BUILD)/stress/<impl>/drivers)
#   STRESS_SECONDS  the whole budget, shared equally (default 60; at least 2 s each)
#   STRESS_SEED     passed to every driver (default: each picks and prints its own)
#   STRESS_WATCHDOG_MARGIN  seconds a driver may run past its share (default 60):
#                   then ci/watchdog.sh kills its process group; STRESS_WATCHDOG
#                   sets the whole per-driver limit instead (0 = none)
# A driver killed by a signal, stopped by the watchdog, or ending without a
# SUMMARY line counts as a crash; exit code 77 means "environment not
# available here" and is shown as skipped.  Exit 0 only when the drivers
# report no violation and no crash.
set -u
budget=${STRESS_SECONDS:-60}
seed=${STRESS_SEED:-}
margin=${STRESS_WATCHDOG_MARGIN:-60}
watchdog_sh=$(dirname "$0")/../ci/watchdog.sh

if [ $# -eq 1 ] && [ -f "$1" ] && [ ! -x "$1" ]; then
    logdir=$(dirname "$1")/logs
    set -- $(cat "$1")
else
    logdir=${TMPDIR:-/tmp}/stress-logs.$$
fi
[ $# -gt 0 ] || { echo "run.sh: no drivers" >&2; exit 2; }
mkdir -p "$logdir"
n=$#
share=$(( budget / n ))
[ "$share" -ge 2 ] || share=2
watchdog=${STRESS_WATCHDOG:-$(( share + margin ))}
tty=0; [ -t 1 ] && tty=1

printf 'stress: %d drivers, %ss each (STRESS_SECONDS=%s)%s; logs in %s\n' \
    "$n" "$share" "$budget" "${seed:+, STRESS_SEED=$seed}" "$logdir"

rows=""; tot_v=0; tot_c=0; i=0; pid=
# the driver's group is not the terminal's: pass Ctrl-C on to it
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; exit 130' INT TERM HUP
for drv in "$@"; do
    i=$((i + 1))
    name=$(basename "$drv")
    log="$logdir/$name.log"
    start=$(date +%s)
    if [ -n "$seed" ]; then
        "$watchdog_sh" "$watchdog" "$drv" --seconds "$share" --seed "$seed" > "$log" 2>&1 &
    else
        "$watchdog_sh" "$watchdog" "$drv" --seconds "$share" > "$log" 2>&1 &
    fi
    pid=$!
    last=0
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        el=$(( $(date +%s) - start ))
        if [ "$tty" = 1 ]; then
            printf '\r  [%d/%d] %-10s %4ss / %ss ' "$i" "$n" "$name" "$el" "$share"
        elif [ $(( el - last )) -ge 10 ]; then
            printf '  [%d/%d] %s: %ss / %ss\n' "$i" "$n" "$name" "$el" "$share"
            last=$el
        fi
    done
    wait "$pid"; rc=$?; pid=
    timed_out=""
    if [ "$rc" = 124 ]; then
        timed_out="timed out after ${watchdog} s (watchdog; its share is ${share} s), process group killed"
        echo "WATCHDOG: $name $timed_out" >> "$log"
    fi
    el=$(( $(date +%s) - start ))
    [ "$tty" = 1 ] && printf '\r%60s\r' ''
    sum=$(grep '^SUMMARY ' "$log" | tail -n 1)
    field() { printf '%s\n' "$sum" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
    ops=$(field ops); faults=$(field faults); clean=$(field clean_errors)
    viol=$(field violations); crash=$(field crashes); dseed=$(field seed)
    note=""
    if [ "$rc" = 77 ]; then
        note="skipped: $(grep -m1 -i 'skip\|sandbox\|not available' "$log" || echo 'environment not available')"
        viol=${viol:-0}; crash=${crash:-0}
    elif [ -z "$sum" ]; then
        crash=1; viol=0
        if [ -n "$timed_out" ]; then note=$timed_out
        elif [ "$rc" -gt 128 ]; then note="killed by signal $((rc - 128))"
        else note="exit $rc without a SUMMARY line"; fi
    elif [ -n "$timed_out" ]; then
        crash=$((crash + 1)); note="$timed_out after its SUMMARY"
    elif [ "$rc" -gt 128 ]; then
        crash=$((crash + 1)); note="killed by signal $((rc - 128)) after its SUMMARY"
    elif [ "$rc" != 0 ] && [ "$viol" = 0 ] && [ "$crash" = 0 ]; then
        crash=1; note="exit $rc after a clean SUMMARY (sanitizer report?)"
    fi
    [ -n "$dseed" ] || dseed=$(sed -n 's/^seed = //p' "$log" | head -n 1)
    tot_v=$((tot_v + ${viol:-0})); tot_c=$((tot_c + ${crash:-0}))
    status=ok
    [ "${viol:-0}" != 0 ] && status=VIOLATIONS
    [ "${crash:-0}" != 0 ] && status=CRASH
    [ "$rc" = 77 ] && status=skipped
    printf '  [%d/%d] %-10s %-10s %4ss  %s\n' "$i" "$n" "$name" "$status" "$el" "$note"
    if [ "$status" = VIOLATIONS ] || [ "$status" = CRASH ]; then
        grep -m 10 -A1 '^VIOLATION\|^CRASH' "$log" | sed 's/^/      /'
        [ -z "$sum" ] && ! grep -q '^CRASH' "$log" && tail -n 5 "$log" | sed 's/^/      | /'
        echo "      full output: $log"
    fi
    rows="$rows$name|${ops:--}|${clean:--}|${viol:-0}|${crash:-0}|${dseed:--}|${faults:--}
"
done

echo
printf '%-10s %10s %10s %10s %8s %22s  %s\n' driver ops clean_err violations crashes seed "faults injected (point:count)"
printf '%s' "$rows" | while IFS='|' read -r d o c v k s f; do
    printf '%-10s %10s %10s %10s %8s %22s  %s\n' "$d" "$o" "$c" "$v" "$k" "$s" "$f"
done
echo
if [ "$tot_v" = 0 ] && [ "$tot_c" = 0 ]; then
    echo "stress: PASS (0 violations, 0 crashes)"
    exit 0
fi
echo "stress: FAIL ($tot_v violations, $tot_c crashes); each VIOLATION above has its replay command"
exit 1
