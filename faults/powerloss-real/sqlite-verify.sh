#!/bin/sh
# VERIFY for sqlite.sh: integrity_check prints exactly "ok" (it prints its
# findings and still exits 0 on a damaged file: compare the text), and every
# acknowledged row is there.
want=${DA_POWERLOSS_LAST_ACK:-0}
[ -e db ] || { [ "$want" = 0 ] && exit 0; echo "db missing, $want rows acknowledged" >&2; exit 1; }
ic=$(sqlite3 db "PRAGMA integrity_check;" 2>&1)
[ "$ic" = ok ] || { echo "integrity_check: $(echo $ic | cut -c1-150)" >&2; exit 1; }
[ "$want" = 0 ] && exit 0
rows=$(sqlite3 db "SELECT count(*) FROM t;" 2>&1)
[ "$rows" -ge "$want" ] 2>/dev/null || { echo "lost rows: $rows, $want acknowledged" >&2; exit 1; }
