#!/bin/sh
# lmdb.sh — a target for faults/powerloss: mdb_load (lmdb-utils) loads three
# batches of 200 keys into one LMDB file (-n), appending the key count to
# $DA_POWERLOSS_ACK after each batch.  The input is written outside the run
# directory, so that only the database is recorded.
set -e
in="$DA_POWERLOSS_DIR/../in.txt"
for b in 1 2 3; do
    { printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n'
      i=0; while [ $i -lt 200 ]; do printf ' k%d-%04d\n v%0200d\n' $b $i $i; i=$((i + 1)); done
      printf 'DATA=END\n'; } > "$in"
    mdb_load -n -f "$in" data.mdb
    echo $((b * 200)) >> "$DA_POWERLOSS_ACK"
done
