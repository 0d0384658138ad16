#!/bin/sh
# VERIFY for lmdb.sh: the file opens (mdb_stat) and every acknowledged key is
# there (mdb_dump); before the first acknowledgement a missing or empty file
# is fine, any other file must open.
want=${DA_POWERLOSS_LAST_ACK:-0}
if [ "$want" = 0 ] && [ ! -s data.mdb ]; then exit 0; fi
[ -e data.mdb ] || { echo "data.mdb missing, $want keys acknowledged" >&2; exit 1; }
err=$(mdb_stat -n data.mdb 2>&1 >/dev/null) || { echo "mdb_stat: $err" >&2; exit 1; }
n=$(mdb_dump -n -p data.mdb | grep -c '^ k')
[ "$n" -ge "$want" ] || { echo "lost keys: $n, $want acknowledged" >&2; exit 1; }
