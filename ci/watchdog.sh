#!/bin/sh
# watchdog.sh LIMIT CMD...: run CMD under coreutils timeout, in a process
# group of its own.  After LIMIT seconds the whole group gets SIGTERM, and
# WATCHDOG_KILL_AFTER seconds later (default 10) SIGKILL, so a hang anywhere
# in CMD's processes ends within LIMIT + WATCHDOG_KILL_AFTER seconds.
# LIMIT 0 means no limit.
# Exit status: CMD's, or 124 when the watchdog stopped it (by either signal).
# INT/TERM/HUP sent to this script are passed on to the group: it is not the
# terminal's foreground group, so Ctrl-C alone would not reach it.
# A process that leaves the group (setsid, setpgid, a nested timeout) is not
# killed with it; a nested watchdog bounds its own group.
# Used by ci/check.sh (each step) and stress/run.sh (each driver).
set -u
limit=$1
shift
kill_after=${WATCHDOG_KILL_AFTER:-10}
start=$(date +%s)
timeout -k "$kill_after" "$limit" "$@" &
pid=$!
stopping=
trap 'stopping=1; kill -TERM "$pid" 2>/dev/null' INT TERM HUP
# a trapped signal interrupts wait: wait again until timeout itself is gone
while :; do
    wait "$pid"
    rc=$?
    kill -0 "$pid" 2>/dev/null || break
done
[ -z "$stopping" ] || exit "$rc"
[ "$rc" = 124 ] && exit 124
# SIGKILL to the group kills timeout too: its status is then 128 + 9
if [ "$rc" = 137 ] && [ "$limit" != 0 ] && [ $(( $(date +%s) - start )) -ge "$limit" ]; then
    exit 124
fi
exit "$rc"
