#!/bin/sh
# sandbox.sh [--size 16m] -- CMD ARGS...
# Run CMD with DA_SANDBOX set to the mount point of a fresh tmpfs of that size
# (a real file system that fills up: ENOSPC), inside an unprivileged user+mount
# namespace (`unshare -rm`), or, when user namespaces are refused and we are
# root, a plain private mount namespace.  The mount vanishes with CMD.
# Exit: CMD's status; 77 (with a message on stderr) when neither namespace
# is allowed here; 2 on a usage error.
set -u
size=16m
while [ $# -gt 0 ]; do
    case $1 in
    --size) [ $# -ge 2 ] || { echo "sandbox: --size needs a value" >&2; exit 2; }
            size=$2; shift 2 ;;
    --size=*) size=${1#--size=}; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--size 16m] -- CMD ARGS..." >&2; exit 2; }
command -v unshare >/dev/null 2>&1 || {
    echo "sandbox: unshare(1) not found (Debian package util-linux); cannot make a disk-full sandbox" >&2
    exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/da-sandbox-XXXXXX") || exit 2
trap 'rmdir "$dir" 2>/dev/null' EXIT INT TERM

# The inner script: mount, then become CMD.  --propagation private (unshare's
# default, made explicit) keeps the mount out of the parent namespace.
inner='mount -t tmpfs -o "size=$1,mode=0700" diskalloc-sandbox "$2" || exit 1
d=$2; shift 2; DA_SANDBOX=$d exec "$@"'

# Probe first, so that a CMD failing is never mistaken for a refused sandbox.
probe() { unshare "$@" --propagation private sh -c "$inner" sh 4k "$dir" true 2>/dev/null; }
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
# shellcheck disable=SC2086 # $mode is two flags or one
unshare $mode --propagation private sh -c "$inner" sh "$size" "$dir" "$@"
