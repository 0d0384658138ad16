#!/bin/sh
# The vendoring promise: core/diskalloc.{h,c} alone in an empty directory build
# warning-free as C11 with gcc and clang at -Wpedantic -Werror, with and
# without fail points, and the header compiles as C++.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$root/core/diskalloc.h" "$root/core/diskalloc.c" "$dir/"
cd "$dir"
fail=0
for cc in gcc clang; do
    command -v $cc >/dev/null || { echo "vendor: $cc not found"; fail=1; continue; }
    for def in "" "-DFIU_ENABLE"; do
        if $cc -std=c11 -Wall -Wextra -Wpedantic -Werror $def -c diskalloc.c -o d.o; then
            echo "vendor: $cc ${def:-(no fail points)}: ok"
        else
            echo "vendor: $cc ${def:-(no fail points)}: FAILED"; fail=1
        fi
    done
done
cat > user.cc <<'CXX'
#include "diskalloc.h"
int main() { da_vec v; return da_vec_init(&v, 8, nullptr) == 0 ? da_vec_close(&v) : 1; }
CXX
for cxx in g++ clang++; do
    command -v $cxx >/dev/null || { echo "vendor: $cxx not found"; fail=1; continue; }
    gcc -std=c11 -O2 -c diskalloc.c -o d.o
    if $cxx -std=c++11 -Wall -Wextra -Wpedantic -Werror user.cc d.o -o user && DISKALLOC_RESERVE=1G ./user; then
        echo "vendor: $cxx includes the header and links: ok"
    else
        echo "vendor: $cxx: FAILED"; fail=1
    fi
done
exit $fail
