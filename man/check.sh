#!/bin/sh
# man/check.sh TOOL: TAP lines for the man pages.
#  - lint: mandoc -T lint (warnings and above), else groff -ww;
#  - diskalloc(3) names every function, macro and type of core/diskalloc.h, and
#    no function or DA_ macro the header lacks (the header is the source); its
#    SYNOPSIS prototypes are the header's (man/prototypes.py);
#  - diskalloc(1) names every command, option and --as type of `TOOL --help`,
#    and no option the tool lacks.
set -u
cd "$(dirname "$0")/.."
tool=$1
failed=0
report() { # report NAME PROBLEMS
    if [ -z "$2" ]; then echo "ok - $1"; else
        echo "not ok - $1"; printf '%s\n' "$2" | sed 's/^/#   /'; failed=1; fi
}

for page in man/diskalloc.1 man/diskalloc.3; do
    if command -v mandoc > /dev/null; then
        out=$(mandoc -T lint -W warning "$page" 2>&1) || [ -n "$out" ] || out="mandoc failed"
        report "lint $page (mandoc -T lint)" "$out"
    else
        out=$(groff -ww -mdoc -Tutf8 -z "$page" 2>&1) || [ -n "$out" ] || out="groff failed"
        report "lint $page (groff -ww; install mandoc for a stricter lint)" "$out"
    fi
done

page3=man/diskalloc.3
missing=""
for f in $(man/names.sh functions); do grep -q "^\.Fn $f \"" $page3 || missing="$missing
function $f: no prototype (.Fn $f "args")"; done
for m in $(man/names.sh macros); do grep -q "\bDv $m\b" $page3 || missing="$missing
macro $m: no .Dv $m"; done
for t in $(man/names.sh types); do grep -q "\bVt .*\b$t\b" $page3 || missing="$missing
type $t: no .Vt ... $t"; done
report "diskalloc(3) documents every function, DA_ macro and type of the header" "${missing#?}"

extra=""
for f in $(grep -o '\bFn da_[a-z0-9_]*' $page3 | cut -d' ' -f2 | sort -u); do
    man/names.sh functions | grep -qx "$f" || extra="$extra
$f: not in the header"; done
for m in $(grep -o '\bDv DA_[A-Z0-9_]*' $page3 | cut -d' ' -f2 | sort -u); do
    man/names.sh macros | grep -qx "$m" || extra="$extra
$m: not in the header"; done
report "diskalloc(3) names nothing the header lacks" "${extra#?}"
report "diskalloc(3)'s prototypes are the header's, word for word" \
    "$(python3 man/prototypes.py core/diskalloc.h $page3 2>&1)"

# The EXAMPLES program compiles against the header (-fsyntax-only: no link).
ex=$(mktemp --suffix=.c)
awk '/^\.Sh EXAMPLES/ { on = 1 } on && /^\.Bd -literal/ { lit = 1; next }
     lit && /^\.Ed/ { exit } lit { gsub(/\\e/, "\\"); print }' $page3 > "$ex"
out=$(${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -Icore "$ex" 2>&1) ||
    [ -n "$out" ] || out="compiler failed"
[ -s "$ex" ] || out="no .Bd -literal block in EXAMPLES"
rm -f "$ex"
report "diskalloc(3)'s EXAMPLES program compiles against the header" "$out"

page1=man/diskalloc.1
help=$("$tool" --help)
missing=""
for c in $(printf '%s\n' "$help" | sed -n 's/^  \([a-z][a-z]*\) FILE.*/\1/p'); do
    grep -q "^\.It Cm $c\b" $page1 || missing="$missing
command $c: no .It Cm $c"; done
for o in $(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    grep -q "Fl -${o#--}\b" $page1 || missing="$missing
option $o: no Fl ${o}"; done
for ty in $(printf '%s\n' "$help" | sed -n 's/.*TYPE one of \(.*\)/\1/p'); do
    grep -q "\b$ty\b" $page1 || missing="$missing
--as $ty: not in the page"; done
for code in 0 1 2 3; do grep -q "^\.It $code$" $page1 || missing="$missing
exit status $code: no .It $code"; done
report "diskalloc(1) documents every command, option, --as type and exit status of --help" "${missing#?}"

extra=""
for o in $(grep -o 'Fl -[a-z][a-z-]*' $page1 | cut -d' ' -f2 | sort -u); do
    printf '%s\n' "$help" | grep -q -- "-$o\b" || extra="$extra
option -$o: the tool's --help does not have it"; done
report "diskalloc(1) names no option the tool lacks" "${extra#?}"
exit $failed
