#!/bin/sh
# Install the Debian packages the build, tests and harness need, if missing.
# As root: apt-get.  Otherwise: sudo -n.  Otherwise: print the command and stop.
set -eu
PKGS="${DEPS_PKGS:-gcc clang make libfiu-dev fiu-utils libcmocka-dev valgrind lcov gnuplot-nox strace util-linux procps python3 libclang-rt-14-dev mandoc}"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "deps: missing packages:$missing" >&2
    echo "deps: run:  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
