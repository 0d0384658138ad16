#!/bin/sh
# Count TAP results over files; list the failures; print "N passed, N failed".
# Exit 1 if anything failed.
awk '
/^ok /          { pass++ }
/^not ok /      { fail++; failed[fail] = FILENAME ": " $0 }
END {
    for (i = 1; i <= fail; i++) print "FAILED " failed[i]
    printf "%d passed, %d failed\n", pass, fail
    exit fail > 0
}' "$@"
