#!/bin/sh
# Count TAP results over files; list skips (counted as passed, with their
# reasons) and failures; print "N passed, N failed".
# Exit 1 if anything failed.
awk '
/^ok .*# SKIP/  { skip++; skipped[skip] = FILENAME ": " $0 }
/^ok /          { pass++ }
/^not ok /      { fail++; failed[fail] = FILENAME ": " $0 }
END {
    for (i = 1; i <= skip; i++) print "SKIPPED " skipped[i]
    if (skip) printf "%d of the passed were skipped (reasons above)\n", skip
    for (i = 1; i <= fail; i++) print "FAILED " failed[i]
    printf "%d passed, %d failed\n", pass, fail
    exit fail > 0
}' "$@"
