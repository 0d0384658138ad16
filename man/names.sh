#!/bin/sh
# man/names.sh functions|macros|types [HEADER]: the public names the header
# declares, one a line: what diskalloc(3) must document (man/check.sh) and the
# functions `make install` gives a man3 link each.  The header is the source.
set -eu
what=$1
hdr=${2:-core/diskalloc.h}
# Declarations only: drop comments (/* ... */ may span lines) first.
code=$(sed -e 's|/\*.*\*/||g' "$hdr" | awk '
    /\/\*/ { incomment = 1; sub(/\/\*.*/, "") ; print; next }
    incomment && /\*\// { incomment = 0; sub(/.*\*\//, ""); print; next }
    incomment { next }
    { print }')
case $what in
functions) printf '%s\n' "$code" | grep -o '\bda_[a-z0-9_]*[[:space:]]*(' | tr -d ' (' | grep . | sort -u ;;
macros)    printf '%s\n' "$code" | sed -n 's/^#define \(DA_[A-Z0-9_]*\).*/\1/p' | grep . | sort -u ;;
types)     printf '%s\n' "$code" | sed -n 's/.*typedef struct [a-z_]* *{\{0,1\} *\(da_[a-z_]*\)\{0,1\}.*/\1/p; s/^} *\(da_[a-z_]*\);.*/\1/p' | grep . | sort -u ;;
*) echo "usage: $0 functions|macros|types [HEADER]" >&2; exit 2 ;;
esac
