#!/bin/sh
# Every ```c block in README.md must be, byte for byte, one of examples/*.c —
# which `make check` compiles and runs — so the README cannot drift from code
# that works.
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
awk -v dir="$dir" '
/^```c$/ { n++; out = sprintf("%s/block%d.c", dir, n); inblock = 1; next }
/^```$/  { inblock = 0; next }
inblock  { print > out }
' README.md
fail=0 n=0
for b in "$dir"/block*.c; do
    [ -e "$b" ] || break
    n=$((n + 1))
    match=""
    for e in examples/*.c; do cmp -s "$b" "$e" && match=$e; done
    if [ -n "$match" ]; then echo "readme: block $n is $match"; else
        echo "readme: block $n matches no examples/*.c:"; head -3 "$b"; fail=1; fi
done
[ "$n" -gt 0 ] || { echo "readme: no C examples found"; fail=1; }
exit $fail
