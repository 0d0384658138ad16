"""Conventions of the fault explorers (faults/campaign, the power-loss one):
where a run's results go, how a finding is replayed, what the exit status
means, how seeds are chosen, how results are written.  Nothing here knows
what a site or a verdict is."""
import csv
import json
import os
import shlex
import sys
import time

# Exit status of an explorer and of its replay subcommand.
EXIT_OK = 0          # nothing in a --fail-on verdict
EXIT_FINDINGS = 1    # findings (or, with --expect-findings, the self-test failed)
EXIT_USAGE = 2       # usage error, or the unharmed run is not ok: nothing was judged
EXIT_MEANING = {EXIT_OK: "no findings", EXIT_FINDINGS: "findings",
                EXIT_USAGE: "usage error or broken unharmed run"}

DEFAULT_SEED = 1


def parse_seed(text):
    """A fixed seed by default (runs repeat); 'random' takes one from the clock."""
    if text is None:
        return DEFAULT_SEED
    if text == "random":
        return int(time.time() * 1000) % 1000000007
    return int(text)


def make_run_dir(parent, seed, now=None):
    """parent/<date>-<seed>/, fresh, and parent/latest pointing at it."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = os.path.join(parent, "%s-%d" % (stamp, seed))
    path, i = base, 1
    while True:
        try:
            os.makedirs(path)
            break
        except FileExistsError:
            i += 1
            path = "%s.%d" % (base, i)
    link = os.path.join(parent, "latest")
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
    """done/total, findings so far and an ETA, on one line: rewritten in
    place on a terminal, otherwise printed every tenth of the way."""

    def __init__(self, total, out=sys.stderr, label="campaign"):
        self.total, self.out, self.label = total, out, label
        self.done = self.findings = 0
        self.t0 = time.monotonic()
        self.tty = out.isatty()
        self.next_mark = 0

    def line(self):
        secs = time.monotonic() - self.t0
        eta = secs / self.done * (self.total - self.done) if self.done else 0
        return "%s: %d/%d runs, %d finding(s), ETA %ds" % (
            self.label, self.done, self.total, self.findings, round(eta))

    def step(self, finding):
        self.done += 1
        self.findings += bool(finding)
        if self.tty:
            self.out.write("\r" + self.line() + ("\n" if self.done == self.total else ""))
            self.out.flush()
        elif self.done >= self.next_mark or self.done == self.total:
            self.out.write(self.line() + "\n")
            self.out.flush()
            self.next_mark = self.done + max(1, self.total // 10)
