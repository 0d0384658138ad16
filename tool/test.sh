#!/bin/sh
# tool/test.sh TOOL MKVEC PERSISTENT: the diskalloc tool on real, damaged,
# sparse, locked and odd files; TAP on stdout (one line per case, diagnostics
# as # comments).  MKVEC makes vector files (tool/mkvec.c), PERSISTENT is the
# README's persistent example.  Exit 1 if any case failed.
set -u
tool=$(realpath "$1") mkvec=$(realpath "$2") persistent=$(realpath "$3")
root=$(cd "$(dirname "$0")/.." && pwd)
[ -n "${TOOL_NOFIEMAP:-}" ] && TOOL_NOFIEMAP=$(realpath "$TOOL_NOFIEMAP")
dir=$(mktemp -d)
holder=""
trap '[ -n "$holder" ] && kill "$holder" 2>/dev/null; rm -rf "$dir"' EXIT
cd "$dir" || exit 1
failed=0

# t NAME SHELL-SNIPPET: one TAP line; on failure the snippet's output as comments.
t() {
    if out=$(sh -c "$2" 2>&1); then
        echo "ok - $1"
    else
        echo "not ok - $1"
        printf '%s\n' "$out" | sed 's/^/#   /'
        failed=1
    fi
}
export tool mkvec persistent dir

# The README's persistent example, run three times: three entries 0 1 2.
for _ in 1 2 3; do "$persistent" counts.davec > /dev/null || exit 1; done
# Shell functions for the snippets: sha FILE; json FILE EXPR (a Python
# expression over i, the parsed `info --json`).
helpers='sha() { sha256sum "$1" | cut -d" " -f1; }
json() { "$tool" info --json "$1" | python3 -c "import json, sys; i = json.load(sys.stdin); print($2)"; }
'

# ---- command line --------------------------------------------------------
t "help: --help and each command's --help exit 0 and name every command" '
    for c in "" info check dump allocate; do "$tool" $c --help > h || exit 1; done
    for c in info check dump allocate; do grep -q "^  $c FILE" h || exit 1; done'
t "usage errors exit 2: no command, unknown command, no FILE, two FILEs, foreign option" '
    "$tool"; [ $? = 2 ] || exit 1
    "$tool" frob x; [ $? = 2 ] || exit 1
    "$tool" info; [ $? = 2 ] || exit 1
    "$tool" info counts.davec counts.davec; [ $? = 2 ] || exit 1
    "$tool" info counts.davec --elem-size 8; [ $? = 2 ] || exit 1
    "$tool" check counts.davec --elem-size 0; [ $? = 2 ] || exit 1
    "$tool" dump counts.davec --as u128; [ $? = 2 ] || exit 1
    "$tool" dump counts.davec --range 1-2; [ $? = 2 ] || exit 1'
t "--version names the header's version" '
    "$tool" --version | grep -qx "diskalloc [0-9]*\.[0-9]*"'

# ---- a real file ---------------------------------------------------------
t "info: a real file (length 3, element size 8, format 2, both copies valid)" "$helpers"'
    "$tool" info counts.davec > out || exit 1; cat out
    grep -q "^length: *3 elements" out && grep -q "^element size: *8 bytes" out &&
    grep -q "^format: *2" out && [ $(grep -c "^copy [AB]: .*valid" out) = 2 ] &&
    grep -q "in force" out && grep -q "^lock: *not held" out'
t "info --json: the fields match the file (size from stat, page-aligned data, in-force copy)" "$helpers"'
    [ "$(json counts.davec "i[\"len\"], i[\"elem_size\"], i[\"valid\"], i[\"file_size\"]")" = \
      "3 8 True $(stat -c %s counts.davec)" ] || exit 1
    [ "$(json counts.davec "i[\"data_offset\"] % 4096, i[\"cap\"] >= 3, i[\"hole_bytes\"], i[\"locked\"]")" = "0 True 0 False" ] || exit 1
    [ "$(json counts.davec "[c[\"name\"] for c in i[\"copies\"] if c[\"in_force\"]] == [i[\"in_force\"]]")" = True ]'
cat > keys.py << 'EOF'
import json, re, subprocess, sys
tool, page = sys.argv[1], open(sys.argv[2]).read()
keys = set(json.loads(subprocess.check_output([tool, "info", "--json", "counts.davec"])))
para = page[page.index("the same as one JSON object"):page.index("Fields that could not be found")]
listed = {w for line in para.splitlines() if line.startswith(".Li ")
          for w in re.findall(r"[a-z_]+", line[4:])}
listed -= {"offset", "shape", "itemsize"}  # the numpy object's own keys
print("only in the json:", sorted(keys - listed), "only in the page:", sorted(listed - keys))
sys.exit(keys != listed)
EOF
export root
t "info --json: its keys are the ones diskalloc(1) lists" 'python3 keys.py "$tool" "$root/man/diskalloc.1"'
t "check: a real file is good (exit 0, one line), with its element size too" '
    "$tool" check counts.davec > out || exit 1; cat out
    [ $(wc -l < out) = 1 ] && grep -q "^counts.davec: ok: format 2, element size 8, length 3" out &&
    "$tool" check --elem-size 8 counts.davec'
t "check --elem-size 4 on 8-byte elements: exit 1, the reason and DA_EBADFILE on one line" '
    "$tool" check counts.davec --elem-size 4 > out; st=$?; cat out
    [ $st = 1 ] && [ $(wc -l < out) = 1 ] && grep -q "element size 8, expected 4: .*DA_EBADFILE" out'
t "dump: u64, u32, hex, f64 and ranges" '
    [ "$("$tool" dump counts.davec --as u64 | tr "\n" " ")" = "0 1 2 " ] || exit 1
    [ "$("$tool" dump counts.davec --as u32 --range 1:2)" = "1 0" ] || exit 1
    [ "$("$tool" dump counts.davec --range :1)" = "0000000000000000" ] || exit 1
    [ "$("$tool" dump counts.davec --as i64 --range 2:)" = 2 ] || exit 1
    [ "$("$tool" dump counts.davec --as f64 --range 1:2)" = 4.9406564584124654e-324 ] || exit 1
    [ -z "$("$tool" dump counts.davec --as u64 --range 7:9)" ] || exit 1
    [ -z "$("$tool" dump counts.davec --as u64 --range 2:1)" ]'
t "dump: 300000 elements, over several reads, all in order" '
    "$mkvec" big.davec 8 300000 || exit 1
    "$tool" dump big.davec --as u64 | awk "\$1 != NR - 1 { exit 1 } END { exit NR != 300000 }"'
t "dump: 3-byte elements: --as u16 refused (exit 2, why), --as u8 and hex per element" '
    "$mkvec" three.davec 3 2 || exit 1
    "$tool" dump three.davec --as u16 2> err; st=$?; cat err
    [ $st = 2 ] && grep -q "2-byte values, which do not divide the file.s 3-byte elements" err || exit 1
    [ "$("$tool" dump three.davec --as u8 | tr "\n" ,)" = "0 1 2,1 2 3," ] || exit 1
    [ "$("$tool" dump three.davec | tr "\n" ,)" = "000102,010203," ]'
t "info, check, dump change nothing: bytes and mtime" "$helpers"'
    before="$(sha counts.davec) $(stat -c %Y.%y counts.davec)"
    "$tool" info counts.davec > /dev/null && "$tool" info --json counts.davec > /dev/null &&
    "$tool" check counts.davec > /dev/null && "$tool" check --elem-size 8 counts.davec > /dev/null &&
    "$tool" dump counts.davec > /dev/null || exit 1
    [ "$(sha counts.davec) $(stat -c %Y.%y counts.davec)" = "$before" ]'

# ---- files that are not good ---------------------------------------------
t "check of a missing file: exit 1, and no file is created" '
    "$tool" check none.davec; st=$?
    [ $st = 1 ] && [ ! -e none.davec ] && { "$tool" info none.davec; [ $? = 1 ]; } && [ ! -e none.davec ]'
t "check of an all-zero file: exit 1, still all zeros (da_vec_open would write a header)" '
    head -c 8192 /dev/zero > zero.davec
    "$tool" check zero.davec > out; st=$?; cat out; grep -q "a creation cut short" out || exit 1
    [ $st = 1 ] && [ "$(tr -d "\0" < zero.davec | wc -c)" = 0 ] &&
    [ "$(stat -c %s zero.davec)" = 8192 ] && "$tool" info zero.davec | grep -q "copy A: .*empty"'
t "check --missing-ok: no file, an empty file and zeros da_vec_open starts afresh are good; not text, not more zeros" '
    "$tool" check --missing-ok none.davec | grep -q "ok: no file" || exit 1; [ ! -e none.davec ] || exit 1
    : > empty.davec; "$tool" check --missing-ok empty.davec | grep -q "ok: an empty file" || exit 1
    "$tool" check empty.davec; [ $? = 1 ] || exit 1
    "$tool" check --missing-ok zero.davec | grep -q "ok: 8192 zero bytes" || exit 1
    [ "$(tr -d "\0" < zero.davec | wc -c)" = 0 ] && [ "$(stat -c %s zero.davec)" = 8192 ] || exit 1
    printf "not a vector" > text.davec
    "$tool" check --missing-ok text.davec > out; st=$?; cat out
    [ $st = 1 ] && grep -q "no valid header copy" out || exit 1
    head -c $((1 << 20)) /dev/zero > zeros.davec
    "$tool" check --missing-ok zeros.davec > out; st=$?; cat out
    [ $st = 1 ] && grep -q "no valid header copy" out || exit 1
    "$tool" check --missing-ok three.davec --elem-size 3 && ! ls /dev/shm/diskalloc-check-* 2>/dev/null'
t "damaged in-force copy: check still good, the older copy in force, info shows which" "$helpers"'
    cp counts.davec one.davec
    off=$(json one.davec "[c[\"offset\"] for c in i[\"copies\"] if c[\"in_force\"]][0]")
    name=$(json one.davec "i[\"in_force\"]")
    printf "\377\377" | dd of=one.davec bs=1 seek=$((off + 24)) conv=notrunc 2>/dev/null
    "$tool" check one.davec || exit 1
    [ "$(json one.davec "i[\"in_force\"] != \"$name\"")" = True ] || exit 1
    "$tool" info one.davec | grep -q "^copy $name: .*damaged"'
t "both copies damaged: check exit 1, one line naming both; info exit 1 and shows them; dump exit 1" "$helpers"'
    cp counts.davec two.davec
    for off in $(json two.davec "\" \".join(str(c[\"offset\"]) for c in i[\"copies\"])"); do
        printf "\377" | dd of=two.davec bs=1 seek=$((off + 40)) conv=notrunc 2>/dev/null; done
    "$tool" check two.davec > out; st=$?; cat out
    [ $st = 1 ] && [ $(wc -l < out) = 1 ] &&
    grep -q "bad: no valid header copy (copy A damaged: .*; copy B damaged: .*DA_EBADFILE" out || exit 1
    "$tool" info two.davec > out; st=$?; cat out
    [ $st = 1 ] && [ $(grep -c "^copy [AB]: .*damaged" out) = 2 ] || exit 1
    "$tool" dump two.davec > out 2> err; st=$?; cat err
    [ $st = 1 ] && [ ! -s out ] && grep -q DA_EBADFILE err'
t "truncated file (data shorter than its length): check exit 1 names the truncation" "$helpers"'
    cp counts.davec cut.davec
    truncate -s $(( $(json cut.davec "i[\"data_offset\"]") + 8 )) cut.davec
    "$tool" check cut.davec > out; st=$?; cat out
    [ $st = 1 ] && grep -q "shorter than its length (truncated?)" out'
t "a directory, a FIFO and a symlink: check exit 1 at once, nothing opened or created" '
    mkdir d.davec && mkfifo fifo.davec && ln -s counts.davec link.davec || exit 1
    for f in d.davec fifo.davec; do timeout 5 "$tool" check $f > out; st=$?; cat out
        [ $st = 1 ] && grep -q DA_EBADFILE out || exit 1; done
    timeout 5 "$tool" check link.davec > out; st=$?; cat out
    [ $st = 1 ] && grep -q ELOOP out && [ -p fifo.davec ] && [ -d d.davec ]'
t "allocate refuses a file that is not a vector file (exit 1, bytes unchanged)" "$helpers"'
    before=$(sha zero.davec)
    "$tool" allocate zero.davec; st=$?
    [ $st = 1 ] && [ "$(sha zero.davec)" = "$before" ]'

# ---- sparse copies and locks ---------------------------------------------
# A sparse copy, allocated on each file system at hand: $TMPDIR's (ext4 on the
# machines this was written on) and tmpfs.  The copy is never read before
# allocate (its bytes are compared through the source's, and its page cache is
# dropped): ext4 and tmpfs report unwritten blocks (fallocated, never written)
# as holes to SEEK_HOLE unless their pages are cached, so a test that read the
# file first would hide a tool that measures allocation with SEEK_HOLE.
sparse_case='cd "$1" || exit 1
    "$mkvec" s.davec 8 1000 && truncate -s +1M s.davec && cp --sparse=always s.davec sp.davec || exit 1
    dd if=sp.davec iflag=nocache count=0 2>/dev/null
    [ "$(json sp.davec "i[\"hole_bytes\"] >= 1 << 20")" = True ] || exit 1
    [ "$(json sp.davec "i[\"data_hole_bytes\"] is None or i[\"data_hole_bytes\"] >= 1 << 20")" = True ] || exit 1
    "$tool" info sp.davec > before; cat before
    grep -q "^sparse: *[0-9]* bytes not allocated.* a full disk would make stores fail" before || exit 1
    blocks=$(stat -c %b sp.davec)
    "$tool" allocate sp.davec > out 2>&1; st=$?; cat out
    echo "st_blocks: $blocks before, $(stat -c %b sp.davec) after"
    [ $st = 0 ] && grep -q "^sp.davec: [0-9]* bytes allocated; no holes left" out || exit 1
    dd if=sp.davec iflag=nocache count=0 2>/dev/null
    [ "$(json sp.davec "i[\"hole_bytes\"], i[\"data_hole_bytes\"] in (0, None)")" = "0 True" ] || exit 1
    "$tool" info sp.davec > after; cat after
    "$tool" allocate sp.davec | grep -q "0 bytes allocated" || exit 1
    [ "$(sha sp.davec)" = "$(sha s.davec)" ] && "$tool" check sp.davec || exit 1
    # which measure was used: named by --json and by the text, before and after
    how=$(json sp.davec "i[\"allocation_method\"]"); echo "method: $how"
    case $how in fiemap|st_blocks|seek_hole) ;; *) exit 1 ;; esac
    grep -q "^sparse: .*(measured by $how)" before &&
        grep -q "^sparse: *no: every block is allocated (measured by $how)" after'
t "a sparse copy: info reports the holes, allocate fills them without changing a byte" \
    "$helpers$sparse_case"
if [ -d /dev/shm ] && shm=$(mktemp -d /dev/shm/diskalloc-tool-XXXXXX); then
    trap '[ -n "$holder" ] && kill "$holder" 2>/dev/null; rm -rf "$dir" "$shm"' EXIT
    export shm
    t "a sparse copy on tmpfs (/dev/shm): allocate fills the holes, info says so" \
        "$helpers"'set -- "$shm"
'"$sparse_case"
else
    echo "ok - a sparse copy on tmpfs # SKIP no /dev/shm"
fi
# The fallbacks on this file system, FIEMAP hidden by a shim (TOOL_NOFIEMAP;
# unset under sanitizers): st_blocks, then SEEK_HOLE when stat reports no
# blocks for a file with data.
if [ -n "${TOOL_NOFIEMAP:-}" ]; then
    printf '#!/bin/sh\nLD_PRELOAD="%s" exec "%s" "$@"\n' "$TOOL_NOFIEMAP" "$tool" > nofiemap-tool
    chmod +x nofiemap-tool && mkdir nofiemap && export nofiemap="$dir/nofiemap"
    t "no FIEMAP: st_blocks measures a sparse copy, allocate fills it, info says so" \
        "$helpers"'set -- "$nofiemap"; tool=$dir/nofiemap-tool
'"$sparse_case"' || exit 1
        [ "$(json sp.davec "i[\"allocation_method\"]")" = st_blocks ] || exit 1
        truncate -s 1M none.davec; [ "$(json none.davec "i[\"allocation_method\"], i[\"hole_bytes\"]")" = "st_blocks 1048576" ]'
    t "no FIEMAP, no st_blocks: SEEK_HOLE as the last resort, named, holes in the data range" \
        "$helpers"'cd nofiemap && tool=$dir/nofiemap-tool && export NOFIEMAP_NO_BLOCKS=1 || exit 1
        cp --sparse=always s.davec last.davec && dd if=last.davec iflag=nocache count=0 2>/dev/null
        [ "$(json last.davec "i[\"allocation_method\"], i[\"data_hole_bytes\"] >= 1 << 20")" = "seek_hole True" ] &&
        "$tool" info last.davec | grep "^sparse: .*in the data range.*(measured by seek_hole)"'
else
    echo "ok - no FIEMAP: the fallbacks # SKIP no TOOL_NOFIEMAP (a sanitizer build)"
fi
t "a file another process holds: info says locked; allocate refuses (exit 3, EWOULDBLOCK)" "$helpers"'
    "$mkvec" l.davec 8 10 && truncate -s +1M l.davec || exit 1
    # the shell that takes the lock becomes the sleep: killing it releases the lock
    sh -c "exec 9< l.davec && flock -x 9 && : > ready && exec sleep 30" & pid=$!
    for _ in $(seq 100); do [ -e ready ] && break; sleep 0.05; done
    [ -e ready ] || { kill $pid; echo "flock never took the lock"; exit 1; }
    locked=$(json l.davec "i[\"locked\"]")
    "$tool" info l.davec | grep -q "^lock: *held by another process"; textlock=$?
    holes=$(json l.davec "i[\"hole_bytes\"]")
    "$tool" allocate l.davec 2> err; st=$?; cat err
    after=$(json l.davec "i[\"hole_bytes\"]")
    kill $pid; wait $pid 2>/dev/null
    [ "$locked" = True ] && [ $textlock = 0 ] && [ $st = 3 ] && grep -q EWOULDBLOCK err &&
    [ "$holes" = "$after" ] && [ "$holes" != 0 ] &&
    [ "$(json l.davec "i[\"locked\"]")" = False ]'

# A full disk (a 1 MiB tmpfs in faults/sandbox.sh): allocate fails with ENOSPC,
# exit 3, and the file keeps its size and bytes.
export root
"$root/faults/sandbox.sh" --size 1m -- true 2> /dev/null
if [ $? = 77 ]; then
    echo "ok - allocate on a full disk # SKIP no user or mount namespace for faults/sandbox.sh"
else
    { printf '%s\n' "$helpers"; cat << 'EOF'
cd "$DA_SANDBOX" && "$mkvec" f.davec 8 100 && truncate -s +4M f.davec || exit 1
before="$(sha f.davec) $(stat -c %s f.davec)"
"$tool" allocate f.davec 2> err; st=$?; cat err
[ $st = 3 ] && grep -q ENOSPC err && [ "$(sha f.davec) $(stat -c %s f.davec)" = "$before" ] &&
"$tool" check f.davec
EOF
    } > full.sh
    t "allocate on a full disk: ENOSPC, exit 3, size and bytes unchanged" '
        "$root/faults/sandbox.sh" --size 1m -- sh full.sh'
fi

# ---- the VERIFY of a fault campaign ------------------------------------------
# CAMPAIGN_SHIM (the nthfail.so path; unset under sanitizers) enables it.
if [ -n "${CAMPAIGN_SHIM:-}" ]; then
    export CAMPAIGN_SHIM root
    t "check --missing-ok as the campaign VERIFY of the persistent example: no data loss, no crash" '
        "$root/faults/campaign" --shim "$CAMPAIGN_SHIM" --seed 6 --cap 4 --exhaustive 4 --timeout 10 \
            --sites msync,fsync,ftruncate,fallocate,disk-full --fail-on crash,hang,data-loss \
            --out "$PWD/campaign" --cmd "$persistent counts.davec" \
            --verify "$tool check --missing-ok --elem-size 8 counts.davec" > campaign.log 2>&1 ||
            { tail -20 campaign.log; exit 1; }'
else
    echo "ok - check --missing-ok as the campaign VERIFY # SKIP no CAMPAIGN_SHIM (a sanitizer build)"
fi

# ---- numpy -----------------------------------------------------------------
# The README's one-liner, run as written (the line that calls np.memmap), with
# the tool on PATH; python3 is whichever of python3, /usr/bin/python3 has numpy.
py=""
for p in python3 /usr/bin/python3; do
    if "$p" -c "import numpy" 2>/dev/null; then py=$(command -v "$p"); break; fi
done
if [ -z "$py" ]; then
    echo "ok - numpy.memmap from info --json (README one-liner) # SKIP python3-numpy not installed"
else
    mkdir -p bin && ln -sf "$tool" bin/diskalloc && ln -sf "$py" bin/python3
    line=$(grep '^python3 -c .*np\.memmap' "$root/README.md" | head -1)
    export line
    t "numpy.memmap from info --json (README one-liner) reads 0 1 2" '
        [ -n "$line" ] || { echo "README has no python3 -c ... np.memmap line"; exit 1; }
        out=$(PATH="$PWD/bin:$PATH" sh -c "$line") || exit 1; echo "$out"
        [ "$out" = "[0 1 2]" ]'
fi
exit $failed
