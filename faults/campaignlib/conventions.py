"""Conventions of the fault explorers (faults/campaign, the power-loss one):
where a run's results go, how a finding is replayed, what the exit status
means, how seeds are chosen, how results are written.  Nothing here knows
what a site or a verdict is.  What the power-loss explorer shares (the seed,
the run directory, CSV/JSON, the progress line, exit codes) comes from
faults/runlib.py, the one copy; this module adds the campaign's replay and
report-header lines."""
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from runlib import (DEFAULT_SEED, EXIT_BROKEN, EXIT_CLEAN, EXIT_FINDINGS,  # noqa: E402,F401
                    Progress, out_dir, pick_seed, write_csv, write_json)

# Exit status of the campaign and of its replay: EXIT_CLEAN nothing in a
# --fail-on verdict; EXIT_FINDINGS findings (or, with --expect-findings, the
# self-test failed); EXIT_BROKEN usage error or the unharmed run is not ok.
EXIT_MEANING = {EXIT_CLEAN: "no findings", EXIT_FINDINGS: "findings",
                EXIT_BROKEN: "usage error or broken unharmed run"}


def replay_line(tool, subcommand, options, target_args):
    """One shell line: tool subcommand --opt value ... target."""
    args = [tool, subcommand]
    for key, value in options:
        if value is True:
            args.append("--" + key)
        elif value is not None and value is not False:
            args += ["--" + key, str(value)]
    return shlex.join(args + list(target_args))


def header_lines(meta):
    """The first lines of report.txt: enough to rerun and to compare."""
    keys = ("command", "target", "verify", "seed", "date", "version")
    return ["%-8s %s" % (k + ":", meta.get(k) if meta.get(k) is not None else "(none)")
            for k in keys]
