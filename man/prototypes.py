#!/usr/bin/env python3
"""man/prototypes.py HEADER PAGE: every prototype in PAGE's SYNOPSIS (.Ft and
.Fn lines) is the header's declaration, return type and arguments, word for
word (whitespace aside); prints one line per difference, exit 1 if any."""
import re
import shlex
import sys


def norm(s):
    return re.sub(r"\s*\*\s*", " *", re.sub(r"\s+", " ", s)).replace("* *", "**").strip()


def header_prototypes(path):
    text = re.sub(r"/\*.*?\*/", " ", open(path).read(), flags=re.S)
    text = re.sub(r"^#.*$", " ", text, flags=re.M)
    out, depth, piece = {}, 0, ""
    for ch in text:  # declarations outside bodies (depth 1: extern "C"), ended by ; or {
        if ch in ";{}":
            m = re.fullmatch(r"\s*((?:static\s+inline\s+)?[A-Za-z_][\w\s*]*?)\b(da_\w+)\s*\(([^()]*)\)\s*",
                             piece)
            if depth <= 1 and m and not m.group(1).strip().startswith("typedef"):
                out[m.group(2)] = (norm(m.group(1)), [norm(a) for a in m.group(3).split(",")])
            piece = ""
            depth += {"{": 1, "}": -1}.get(ch, 0)
        else:
            piece += ch
    return out


def page_prototypes(path):
    out, ret = {}, None
    for line in open(path):
        if line.startswith(".Ft "):
            ret = line[4:].strip()
        elif line.startswith(".Fn ") and '"' in line and ret is not None:
            words = shlex.split(line[4:])
            out[words[0]] = (norm(ret), [norm(a) for a in words[1:]])
            ret = None
    return out


def main():
    hdr, page = header_prototypes(sys.argv[1]), page_prototypes(sys.argv[2])
    bad = 0
    for name, proto in sorted(hdr.items()):
        if name not in page:
            print(f"{name}: no prototype (.Ft + .Fn with arguments) in the page")
            bad = 1
        elif page[name] != proto:
            print(f"{name}: page {page[name]} != header {proto}")
            bad = 1
    for name in sorted(set(page) - set(hdr)):
        print(f"{name}: prototype in the page, not in the header")
        bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main())
