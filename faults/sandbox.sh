#!/bin/sh
# sandbox.sh [--size 16m] [--cover DIR]... [--empty DIR]... -- CMD ARGS...
# Run CMD with DA_SANDBOX set to the mount point of a fresh tmpfs of that size
# (a real file system that fills up: ENOSPC), inside an unprivileged user+mount
# namespace (`unshare -rm`), or, when user namespaces are refused and we are
# root, a plain private mount namespace.  The mount vanishes with CMD.
# --cover DIR: what CMD writes in DIR goes to that tmpfs: an overlay with DIR
# as its read-only lower layer and the tmpfs as its upper one, so that DIR's
# files stay visible (and unharmed: changes and deletions stay in the tmpfs);
# an empty directory of the tmpfs where overlays are refused.  /tmp, /var/tmp,
# wherever CMD writes.  --empty DIR: an empty directory of the tmpfs bound over
# DIR.  Every DIR must exist (2 otherwise): nothing is created on the host.
# One tmpfs, so one full disk for all of them; a parent is covered first.
# Exit: CMD's status; 77 (with a message on stderr) when neither namespace
# is allowed here; 2 on a usage error.
set -u
size=16m
covers=
while [ $# -gt 0 ]; do
    case $1 in
    --size) [ $# -ge 2 ] || { echo "sandbox: --size needs a value" >&2; exit 2; }
            size=$2; shift 2 ;;
    --size=*) size=${1#--size=}; shift ;;
    --cover|--empty)
             [ $# -ge 2 ] || { echo "sandbox: $1 needs a directory" >&2; exit 2; }
             # A mount namespace shares the host's files: a directory made
             # there would be made on the host.  It must exist already.
             [ -d "$2" ] || { echo "sandbox: $1 $2: no such directory (the sandbox" \
                 "never creates directories on the host: create it first)" >&2; exit 2; }
             covers="${covers:+$covers
}${1#--}:$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--size 16m] [--cover DIR]... [--empty DIR]... -- CMD ARGS..." >&2; exit 2; }
command -v unshare >/dev/null 2>&1 || {
    echo "sandbox: unshare(1) not found (Debian package util-linux); cannot make a disk-full sandbox" >&2
    exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/da-sandbox-XXXXXX") || exit 2
trap 'rmdir "$dir" 2>/dev/null' EXIT INT TERM

# The inner script: mount, cover, then become CMD.  --propagation private
# (unshare's default, made explicit) keeps the mounts out of the parent
# namespace.  Covering /tmp may hide the tmpfs's own mount point: its
# directories are named relative to the working directory, its root, and
# mount is told not to resolve them (-c) through the paths now covered.
inner='mount -t tmpfs -o "size=$1,mode=0700" diskalloc-sandbox "$2" || exit 1
d=$2 n=$3 back=$4 i=0; shift 4; cd "$d" || exit 1
while [ $i -lt $n ]; do
    i=$((i + 1)); how=${1%%:*} c=${1#*:}; shift
    [ -d "$c" ] || { echo "sandbox: $c is gone" >&2; exit 1; }
    case $c in *[,:]*) how=empty ;; esac   # not expressible as an overlay option
    if [ "$how" = cover ]; then
        mkdir "u$i" "w$i" && chmod "$(stat -c %a "$c")" "u$i" &&
            mount -c -t overlay diskalloc-sandbox \
                -o "lowerdir=$c,upperdir=u$i,workdir=w$i" "$c" 2>/dev/null &&
            continue
        echo "sandbox: no overlay on $c: covering it with an empty directory" >&2
    fi
    mkdir -p "c$i" && chmod "$(stat -c %a "$c")" "c$i" &&
        mount -c --bind "c$i" "$c" || { echo "sandbox: cannot cover $c" >&2; exit 1; }
done
cd "$back" 2>/dev/null || cd "$d"   # CMD runs where it was started (relative paths work)
DA_SANDBOX=$d exec "$@"'

# Probe first, so that a CMD failing is never mistaken for a refused sandbox.
probe() { unshare "$@" --propagation private sh -c "$inner" sh 4k "$dir" 0 / true 2>/dev/null; }
if probe -r -m; then
    mode="-r -m"
elif [ "$(id -u)" = 0 ] && probe -m; then
    mode="-m"
else
    err=$(unshare -r -m true 2>&1)
    if [ "$(id -u)" = 0 ]; then why="and, as root, a plain mount namespace failed too"
    else why="and we are not root"; fi
    echo "sandbox: cannot mount a private tmpfs: user namespaces are refused" \
         "(${err:-mount failed}) $why." >&2
    echo "sandbox: enable them (sysctl kernel.unprivileged_userns_clone=1," \
         "user.max_user_namespaces > 0) or run as root. Skipping (exit 77)." >&2
    exit 77
fi
# Parents first (shorter paths), one argument each: newlines split the list.
sorted=$(printf '%s\n' "$covers" | awk 'NF { print length($0) - index($0, ":") "\t" $0 }' |
         sort -n | cut -f2-)
n=$(printf '%s\n' "$sorted" | awk 'NF' | wc -l)
old_ifs=$IFS; IFS='
'
# shellcheck disable=SC2086 # $mode is two flags or one; $sorted one cover a line
set -- $sorted "$@"
IFS=$old_ifs
unshare $mode --propagation private sh -c "$inner" sh "$size" "$dir" "$n" "$PWD" "$@"
