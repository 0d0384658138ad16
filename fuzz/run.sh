#!/bin/sh
# run.sh BIN SEEDS WORK SECONDS [SEED]: fuzz BIN for SECONDS from the committed
# seeds (read only) into WORK/corpus (new inputs stay in the build tree).
# Prints the seed and, per finding, the one-line replay command; exits 1 on a
# finding.  FUZZ_FLAGS adds libFuzzer flags (e.g. -fork=1 -ignore_crashes=1).
set -u
bin=$1 seeds=$2 work=$3 secs=${4:-60} seed=${5:-}
name=$(basename "$bin")
[ -n "$seed" ] || seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
mkdir -p "$work/corpus" "$work/artifacts"
log="$work/fuzz.log"
# the target's files live under TMPDIR: tmpfs keeps each fsync cheap
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then TMPDIR=/dev/shm; fi
# a target killed by a finding leaves its private dir: all of them go with this one
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/fuzz.XXXXXX") || exit 1
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
dict=""
[ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
start="$work/.started"
: > "$start"

echo "fuzz: $name: seed = $seed, $secs s, log $log (same seed: make fuzz FUZZ_SEED=$seed FUZZ_SECONDS=$secs)"
# -timeout: a hang is a finding; -rss/-malloc_limit: so is a huge allocation;
# -max_len: seeds are <= 12 KiB; 32 KiB holds a v2 file with several data pages
# shellcheck disable=SC2086
"$bin" -seed="$seed" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=256 -max_len=32768 -use_value_profile=1 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" $dict ${FUZZ_FLAGS:-} \
    "$work/corpus" "$seeds" > "$log" 2>&1
rc=$?

grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$log" | sed "s/^/fuzz: $name: /"
grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$log" | sed "s/^/fuzz: $name: /"
new=$(find "$work/artifacts" -type f -newer "$start")
if [ "$rc" -ne 0 ] || [ -n "$new" ]; then
    echo "fuzz: $name: FINDING (exit $rc); the target's report:"
    grep -E 'VIOLATION|ERROR: (AddressSanitizer|libFuzzer|UndefinedBehaviorSanitizer)|runtime error|SUMMARY' "$log" |
        sort | uniq -c | sed 's/^/    /'
    for f in $new; do
        same=""
        for s in "$seeds"/*; do
            if cmp -s "$s" "$f"; then same=" (the committed seed $s)"; break; fi
        done
        why=$("$bin" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 "$f" 2>&1 |
            grep -m1 -E 'VIOLATION|ERROR: (AddressSanitizer|libFuzzer)|runtime error' | sed 's/^[^:]*: //')
        echo "fuzz: $name: replay: $bin $f$same"
        echo "fuzz: $name:     ${why:-no report on replay}"
    done
    echo "fuzz: $name: keep a real defect's input as a seed: cp <file> fuzz/corpus/$name/regress-<what>"
    exit 1
fi
echo "fuzz: $name: no finding"
