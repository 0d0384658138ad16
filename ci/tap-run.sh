#!/bin/sh
# tap-run.sh FILE NAME CMD...: run CMD, append one TAP line for it to FILE.
# For check steps that are a single program with an exit code.
file=$1 name=$2
shift 2
if "$@"; then
    echo "ok - $name" >> "$file"
else
    echo "not ok - $name (exit $?)" >> "$file"
fi
