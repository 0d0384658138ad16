"""runlib — what the black-box tools in faults/ share, so that they look and
behave alike: exit codes, the seed, the output directory per run, running a
command in its own session, the cause line of a stderr, the table, CSV/JSON,
the replay line and a progress line.

Used by faults/powerloss and (through campaignlib/conventions.py, which adds
the campaign's own replay and report lines) by faults/campaign: one copy.
"""
import csv
import datetime
import json
import os
import shlex
import signal
import subprocess
import sys
import time

EXIT_CLEAN, EXIT_FINDINGS, EXIT_BROKEN = 0, 1, 2  # 2: usage error or a run that proves nothing
DEFAULT_SEED = 1
CAUSE_MARKS = ("panic", "error", "abort", "assert", "fatal", "corrupt", "malformed", "violation",
               "failed", "expected", "sanitizer", "mismatch", "lost", "missing")


def pick_seed(text):
    """A fixed seed by default (runs repeat); 'random' takes one from the clock."""
    if text is None or text == "":
        return DEFAULT_SEED
    if text == "random":
        return int(time.time() * 1000) % 1000000007
    return int(text)


def out_dir(base, seed, now=None):
    """A new directory base/<UTC date>-<seed>[-k] for this run, and base/latest
    pointing at it: reports are kept, never overwritten."""
    base = os.path.abspath(base)
    os.makedirs(base, exist_ok=True)
    when = datetime.datetime.fromtimestamp(time.time() if now is None else now,
                                           datetime.timezone.utc)
    stem = os.path.join(base, "%s-%d" % (when.strftime("%Y%m%d-%H%M%S"), seed))
    path, k = stem, 1
    while True:
        try:
            os.mkdir(path)
            break
        except FileExistsError:
            k += 1
            path = "%s-%d" % (stem, k)
    link = os.path.join(base, "latest")
    tmp = link + ".%d" % os.getpid()
    try:
        os.symlink(os.path.basename(path), tmp)
        os.replace(tmp, link)
    except OSError:
        pass  # a file system without symlinks: the directory is printed anyway
    return path


def run_cmd(argv, cwd, env, timeout, out_path, err_path):
    """Run argv in its own session; (returncode or None on timeout, seconds).
    The whole session is killed afterwards: no background child outlives it."""
    t0 = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err, start_new_session=True)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            if rc is None:
                p.wait()
    return rc, time.monotonic() - t0


def run_capture(argv, cwd, env, timeout, limit=4000):
    """As run_cmd, with stdout and stderr captured through pipes (their last
    `limit` characters): no files to create per run, no polling for the exit.
    (returncode or None on timeout, seconds, stdout, stderr)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        rc = None
    try:  # the whole session: a background child must not outlive the run
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        pass
    if rc is None:
        out, err = p.communicate()
    dec = lambda b: b[-limit:].decode(errors="replace")
    return rc, time.monotonic() - t0, dec(out), dec(err)


def tail(path, limit=2000):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - limit))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def cause_line(text, limit=200):
    """The line that best says what went wrong: the first that looks like a
    cause, else the last non-empty one."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for l in lines:
        if any(m in l.lower() for m in CAUSE_MARKS):
            return l[:limit]
    return lines[-1][:limit] if lines else ""


def signame(n):
    try:
        return signal.Signals(n).name
    except ValueError:
        return "signal %d" % n


def status_text(rc):
    if rc is None:
        return "timed out"
    if rc < 0:
        return "killed by %s" % signame(-rc)
    return "exit %d" % rc


def print_table(cols, rows, out, left=1):
    """cols: header cells; rows: lists of cells; the first `left` columns
    are left-aligned, the rest right-aligned."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]

    def fmt(cells):
        return "  ".join(c.ljust(w) if i < left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    out.write(fmt(cols) + "\n")
    for r in rows:
        out.write(fmt(r) + "\n")


def write_csv(path, fields, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(fields)
        for r in rows:
            w.writerow(["" if r.get(k) is None else r.get(k) for k in fields])


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)


def shell_line(argv):
    return shlex.join(str(a) for a in argv)


class Progress:
    """One line on stderr while runs go: done/total, findings so far, ETA.
    Rewritten in place on a terminal (every 0.5 s), printed every 10 s
    otherwise; always once at the end."""

    def __init__(self, label, total, quiet=False, out=sys.stderr, unit="runs"):
        self.label, self.total, self.quiet, self.out, self.unit = label, total, quiet, out, unit
        self.t0 = self.last = time.monotonic()
        self.tty = out.isatty()

    def update(self, done, findings, force=False):
        now = time.monotonic()
        if self.quiet or (not force and done < self.total and
                          now - self.last < (0.5 if self.tty else 10)):
            return
        self.last = now
        eta = (now - self.t0) / done * (self.total - done) if done else 0
        line = "%s: %d/%d %s, %d finding(s), ETA %.0fs" % (
            self.label, done, self.total, self.unit, findings, eta)
        self.out.write(("\r%-79s" % line + ("\n" if done == self.total else ""))
                       if self.tty else line + "\n")
        self.out.flush()

    def finish(self):
        """Clear a terminal's progress line (the last update ended it otherwise)."""
        if self.tty and not self.quiet:
            self.out.write("\r%79s\r" % "")
            self.out.flush()
