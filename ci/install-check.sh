#!/bin/sh
# The install promise: `make install DESTDIR=... PREFIX=/usr` lays out the
# files; a program builds with `pkg-config --cflags --libs diskalloc` alone and
# runs against the shared library; the SONAME comes from the header's version;
# only da_* symbols are exported; the installed tool reads a file that program
# wrote and refuses a damaged copy; `make uninstall` removes every file.
# Runs from a clean build directory of its own, whatever CC says.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
MAKE="${MAKE:-make} --no-print-directory"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$work/dest build=$work/build
fail=0
say() { printf 'install: %s\n' "$*"; }
bad() { printf 'install: FAILED: %s\n' "$*"; fail=1; }

major=$(sed -n 's/^#define DA_VERSION_MAJOR  *\([0-9]*\).*/\1/p' core/diskalloc.h)
minor=$(sed -n 's/^#define DA_VERSION_MINOR  *\([0-9]*\).*/\1/p' core/diskalloc.h)
multiarch=$(${CC:-cc} -print-multiarch 2>/dev/null || true)
libdir=/usr/lib${multiarch:+/$multiarch}

$MAKE BUILD="$build" WERROR=-Werror install DESTDIR="$dest" PREFIX=/usr > "$work/make.log" 2>&1 ||
    { cat "$work/make.log"; bad "make install"; exit 1; }

# ---- the layout ----
for f in usr/include/diskalloc.h "${libdir#/}/libdiskalloc.a" \
    "${libdir#/}/libdiskalloc.so.$major.$minor" "${libdir#/}/libdiskalloc.so.$major" \
    "${libdir#/}/libdiskalloc.so" "${libdir#/}/pkgconfig/diskalloc.pc" usr/bin/diskalloc \
    usr/share/man/man1/diskalloc.1 usr/share/man/man3/diskalloc.3 \
    usr/share/man/man3/da_vec_open.3; do
    [ -e "$dest/$f" ] || bad "missing /$f"
done
[ "$(readlink "$dest$libdir/libdiskalloc.so")" = "libdiskalloc.so.$major" ] &&
[ "$(readlink "$dest$libdir/libdiskalloc.so.$major")" = "libdiskalloc.so.$major.$minor" ] ||
    bad "symlinks libdiskalloc.so -> .so.$major -> .so.$major.$minor"
say "layout under $dest: $(cd "$dest" && find . -type f -o -type l | grep -vc '/da_') files" \
    "and $(ls "$dest/usr/share/man/man3" | grep -c '^da_') man3 links"

# ---- SONAME and exported symbols ----
so=$dest$libdir/libdiskalloc.so.$major.$minor
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libdiskalloc.so.$major" ] && say "SONAME $soname" || bad "SONAME '$soname'"
exported=$(nm -D --defined-only "$so" | awk '{print $3}')
others=$(printf '%s\n' "$exported" | grep -v '^da_' || true)
[ -z "$others" ] && say "$(printf '%s\n' "$exported" | wc -l) symbols exported, all da_*" ||
    bad "exported without da_: $others"
# and every function of the header but the inline one
for f in $(man/names.sh functions core/diskalloc.h); do
    [ "$f" = da_vec_push_fast ] && continue
    printf '%s\n' "$exported" | grep -qx "$f" || bad "$f not exported"
done

# ---- a program built with pkg-config alone, against the shared library ----
export PKG_CONFIG_PATH="$dest$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest"
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1 # /usr/include is in $dest
flags=$(pkg-config --cflags --libs diskalloc)
say "pkg-config --cflags --libs diskalloc: $flags"
[ "$(pkg-config --modversion diskalloc)" = "$major.$minor" ] || bad "pkg-config --modversion"
cp examples/persistent.c "$work/" # not next to core/diskalloc.h: only pkg-config's -I finds it
# shellcheck disable=SC2086
${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Werror "$work/persistent.c" $flags \
    -o "$work/persistent" || bad "build with pkg-config"
export LD_LIBRARY_PATH="$dest$libdir"
readelf -d "$work/persistent" | grep -q "NEEDED.*\[libdiskalloc.so.$major\]" ||
    bad "the example does not need libdiskalloc.so.$major"
loaded=$(ldd "$work/persistent" | sed -n 's/.*libdiskalloc.so.* => \([^ ]*\).*/\1/p')
[ "$loaded" = "$dest$libdir/libdiskalloc.so.$major" ] && say "runs against $loaded" ||
    bad "resolves libdiskalloc to '$loaded'"
f=$work/counts.davec
for _ in 1 2 3; do DISKALLOC_RESERVE=1G "$work/persistent" "$f" > /dev/null || bad "example run"; done

# ---- the installed tool over that file, and over a damaged copy ----
tool=$dest/usr/bin/diskalloc
"$tool" info "$f" > "$work/info" || bad "diskalloc info"
grep -q "^length: *3 elements" "$work/info" || bad "info: length 3"
"$tool" check --elem-size 8 "$f" || bad "diskalloc check of a good file"
[ "$("$tool" dump --as u64 "$f" | tr '\n' ' ')" = "0 1 2 " ] || bad "diskalloc dump"
cp "$f" "$work/damaged.davec"
offsets=$("$tool" info --json "$f" |
    python3 -c 'import json, sys; print(*(c["offset"] for c in json.load(sys.stdin)["copies"]))')
for off in $offsets; do # a byte inside each header copy
    printf '\377' | dd of="$work/damaged.davec" bs=1 seek=$((off + 40)) conv=notrunc 2> /dev/null
done
set +e
"$tool" check "$work/damaged.davec"; st=$?
set -e
[ $st = 1 ] && say "check of a damaged copy: exit 1" || bad "check of a damaged copy: exit $st, not 1"

# ---- uninstall leaves nothing ----
$MAKE BUILD="$build" uninstall DESTDIR="$dest" PREFIX=/usr > "$work/make.log" 2>&1 ||
    { cat "$work/make.log"; bad "make uninstall"; }
left=$(find "$dest" ! -type d)
[ -z "$left" ] && say "uninstall removed every file" || bad "left after uninstall: $left"

[ $fail = 0 ] && say "ok" || say "FAILED"
exit $fail
