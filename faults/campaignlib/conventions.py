"""Conventions of the fault explorers (faults/campaign, the power-loss one):
where a run's results go, how a finding is replayed, what the exit status
means, how seeds are chosen, how results are written.  Nothing here knows
what a site or a verdict is.  The names and behaviour match faults/runlib.py
of the power-loss explorer (pick_seed, out_dir, EXIT_*, write_csv,
write_json, Progress(label, total).update(done, findings)), written at the
same time on another branch: one of the two can replace the other."""
import csv
import datetime
import json
import os
import shlex
import sys
import time

# Exit status of an explorer and of its replay subcommand.
EXIT_CLEAN = 0       # nothing in a --fail-on verdict
EXIT_FINDINGS = 1    # findings (or, with --expect-findings, the self-test failed)
EXIT_BROKEN = 2      # usage error, or the unharmed run is not ok: nothing was judged
EXIT_MEANING = {EXIT_CLEAN: "no findings", EXIT_FINDINGS: "findings",
                EXIT_BROKEN: "usage error or broken unharmed run"}

DEFAULT_SEED = 1


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


def replay_line(tool, subcommand, options, target_args):
    """One shell line: tool subcommand --opt value ... target."""
    args = [tool, subcommand]
    for key, value in options:
        if value is True:
            args.append("--" + key)
        elif value is not None and value is not False:
            args += ["--" + key, str(value)]
    return shlex.join(args + list(target_args))


def write_csv(path, fields, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(fields)
        for r in rows:
            w.writerow(["" if r.get(k) is None else r.get(k) for k in fields])


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)


def header_lines(meta):
    """The first lines of report.txt: enough to rerun and to compare."""
    keys = ("command", "target", "verify", "seed", "date", "version")
    return ["%-8s %s" % (k + ":", meta.get(k) if meta.get(k) is not None else "(none)")
            for k in keys]


class Progress:
    """One line on stderr while runs go: done/total, findings so far, ETA.
    Rewritten in place on a terminal (every 0.5 s), printed every 10 s
    otherwise; always once at the end."""

    def __init__(self, label, total, quiet=False, out=sys.stderr):
        self.label, self.total, self.quiet, self.out = label, total, quiet, out
        self.t0 = self.last = time.monotonic()
        self.tty = out.isatty()

    def update(self, done, findings, force=False):
        now = time.monotonic()
        if self.quiet or (not force and done < self.total and
                          now - self.last < (0.5 if self.tty else 10)):
            return
        self.last = now
        eta = (now - self.t0) / done * (self.total - done) if done else 0
        line = "%s: %d/%d runs, %d finding(s), ETA %.0fs" % (
            self.label, done, self.total, findings, eta)
        self.out.write(("\r%-79s" % line + ("\n" if done == self.total else ""))
                       if self.tty else line + "\n")
        self.out.flush()
