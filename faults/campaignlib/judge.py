"""Judging one run, and grouping the findings of many: pure functions.

A run is judged from the target's exit status, what it wrote on stderr
(against what the unharmed run wrote), and VERIFY's status."""
import re
import signal

VERDICTS = ("ok", "clean error", "silent error", "crash", "default signal", "hang",
            "data loss", "skipped")
BAD_DEFAULT = "crash,hang,data-loss,silent-error"
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGXFSZ, signal.SIGILL,
                 signal.SIGFPE, signal.SIGSYS, signal.SIGTRAP, signal.SIGKILL, signal.SIGXCPU}
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "ThreadSanitizer", "MemorySanitizer")

# Lines that say why, best first; and lines that never do (frames, hints).
CAUSE_RANKS = (
    re.compile(r"ERROR: \w*Sanitizer|runtime error:|WARNING: ThreadSanitizer"),
    re.compile(r"panicked at|\bpanic:|[Aa]ssertion.*failed|assertion failed|Fatal Python error|"
               r"terminate called|fatal error|Segmentation fault|Bus error|\bAborted\b|"
               r"\babort\(\)"),
    re.compile(r"\b\w*(Error|Exception)\b:|\berror\b|\bfailed\b|\bcannot\b|\bcan't\b|"
               r"No space left|Input/output error|\bE[A-Z]{2,}\b|\bcorrupt|\bmismatch|"
               r"\bmissing\b|\bdiffers?\b|\binconsistent\b|\bwrong\b|\bunexpected\b",
               re.I),
)
NOISE = re.compile(r"^\s*(\d+:\s|at\s|File \"|#\d+\s)|^stack backtrace:|RUST_BACKTRACE|"
                   r"^Traceback \(most recent call last\)|^\s{4}|^[-=~^ ]*$|^note: Some details")


def signame(n):
    try:
        return signal.Signals(n).name
    except ValueError:
        return "signal %d" % n


def exit_status(rc):
    """A shell's view of a status: 128+N for signal N; a hang was killed (137)."""
    if rc is None:
        return 128 + signal.SIGKILL
    return 128 - rc if rc < 0 else rc


def normalize(line, dirs=()):
    """A line as compared across runs: run directories, addresses, numbers out."""
    for d in dirs:
        if d:
            line = line.replace(d, "<dir>")
    line = re.sub(r"0x[0-9a-fA-F]+", "0x#", line)
    return re.sub(r"\d+", "#", line).strip()


def cause_lines(lines, limit=10):
    """(rank, line) of the lines that look like a cause, in order.  A line
    ending in ':' (Rust's 'panicked at FILE:LINE:COL:') takes the next one."""
    out = []
    for i, line in enumerate(lines):
        if NOISE.search(line):
            continue
        for rank, pat in enumerate(CAUSE_RANKS):
            if pat.search(line):
                text = line.strip()
                if text.endswith(":") and i + 1 < len(lines) and lines[i + 1].strip():
                    text += " " + lines[i + 1].strip()
                out.append((rank, text[:300]))
                break
        if len(out) >= limit:
            break
    return out


def best_cause(lines):
    """The line to show: the best-ranked cause, the first of its rank; else the
    first line that is not noise; else ''."""
    causes = cause_lines(lines)
    if causes:
        return min(causes, key=lambda c: c[0])[1]
    for line in lines:
        if line.strip() and not NOISE.search(line):
            return line.strip()[:300]
    return ""


def whole_lines(text, limit, end=True):
    """At most `limit` characters of text, cut at a line boundary: its last
    lines (end) or its first ones.  A single line longer than limit is cut
    as it must be."""
    if len(text) <= limit:
        return text
    if end:
        cut = text[-limit - 1:]
        nl = cut.find("\n")
        return cut[nl + 1:] if 0 <= nl < len(cut) - 1 else cut[1:]
    cut = text[:limit + 1]
    nl = cut.rfind("\n")
    return cut[:nl + 1] if 0 < nl < limit else cut[:limit]


def verify_why(verify_rc, err_head, err_tail="", out_head="", out_tail=""):
    """The detail of a failed VERIFY: its best cause line, from the first and
    last whole lines of its stderr, then of its stdout (a cause-looking line
    anywhere first, then the first other line of stderr, then of stdout)."""
    err = _dedup(err_head.splitlines() + err_tail.splitlines())
    out = _dedup(out_head.splitlines() + out_tail.splitlines())
    causes = cause_lines(err) or cause_lines(out)
    if causes:
        return min(causes, key=lambda c: c[0])[1]
    return best_cause(err) or best_cause(out) or (
        "VERIFY exit %d" % verify_rc if verify_rc > 0 else "VERIFY killed")


def _dedup(lines):
    seen, out = set(), []
    for line in lines:
        if line not in seen:
            seen.add(line)
            out.append(line)
    return out


def keep_stderr(head, tail, head_lines=20, limit=2000):
    """What a run's stderr is kept as: its first lines, its last characters,
    and its cause lines (from head and tail, which may overlap)."""
    lines = head.splitlines()
    seen, both = set(), []
    for line in lines + tail.splitlines():
        if line not in seen:
            seen.add(line)
            both.append(line)
    return dict(head="\n".join(lines[:head_lines])[:limit], tail=whole_lines(tail, limit),
                causes=[c for _, c in cause_lines(both)], best=best_cause(both))


def new_lines(lines, baseline, dirs=()):
    """The lines of stderr that the unharmed run did not print."""
    return [l for l in lines if l.strip() and normalize(l, dirs) not in baseline]


def classify(rc, err_lines, verify_rc, verify_text, baseline=frozenset(), dirs=(),
             default_sigxfsz=False):
    """(verdict, detail, signal name or '', cause line).

    rc: exit status, -N for signal N, None for a timeout.  verify_text:
    VERIFY's output, one text or (stderr head, stderr tail, stdout head,
    stdout tail).  err_lines: the
    target's stderr lines (head and tail).  baseline: normalized lines of the
    unharmed run's stderr.  default_sigxfsz: SIGXFSZ is the expected default
    action here (RLIMIT_FSIZE with the signal left at its default)."""
    fresh = new_lines(err_lines, baseline, dirs)
    cause = best_cause(fresh)
    if verify_rc is not None and verify_rc != 0:
        parts = (verify_text,) if isinstance(verify_text, str) else tuple(verify_text)
        return "data loss", verify_why(verify_rc, *parts), "", cause
    if rc is None:
        return "hang", "timed out", "", cause
    sig = -rc if rc < 0 else (rc - 128 if rc > 128 and (rc - 128) in CRASH_SIGNALS else 0)
    if sig:
        name = signame(sig)
        how = "" if rc < 0 else "exit %d, a shell's report of " % rc
        if sig == signal.SIGXFSZ and default_sigxfsz:
            return "default signal", how + name + " (default action at RLIMIT_FSIZE)", name, cause
        return "crash", how + name + (": " + cause if cause else ""), name, cause
    for mark in SANITIZER_MARKS:
        if any(mark in l for l in err_lines):
            return "crash", "sanitizer: " + (cause or mark), "", cause
    if rc == 0:
        return "ok", "", "", cause
    if fresh:
        return "clean error", "exit %d: %s" % (rc, cause or fresh[0].strip()[:300]), "", cause
    if any(l.strip() for l in err_lines):
        return "silent error", "exit %d; stderr only repeats the unharmed run's" % rc, "", ""
    return "silent error", "exit %d, nothing on stderr" % rc, "", ""


def span(values):
    """'2–5, 9, 12–13' for sorted integers."""
    values = sorted(set(values))
    parts, i = [], 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        parts.append(str(values[i]) if i == j else "%d–%d" % (values[i], values[j]))
        i = j + 1
    return ", ".join(parts)


def group_key(r):
    return (r["site"], r["mode"], r["verdict"], r.get("signal") or "",
            normalize(r.get("cause") or ""))


def group(findings):
    """Findings grouped by (site, mode, verdict, signal, cause), in order of
    first appearance; each group: its runs, sorted by call number or size."""
    groups = {}
    for r in findings:
        groups.setdefault(group_key(r), []).append(r)
    out = []
    for i, (key, runs) in enumerate(groups.items(), 1):
        runs = sorted(runs, key=lambda r: (r.get("n") or 0, r.get("limit") or 0))
        out.append(dict(id=i, site=key[0], mode=key[1], verdict=key[2], signal=key[3],
                        cause=runs[0].get("cause") or "", runs=runs))
    return out


def covers(g, human):
    """'calls 2–20' / 'limits 4 KiB–1.2 MiB' / 'runs 1–3' for a group."""
    runs = g["runs"]
    if runs[0].get("limit") is not None:
        lims = sorted(r["limit"] for r in runs)
        return "limit %s" % human(lims[0]) if len(lims) == 1 else \
            "limits %s–%s" % (human(lims[0]), human(lims[-1]))
    if runs[0]["mode"] == "fiu":
        return ("run " if len(runs) == 1 else "runs ") + span(r["n"] for r in runs)
    return ("call " if len(runs) == 1 else "calls ") + span(r["n"] for r in runs)
