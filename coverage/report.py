#!/usr/bin/env python3
"""Coverage summary, error-path report and gate for core/diskalloc.c.

usage: report.py SOURCE SCENARIO.info... [--out REPORT.txt]

Each .info file is an lcov tracefile captured after one scenario (a unit-test
program, a stress driver, one fail point of the sweep); its file name is the
scenario's name. The error paths are found in the source, not kept by hand:
every line where a system call's failure is taken up (`return errno;`,
`e = errno;`) or where the library returns an error code of its own
(`return DA_E...;`, `return EFBIG;`, `? DA_EINVAL : ...`). A line that holds
a conditional expression counts as hit only when every branch on it ran.

Gate (exit 1, naming what is missing): 100% of lines, 100% of branches, every
error path hit. lcov 1.16 has no branch threshold, hence this script.
"""
import os
import re
import sys
from collections import defaultdict

ERROR_PATH = re.compile(
    r"\breturn\s+(errno|DA_E[A-Z]+|E[A-Z]+)\s*;"       # return errno; return DA_ECAPACITY;
    r"|\b[a-z_]+\s*=\s*(errno|DA_E[A-Z]+|E[A-Z]+)\s*;"  # e = errno;
    r"|[?:]\s*(errno|DA_E[A-Z]+|E[A-Z]{3,})\b"          # a ? 0 : ENOMEM
)
EXCLUSION = re.compile(r"LCOV_EXCL_(LINE|START|STOP|BR_LINE|BR_START|BR_STOP)(.*)")


def parse_info(path, source):
    """Line counts, branch counts and function counts of `source` in one tracefile."""
    lines, branches, funcs = {}, {}, {}
    want = os.path.realpath(source)
    take = False
    with open(path) as f:
        for raw in f:
            raw = raw.strip()
            if raw.startswith("SF:"):
                take = os.path.realpath(raw[3:]) == want
            elif not take:
                continue
            elif raw.startswith("DA:"):
                n, c = raw[3:].split(",")[:2]
                lines[int(n)] = lines.get(int(n), 0) + max(0, int(c))
            elif raw.startswith("BRDA:"):
                n, block, br, taken = raw[5:].split(",")
                key = (int(n), block, br)
                # gcov derives some counts by subtraction; counters racing
                # between threads or forked children can leave them negative
                n_taken = 0 if taken == "-" else max(0, int(taken))
                branches[key] = branches.get(key, 0) + n_taken
            elif raw.startswith("FNDA:"):
                c, name = raw[5:].split(",", 1)
                funcs[name] = funcs.get(name, 0) + int(c)
    return lines, branches, funcs


def merge(into, part):
    for k, v in part.items():
        into[k] = into.get(k, 0) + v


def pct(hit, total):
    return 100.0 * hit / total if total else 100.0


def main(argv):
    out = None
    if "--out" in argv:
        i = argv.index("--out")
        out = argv[i + 1]
        del argv[i:i + 2]
    source, infos = argv[0], argv[1:]
    text = open(source).read().splitlines()
    lines, branches, funcs = {}, {}, {}
    per_scenario = {}
    for info in infos:
        name = os.path.basename(info)[: -len(".info")]
        l, b, f = parse_info(info, source)
        per_scenario[name] = (l, b)
        merge(lines, l)
        merge(branches, b)
        merge(funcs, f)

    report = []
    say = report.append
    lh = sum(1 for c in lines.values() if c > 0)
    bh = sum(1 for c in branches.values() if c > 0)
    fh = sum(1 for c in funcs.values() if c > 0)
    say(f"coverage of {source} over {len(infos)} scenarios")
    say(f"  lines:     {pct(lh, len(lines)):6.2f}%  ({lh} of {len(lines)})")
    say(f"  branches:  {pct(bh, len(branches)):6.2f}%  ({bh} of {len(branches)})")
    say(f"  functions: {pct(fh, len(funcs)):6.2f}%  ({fh} of {len(funcs)})")

    branches_by_line = defaultdict(list)
    for (n, block, br), c in branches.items():
        branches_by_line[n].append(((block, br), c))

    def hits(counts_line, counts_branch, n):
        """How often the error path on line n ran (branches: the rarest one)."""
        on_line = [c for (ln, _, _), c in counts_branch.items() if ln == n]
        if on_line and re.search(r"[?:]\s*(errno|DA_E|E[A-Z]{3,})", text[n - 1]):
            return min(on_line)
        return counts_line.get(n, 0)

    missing = []
    say("")
    say("error paths (found in the source; count; scenarios that reached it):")
    for n, src in enumerate(text, 1):
        if not ERROR_PATH.search(src) or src.lstrip().startswith(("/*", "*", "//")):
            continue
        total = hits(lines, branches, n)
        who = sorted(s for s, (l, b) in per_scenario.items() if hits(l, b, n) > 0)
        shown = ", ".join(who[:6]) + (f", +{len(who) - 6} more" if len(who) > 6 else "")
        mark = "ok  " if total > 0 else "MISS"
        say(f"  {mark} {os.path.basename(source)}:{n:<5} {total:>9}  {src.strip()[:60]:<60}  {shown}")
        if total == 0:
            missing.append(f"error path never ran: line {n}: {src.strip()}")

    exclusions = [(n, m.group(1), m.group(2).strip(" */:-") or "(no reason given)")
                  for n, s in enumerate(text, 1) for m in [EXCLUSION.search(s)] if m]
    say("")
    say(f"exclusion markers: {len(exclusions)}")
    for n, kind, why in exclusions:
        say(f"  line {n}: LCOV_EXCL_{kind}: {why}")

    for n, c in sorted(lines.items()):
        if c == 0:
            missing.append(f"line never ran: {n}: {text[n - 1].strip()}")
    for n in sorted(branches_by_line):
        dead = [k for k, c in branches_by_line[n] if c == 0]
        if dead:
            missing.append(f"branch never taken: line {n} ({len(dead)} of "
                           f"{len(branches_by_line[n])}): {text[n - 1].strip()}")
    say("")
    if missing:
        say(f"GATE FAILED: {len(missing)} gaps (need 100% lines, 100% branches, every error path):")
        report.extend("  " + m for m in missing)
    else:
        say("GATE PASSED: 100% lines, 100% branches, every error path hit")
    body = "\n".join(report) + "\n"
    sys.stdout.write(body)
    if out:
        with open(out, "w") as f:
            f.write(body)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
