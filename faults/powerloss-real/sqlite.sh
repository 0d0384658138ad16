#!/bin/sh
# sqlite.sh JOURNAL SYNC — a target for faults/powerloss: the sqlite3 shell,
# PRAGMA mmap_size on, creates table t and commits 5 transactions of 20 rows
# with PRAGMA journal_mode=JOURNAL (delete, wal) and synchronous=SYNC (full,
# extra), appending the row count to $DA_POWERLOSS_ACK after each commit.
set -e
sqlite3 db "PRAGMA journal_mode=$1; PRAGMA mmap_size=1048576; CREATE TABLE t(i INTEGER, v TEXT);" > /dev/null
for i in 1 2 3 4 5; do
    sqlite3 db "PRAGMA mmap_size=1048576; PRAGMA synchronous=$2; BEGIN;
        WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20)
        INSERT INTO t SELECT $i, hex(randomblob(100)) FROM c; COMMIT;"
    echo $((i * 20)) >> "$DA_POWERLOSS_ACK"
done
