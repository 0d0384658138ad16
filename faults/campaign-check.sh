#!/bin/sh
# campaign-check.sh TAPFILE SHIM CRATE OUTDIR: the campaign's own behaviour
# (issue 11), one TAP line each: unit tests of its pure parts, the disk-full
# sandbox over /var/tmp, `$` through `make campaign`, VERIFY's environment,
# grouping, exit codes, run directories, verdicts, attribution, and the
# second outside review's findings (section 8).  A few
# seconds in all: small programs, --cap 2..4, a fixed seed.
set -u
tap=$1 shim=$2 crate=$3 out=$4
MAKE=${MAKE:-make}
here=$(cd "$(dirname "$0")" && pwd)
camp="$here/campaign --shim $shim --fiu-runs 0 --timeout 10"
rm -rf "$out"
mkdir -p "$out"
log=$out/log

ok() { echo "ok - $1" >> "$tap"; }
notok() { echo "not ok - $1" >> "$tap"; sed 's/^/    /' "$log" | tail -n 15; }
# check NAME CONDITION: a TAP line from a shell condition over $log
check() { name=$1; shift; if eval "$*"; then ok "$name"; else notok "$name"; fi; }
has() { grep -q -- "$1" "$log"; }

# 1. the pure parts
(cd "$here" && python3 -m unittest -v campaignlib.test_campaignlib) > "$log" 2>&1
sed -n 's/^\(test_[a-z_]*\) .* \.\.\. ok$/ok - campaign unit: \1/p;
        s/^\(test_[a-z_]*\) .* \.\.\. \(FAIL\|ERROR\)$/not ok - campaign unit: \1/p' "$log" >> "$tap"
grep -q '^OK$' "$log" || notok "campaign unit tests (see above)"

# 2. a program that writes in the hard-coded /var/tmp: SIGBUS on a full disk
$camp --sites disk-full --cap 4 --out "$out/vartmp" -- "$crate" 256 > "$log" 2>&1
rc=$?
if has 'sandbox unavailable'; then
    echo "ok - campaign disk-full covers /var/tmp # SKIP no user namespaces" >> "$tap"
else
    check "campaign disk-full covers /var/tmp: SIGBUS crashes in the disk-full row (exit 1)" \
        '[ $rc = 1 ] && has "^CRASH x[0-9]*  \[disk-full tmpfs limit.*SIGBUS"'
    "$here/campaign" replay --repeat 2 --site disk-full --mode tmpfs --limit 4096 \
        --shim "$shim" -- "$crate" 256 > "$log" 2>&1
    check "campaign replay --repeat reports a rate" 'has "^replay: 2 runs: crash 2 (100%)"'
    input=$(mktemp /tmp/da-campaign-check-XXXXXX)
    $camp --sites disk-full --cap 2 --out "$out/visible" --cmd "cat $input && exec $crate 64" \
        > "$log" 2>&1
    rm -f "$input"
    check "campaign disk-full: files already in /tmp stay visible (overlay)" \
        'grep -q "^disk-full  tmpfs  *2  *1 " "$log" && ! has "the largest size"'
    # outside every covered directory, wherever this tree is (a clone in /tmp
    # is itself covered): /dev/shm
    if elsewhere=$(mktemp -d /dev/shm/da-campaign-outside.XXXXXX 2>/dev/null); then
        $camp --sites disk-full --cap 2 --out "$out/outside" -- "$crate" 64 "$elsewhere" \
            > "$log" 2>&1
        check "campaign warns when a program writes outside the sandboxed directories" \
            'has "! 2 of 2 runs wrote files outside the sandbox" && has "warning: disk-full tmpfs: 2 run(s) wrote files in $elsewhere"'
        rm -rf "$elsewhere"
    else
        echo "ok - campaign warns when a program writes outside the sandboxed directories # SKIP /dev/shm not writable" >> "$tap"
    fi
fi

# 3. `$` in CMD and VERIFY reaches the shell through make; VERIFY sees the exit status
$MAKE -s --no-print-directory campaign CAMPAIGN_OUT="$out/make" \
    CMD='test -d "$TMPDIR" || exit 9; exec '"$crate"' 64 "$DA_CAMPAIGN_DIR"' \
    VERIFY='case $DA_CAMPAIGN_EXIT in 0|134) ;; *) echo "exit=[$DA_CAMPAIGN_EXIT]" >&2; exit 1;; esac' \
    CAMPAIGN_FLAGS='--sites ftruncate --cap 2 --fiu-runs 0' > "$log" 2>&1
rc=$?
check "make campaign passes \$ in CMD and VERIFY to the shell unchanged" \
    'grep -qF "target:  test -d \"\$TMPDIR\" || exit 9; exec $crate 64 \"\$DA_CAMPAIGN_DIR\"" "$out/make/latest/report.txt" &&
     has "^campaign: 2 runs: crash 2"'
check "VERIFY reads \$DA_CAMPAIGN_EXIT (134 after SIGABRT): crashes, no data loss" \
    'has "^CRASH x1  \[ftruncate transient call 1 EIO\]  SIGABRT" && ! has "^DATA LOSS"'
check "make campaign prints the campaign's exit status (1: findings)" \
    '[ $rc != 0 ] && has "^make campaign: exit status 1 (findings)"'
$MAKE -s --no-print-directory campaign > "$log" 2>&1
rc=$?
check "make campaign without CMD: usage, exit status 2" '[ $rc != 0 ] && has "exit status 2"'

# 4. exit codes of the campaign itself
$camp --sites fsync --cap 1 --out "$out/codes" -- true > "$log" 2>&1
rc=$?
check "campaign exit 0: no findings" '[ $rc = 0 ]'
$camp --sites nosuchsite --out "$out/codes" -- true > "$log" 2>&1
rc=$?
check "campaign exit 2: usage error" '[ $rc = 2 ]'
$camp --sites fsync --out "$out/codes" --cmd false > "$log" 2>&1
rc=$?
check "campaign exit 2: broken unharmed run, reported in its own run directory" \
    '[ $rc = 2 ] && grep -q "^unharmed run: silent error" "$out/codes/latest/report.txt" &&
     [ $(ls -d "$out/codes"/*-1* | wc -l) = 2 ]'

# 5. grouping, cause, attribution, run directories
$camp --sites ftruncate,mmap --cap 4 --exhaustive 2 --out "$out/groups" -- "$crate" 256 \
    > "$log" 2>&1
check "campaign groups findings: one line per (site, mode, verdict, signal, cause)" \
    'has "^CRASH x3  \[ftruncate transient calls 1–3 EIO\]  SIGABRT" &&
     [ $(grep -c "^CRASH" "$log") = 6 ] && [ $(grep -c "^  replay:" "$log") = 6 ]'
check "campaign keeps the cause (the panic, not the closing note)" \
    'has "^  cause: thread .main. panicked at src/lib.rs:42:9: called .Result::unwrap()"'
check "campaign names who made the failed call (before main)" \
    'has "\[mmap transient call 1 ENOMEM\]  SIGABRT  by campaign-crate (program, before main)"'
check "campaign keeps each run: report.txt headed by command, seed, date, version" \
    'r="$out/groups/latest/report.txt"; grep -q "^command: " "$r" && grep -q "^seed: *1$" "$r" &&
     grep -q "^date: " "$r" && grep -q "^version: campaign" "$r" && grep -q "^notes: *unharmed run" "$r"'
$camp --sites mmap --cap 4 --exhaustive 2 --only-from after-main --out "$out/groups" \
    -- "$crate" 256 > "$log" 2>&1
check "campaign --only-from after-main spares the start-up's calls" \
    '! has "before main" && has "by campaign-crate (program)" && [ $(ls "$out/groups" | wc -l) = 3 ]'

# 6. verdicts: a warning the unharmed run prints too is no message; SIGXFSZ by default
$camp --sites ftruncate,fsize --cap 2 --out "$out/verdicts" \
    --cmd "echo 'warning: unknown header keyword' >&2; $crate 64 2>/dev/null || exit 1" \
    > "$log" 2>&1
check "campaign: a failure whose stderr repeats the unharmed run's is a silent error" \
    'has "^SILENT ERROR x1  \[ftruncate transient call 1 EIO\]" && ! has "^CLEAN ERROR"'
$camp --sites fsize --cap 2 --out "$out/verdicts" -- "$crate" 64 > "$log" 2>&1
check "campaign: SIGXFSZ under fsize sigxfsz is a 'default signal', not a crash" \
    'grep -q "^fsize  *sigxfsz  *2  *1  *0  *0  *0  *1 " "$log" && ! has "CRASH.*fsize sigxfsz"'

# 7. the README's worked example: numpy.memmap dies with SIGBUS on a full disk
if ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    echo "ok - campaign README example: numpy.memmap SIGBUS on a full disk # SKIP python3-numpy not installed" >> "$tap"
elif has 'sandbox unavailable'; then
    echo "ok - campaign README example: numpy.memmap SIGBUS on a full disk # SKIP no user namespaces" >> "$tap"
else
    $camp --sites disk-full --cap 4 --out "$out/numpy" -- /usr/bin/python3 -c \
        'import numpy as np; a = np.memmap("data.f64", dtype="float64", mode="w+", shape=(1 << 17,)); a[:] = np.arange(1 << 17); a.flush()' \
        > "$log" 2>&1
    check "campaign README example: numpy.memmap SIGBUS on a full disk" \
        'has "^CRASH x[0-9]*  \[disk-full tmpfs limit.*SIGBUS" && grep -q "^disk-full  tmpfs  *4  *[1-9]" "$log"'
fi
# 8. an outside user's findings (second review of the campaign)
ns=yes; "$here/sandbox.sh" --size 1m -- true 2>/dev/null || ns=no
rm -rf "$out/nosuch"
$camp --sites disk-full --cap 2 --out "$out/sbdir" --sandbox-dir "$out/nosuch/dir" \
    -- "$crate" 64 > "$log" 2>&1
rc=$?
check "campaign refuses a --sandbox-dir that does not exist (exit 2), never creates it" \
    '[ $rc = 2 ] && has "sandbox-dir.*does not exist" && [ ! -e "$out/nosuch" ]'
if [ $ns = yes ]; then
    "$here/sandbox.sh" --size 1m --cover "$out/nosuch/dir" -- true > "$log" 2>&1
    rc=$?
    check "sandbox.sh refuses to cover a missing directory (exit 2), never creates it" \
        '[ $rc = 2 ] && [ ! -e "$out/nosuch" ]'
fi
rm -rf "$out/nosuch"
$camp --sites fsize --cap 2 --fail-on default-signal --out "$out/failon" -- "$crate" 64 \
    > "$log" 2>&1
rc=$?
line=$(sed -n '/^DEFAULT SIGNAL/,/^  replay: /s/^  replay: //p' "$log" | head -n 1)
sh -c "$line" > "$out/failon.log" 2>&1
rrc=$?
check "campaign replay keeps --fail-on: a finding's replay exits 1 as the campaign did" \
    '[ $rc = 1 ] && [ -n "$line" ] && [ $rrc = 1 ] && case $line in *--fail-on*) true;; *) false;; esac'
$camp --sites as,fallocate --cap 4 --out "$out/as" --cmd true > "$log" 2>&1
check "campaign says why a site got no runs (as below the loader's floor, no calls)" \
    'has "^campaign: as: no runs: " && has "^campaign: fallocate: no runs: "'
$camp --sites ftruncate --cap 2 --fiu-runs 2 --strace --only-from program --out "$out/only" \
    -- "$crate" 64 > "$log" 2>&1
check "campaign --only-from: no fiu or strace runs (they cannot attribute), and says so" \
    '! grep -q "^ftruncate  *\(fiu\|strace\)" "$log" && has "^campaign: fiu: no runs: --only-from" &&
     has "^campaign: strace: no runs: --only-from" && grep -q "^ftruncate  *transient" "$log"'
"$here/campaign" replay --site ftruncate --mode fiu --n 1 --prob 0.5 --only-from program \
    --shim "$shim" -- "$crate" 64 > "$log" 2>&1
rc=$?
check "campaign replay refuses --only-from with a fiu or strace mode (exit 2)" \
    '[ $rc = 2 ] && has "only-from"'
if [ $ns = yes ]; then
    $camp --sites disk-full --cap 2 --out "$out/redirect" \
        --cmd 'head -c 1048576 /dev/zero > big' > "$log" 2>&1
    check "campaign disk-full sizes count files written through shell redirection" \
        'has "peak on disk 1 MiB" && ! has "the largest size" && grep -q "^disk-full  tmpfs  *2  *1 " "$log"'
fi
$camp --sites ftruncate --cap 1 --out "$out/bigverify" --verify \
    'test "$DA_CAMPAIGN_EXIT" = 0 && exit 0; echo "verify: record 7 is corrupt"; seq 1 5000; exit 1' \
    -- "$crate" 64 > "$log" 2>&1
check "campaign: a VERIFY that prints a lot still gets its cause line, whole" \
    'has "^  cause: verify: record 7 is corrupt$"'
$camp --sites fsync --cap 1 --seed random --out "$out/seed" -- true > "$log" 2>&1
seed=$(sed -n 's/^campaign: seed = \([0-9]*\).*/\1/p' "$log")
check "campaign --seed random: report.txt's command records the seed it drew" \
    'grep -q "^command: .* --seed $seed " "$out/seed/latest/report.txt" && grep -q "^seed: *$seed" "$out/seed/latest/report.txt"'
$camp --sites fsync --out "$out/noverify" --cmd false > "$log" 2>&1
check "campaign: a broken unharmed run without VERIFY prints no VERIFY sections" \
    '! grep -q "VERIFY" "$out/noverify/latest/report.txt"'
exit 0
