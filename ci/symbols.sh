#!/bin/sh
# Every symbol the core exports starts with da_ (a vendored copy must not
# collide with its host program).
set -eu
obj=${1:-build/core/diskalloc.o}
bad=$(nm -g --defined-only "$obj" | awk '{print $3}' | grep -v '^da_' || true)
if [ -n "$bad" ]; then
    echo "symbols: exported without the da_ prefix:"; echo "$bad"; exit 1
fi
echo "symbols: $(nm -g --defined-only "$obj" | wc -l) exported, all da_*: ok"
