#!/bin/sh
# run-tap.sh TAPFILE PROGRAM [ARGS...]: run a cmocka test program with TAP
# output into TAPFILE (also shown), exit with its status.
# cmocka 1.1.5 writes a skipped test as "not ok N # SKIP name", which TAP
# readers count as a failure; it becomes "ok N - name # SKIP <reason>", the
# reason taken from the "# SKIP: ..." line the test printed (T_SKIP).
tap=$1
shift
out=$tap.raw
CMOCKA_MESSAGE_OUTPUT=TAP "$@" > "$out"
status=$?
awk '
/^# SKIP: / { reason = substr($0, 9); print; next }
/^not ok [0-9]+ # SKIP / { n = $3; sub(/^not ok [0-9]+ # SKIP /, ""); print "ok " n " - " $0 " # SKIP " reason; reason = ""; next }
{ print }' "$out" > "$tap"
rm -f "$out"
cat "$tap"
exit $status
