#!/bin/sh
# watchdog-test.sh TAPFILE: prove the watchdogs of ci/check.sh and
# stress/run.sh on steps and drivers that hang on purpose: each hang is a
# named failure within its limit, the runner goes on with the next step or
# driver, and every process of the hung group is gone afterwards (a child
# that ignores SIGTERM too).  Each nested run is itself bounded by timeout,
# so a runner without a working watchdog fails here instead of hanging.
set -u
tap=$1
: > "$tap"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/watchdog-test.XXXXXX")
pids=$tmp/pids
# the nested runs are not part of the outer make: a BUILD= given to it would
# reach their make through MAKEFLAGS and write their TAP into the outer results
unset MAKEFLAGS MFLAGS MAKELEVEL
# whatever a broken watchdog left running (by the pids the hangs recorded)
trap 'for p in $(cat "$pids" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
export WATCHDOG_DEMO_PIDS=$pids WATCHDOG_KILL_AFTER=1

result() { # result NAME OK-CONDITION-STATUS DETAIL...
    name=$1 status=$2
    shift 2
    if [ "$status" = 0 ]; then
        echo "ok - $name" >> "$tap"
    else
        echo "not ok - $name: $*" >> "$tap"
    fi
}

# A process counts as gone once it no longer exists or is a zombie.
alive() {
    state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$state" ] && [ "$state" != Z ]
}

# 0 when every pid the hung steps recorded is gone (within a second or two).
all_gone() {
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        left=""
        for p in $(cat "$pids" 2>/dev/null); do alive "$p" && left="$left $p"; done
        [ -z "$left" ] && return 0
        sleep 0.2
    done
    echo "still running:$left" >&2
    ps -o pid,pgid,sid,stat,args -p "$(echo $left | tr ' ' ',')" >&2
    return 1
}

# The demo steps and drivers: each hang leaves a background child in its
# group, and records both pids.  "stubborn" ignores SIGTERM (so do its
# children): only the SIGKILL after WATCHDOG_KILL_AFTER stops it.
hang='echo $$ >> "$WATCHDOG_DEMO_PIDS"; sleep 600 & echo $! >> "$WATCHDOG_DEMO_PIDS"; wait'
cat > "$tmp/demo.mk" <<EOF
watchdog-demo-ok:
	@mkdir -p \$(BUILD)/tap; echo "ok - demo" > \$(BUILD)/tap/\$@.tap
watchdog-demo-hang:
	@sh -c '$(echo "$hang" | sed 's/\$/$$/g')'
watchdog-demo-stubborn:
	@sh -c 'trap "" TERM; $(echo "$hang" | sed 's/\$/$$/g')'
EOF

# ---- ci/check.sh -----------------------------------------------------------------
start=$(date +%s)
BUILD=$tmp/build CHECK_STEP_TIMEOUT=1 MAKE="make -f $tmp/demo.mk" \
    timeout 30 ci/check.sh watchdog-demo-hang watchdog-demo-stubborn watchdog-demo-ok \
    > "$tmp/check.out" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))
[ "$rc" = 1 ]
result "check.sh fails when a step hangs (exit $rc)" $? "want exit 1 (124 = the test's own timeout hit)"
[ "$secs" -le 20 ]
result "check.sh stops two hung steps within 20 s (limit 1 s + 1 s kill-after each)" $? \
    "took ${secs} s"
grep -qx 'not ok - watchdog-demo-hang (timed out after 1 s)' "$tmp/build/tap/watchdog-demo-hang.tap"
result "check.sh names the hung step: not ok - STEP (timed out after N s)" $? \
    "$(cat "$tmp/build/tap/watchdog-demo-hang.tap" 2>/dev/null)"
grep -qx 'not ok - watchdog-demo-stubborn (timed out after 1 s)' \
    "$tmp/build/tap/watchdog-demo-stubborn.tap"
result "check.sh names a step that ignores SIGTERM (stopped by SIGKILL)" $? \
    "$(cat "$tmp/build/tap/watchdog-demo-stubborn.tap" 2>/dev/null)"
grep -qx '1 passed, 2 failed' "$tmp/check.out"
result "check.sh goes on with the next step after a hang" $? "$(tail -n 1 "$tmp/check.out")"
all_gone
result "check.sh: the hung steps' processes and their children are gone" $? "see stderr"

# ---- stress/run.sh -------------------------------------------------------------------
mkdir -p "$tmp/drivers"
printf '#!/bin/sh\necho "seed = 1"\n%s\n' "$hang" > "$tmp/drivers/hang"
printf '#!/bin/sh\ntrap "" TERM\necho "seed = 2"\n%s\n' "$hang" > "$tmp/drivers/stubborn"
printf '#!/bin/sh\necho "seed = 3"\necho "SUMMARY driver=fine ops=1 faults=- clean_errors=0 violations=0 crashes=0 seed=3"\n' \
    > "$tmp/drivers/fine"
chmod +x "$tmp/drivers/hang" "$tmp/drivers/stubborn" "$tmp/drivers/fine"
start=$(date +%s)
TMPDIR=$tmp STRESS_SECONDS=2 STRESS_WATCHDOG_MARGIN=0 STRESS_SEED= \
    timeout 30 stress/run.sh "$tmp/drivers/hang" "$tmp/drivers/stubborn" "$tmp/drivers/fine" \
    > "$tmp/stress.out" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))
[ "$rc" = 1 ]
result "run.sh fails when a driver hangs (exit $rc)" $? "want exit 1 (124 = the test's own timeout hit)"
[ "$secs" -le 20 ]
result "run.sh stops two hung drivers within 20 s (share 2 s + margin 0 + 1 s kill-after each)" $? \
    "took ${secs} s"
grep -q '^  \[1/3\] hang  *CRASH .*timed out after 2 s' "$tmp/stress.out"
result "run.sh shows a crash row naming the hung driver, timed out" $? "no such row"
grep -q '^  \[2/3\] stubborn  *CRASH .*timed out after 2 s' "$tmp/stress.out"
result "run.sh names a driver that ignores SIGTERM (stopped by SIGKILL)" $? "no such row"
grep -q '^  \[3/3\] fine  *ok ' "$tmp/stress.out" &&
    grep -q '^stress: FAIL (0 violations, 2 crashes)' "$tmp/stress.out"
result "run.sh goes on with the next driver and counts the hangs as crashes" $? "see output"
all_gone
result "run.sh: the hung drivers' processes and their children are gone" $? "see stderr"

# the inner runs' own output only when a check failed: their FAILED lines
# and summaries are the point of the test, not a failure of this run
if grep -q '^not ok' "$tap"; then
    sed 's/^/    | /' "$tmp/check.out" "$tmp/stress.out"
fi
! grep -q '^not ok' "$tap"
