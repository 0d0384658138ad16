"""Tests of the campaign's pure parts: judging, grouping, sizes, conventions.
Run: python3 -m unittest faults/campaignlib/test_campaignlib.py (make check
runs it through faults/campaign-check.sh, one TAP line per test)."""
import os
import random
import signal
import struct
import tempfile
import unittest

from campaignlib import conventions as conv, judge, shimstate, sizes

RUST_PANIC = [
    "thread 'main' panicked at src/lib.rs:42:9:",
    "called `Result::unwrap()` on an `Err` value: Os { code: 5, kind: Uncategorized }",
    "stack backtrace:",
    "   0: std::rt::lang_start_internal",
    "             at /rustc/abc/library/std/src/rt.rs:148:48",
    "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.",
]
PY_TRACE = [
    "Traceback (most recent call last):",
    '  File "<string>", line 1, in <module>',
    "    os.ftruncate(fd, 1 << 20)",
    "OSError: [Errno 5] Input/output error",
]


class Judge(unittest.TestCase):
    def test_rust_panic_cause_is_the_unwrap_not_the_note(self):
        self.assertIn("Result::unwrap()", judge.best_cause(RUST_PANIC))
        self.assertIn("panicked at", judge.best_cause(RUST_PANIC))

    def test_python_cause_is_the_exception(self):
        self.assertEqual(judge.best_cause(PY_TRACE), "OSError: [Errno 5] Input/output error")

    def test_sanitizer_header_wins(self):
        lines = ["error: something", "==1==ERROR: AddressSanitizer: SEGV on unknown address"]
        self.assertIn("AddressSanitizer", judge.best_cause(lines))

    def test_keep_stderr_finds_the_cause_past_a_long_tail(self):
        head = "\n".join(RUST_PANIC[:2] + ["  %d: frame" % i for i in range(500)])
        tail = head[-2000:]
        kept = judge.keep_stderr(head, tail)
        self.assertIn("unwrap", kept["best"])
        self.assertLessEqual(len(kept["tail"]), 2000)
        self.assertTrue(kept["head"].startswith("thread 'main'"))

    def test_a_repeated_warning_is_not_a_clean_error(self):
        base = frozenset({judge.normalize("warning: unknown keyword 12")})
        v = judge.classify(1, ["warning: unknown keyword 7"], None, "", base)
        self.assertEqual(v[0], "silent error")
        v = judge.classify(1, ["warning: unknown keyword 7", "error: EIO"], None, "", base)
        self.assertEqual(v[0], "clean error")
        self.assertIn("error: EIO", v[1])

    def test_run_directory_in_a_message_is_not_new(self):
        base = frozenset({judge.normalize("opened <dir>/data")})
        v = judge.classify(1, ["opened /tmp/x/run-1/data"], None, "", base, ("/tmp/x/run-1",))
        self.assertEqual(v[0], "silent error")

    def test_sigxfsz_is_a_default_signal_only_at_fsize_sigxfsz(self):
        rc = -signal.SIGXFSZ
        self.assertEqual(judge.classify(rc, [], None, "", default_sigxfsz=True)[0],
                         "default signal")
        self.assertEqual(judge.classify(rc, [], None, "")[0], "crash")

    def test_shell_status_of_a_signal_is_a_crash(self):
        v = judge.classify(128 + signal.SIGBUS, [], None, "")
        self.assertEqual((v[0], v[2]), ("crash", "SIGBUS"))

    def test_verify_failure_is_data_loss_whatever_the_exit(self):
        self.assertEqual(judge.classify(0, [], 1, "row 4 missing")[0], "data loss")
        self.assertEqual(judge.classify(None, [], 0, "")[0], "hang")

    def test_a_long_verify_output_is_cut_at_lines_and_its_cause_kept(self):
        out = "verify: record 7 is corrupt\n" + "".join("%d\n" % i for i in range(1, 5001))
        tail = judge.whole_lines(out, 4000)
        self.assertTrue(tail.startswith(str(int(tail.split("\n")[0]))))
        self.assertEqual(out[-len(tail) - 1], "\n")  # a whole first line
        head = judge.whole_lines(out, 4000, end=False)
        self.assertTrue(out.startswith(head) and out[len(head) - 1:len(head) + 1].count("\n"))
        v = judge.classify(134, [], 1, ("", "", head, tail))
        self.assertEqual(v[:2], ("data loss", "verify: record 7 is corrupt"))
        # stderr's cause first; with no cause line at all, a whole first line
        self.assertEqual(judge.verify_why(1, "", "", head, tail), "verify: record 7 is corrupt")
        self.assertEqual(judge.verify_why(1, "", "", "1\n2\n", "29\n30\n"), "1")
        self.assertEqual(judge.verify_why(3, "", ""), "VERIFY exit 3")

    def test_exit_status_for_verify(self):
        self.assertEqual(judge.exit_status(-signal.SIGBUS), 128 + signal.SIGBUS)
        self.assertEqual(judge.exit_status(3), 3)
        self.assertEqual(judge.exit_status(None), 137)


def run(site, mode, n, verdict="crash", sig="SIGABRT", cause="panicked at x:1: EIO 12",
        limit=None):
    return dict(site=site, mode=mode, n=n, limit=limit, verdict=verdict, signal=sig,
                cause=cause, replay="replay %s %s %s" % (site, mode, n))


class Group(unittest.TestCase):
    def test_findings_group_by_site_mode_verdict_signal_cause(self):
        rs = [run("ftruncate", "transient", n, cause="EIO at call %d" % n) for n in (5, 2, 3)]
        rs += [run("ftruncate", "persistent", 2), run("ftruncate", "transient", 9, sig="SIGBUS")]
        gs = judge.group(rs)
        self.assertEqual([len(g["runs"]) for g in gs], [3, 1, 1])
        self.assertEqual(judge.covers(gs[0], sizes.human), "calls 2–3, 5")
        self.assertEqual(gs[0]["runs"][0]["replay"], "replay ftruncate transient 2")

    def test_sizes_group_by_limit_range(self):
        rs = [run("disk-full", "tmpfs", None, sig="SIGBUS", limit=l) for l in (8192, 4096)]
        g = judge.group(rs)[0]
        self.assertEqual(judge.covers(g, sizes.human), "limits 4 KiB–8 KiB")

    def test_span(self):
        self.assertEqual(judge.span([1, 2, 3, 7, 9, 10]), "1–3, 7, 9–10")


class Sizes(unittest.TestCase):
    def test_disk_ladder_reaches_past_the_peak(self):
        peak = 1536 << 10
        ladder = sizes.disk_ladder(peak, 0, 6, random.Random(1))
        self.assertGreater(ladder[-1], peak)
        self.assertEqual(ladder[0], sizes.PAGE)
        self.assertLessEqual(len(ladder), 6)

    def test_peak_counts_whole_pages_per_file(self):
        files = [dict(disk_max=1), dict(disk_max=sizes.PAGE + 1)]
        self.assertEqual(sizes.peak_on_disk(files), 3 * sizes.PAGE)

    def test_files_left_on_disk_count_in_the_peak(self):
        # `head -c 1M /dev/zero > big`: the shim noted big at 0 bytes (the
        # shell's open), the walk after the run found 1 MiB.
        files = [dict(path="/r/big", disk_max=0, size_max=0, how=4),
                 dict(path="/var/tmp/gone", disk_max=8192, size_max=8000, how=1)]
        left = [dict(path="/r/big", disk=1 << 20, size=1 << 20),
                dict(path="/r/other", disk=4096, size=10)]
        merged = sizes.merge_left(files, left)
        self.assertEqual(sizes.peak_on_disk(merged), (1 << 20) + 8192 + 4096)
        self.assertEqual(max(f["size_max"] for f in merged), 1 << 20)
        self.assertEqual(len(merged), 3)
        self.assertEqual(files[0]["disk_max"], 0)  # the input is left alone

    def test_pick_ns_is_seeded(self):
        a = sizes.pick_ns(1000, 16, 40, random.Random(7))
        self.assertEqual(a, sizes.pick_ns(1000, 16, 40, random.Random(7)))
        self.assertIn(1000, a)


class Conventions(unittest.TestCase):
    def test_default_seed_is_fixed(self):
        self.assertEqual(conv.pick_seed(None), conv.pick_seed(None))
        self.assertEqual(conv.pick_seed("42"), 42)

    def test_run_directories_are_kept_and_latest_follows(self):
        with tempfile.TemporaryDirectory() as d:
            a = conv.out_dir(d, 5, now=0)
            b = conv.out_dir(d, 5, now=0)
            self.assertEqual(os.path.basename(a), "19700101-000000-5")
            self.assertEqual(os.path.basename(b), "19700101-000000-5-2")
            self.assertNotEqual(a, b)
            self.assertTrue(os.path.isdir(a) and os.path.isdir(b))
            self.assertEqual(os.path.realpath(os.path.join(d, "latest")), os.path.realpath(b))

    def test_replay_line_quotes_dollar_once(self):
        line = conv.replay_line("campaign", "replay", [("n", 3), ("x", None), ("flag", True)],
                                ["--cmd", 'echo "$TMPDIR"'])
        self.assertEqual(line, "campaign replay --n 3 --flag --cmd 'echo \"$TMPDIR\"'")


class ShimState(unittest.TestCase):
    HEADER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "preload", "nthfail.h")

    def test_offsets_follow_nthfail_h(self):
        with open(self.HEADER) as f:
            h = f.read()
        for text in ("#define NT_CALLERS %d" % shimstate.NCALLERS,
                     "#define NT_FILES %d" % shimstate.NFILES,
                     "== %d" % shimstate.STATE_BYTES,
                     " %d   failer" % shimstate.FAILER,
                     " %d   %d callers" % (shimstate.CALLERS, shimstate.NCALLERS),
                     " %d   %d files" % (shimstate.FILES, shimstate.NFILES)):
            self.assertIn(text, h)

    def test_read_back(self):
        data = bytearray(shimstate.STATE_BYTES)
        struct.pack_into("<40sQQQ", data, 0, b"mmap", 7, 1, 0)
        struct.pack_into("<II248s", data, shimstate.FAILER, 1, 3, b"prog")
        struct.pack_into("<QQ48s", data, shimstate.CALLERS + 64 * 5, 99, 7, b"mmap\tlibx.so")
        struct.pack_into("<QQQII224s", data, shimstate.FILES + 256 * 3, 1, 8192, 5000, 1, 2,
                         b"/var/tmp/f (deleted)")
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            st = shimstate.read_state(f.name)
        self.assertEqual(st["counts"]["mmap"], (7, 1))
        self.assertEqual(st["failed_by"], "prog (program, before main)")
        self.assertEqual(st["callers"], {"mmap": {"libx.so": 7}})
        self.assertEqual(st["files"], [dict(path="/var/tmp/f", disk_max=8192, size_max=5000,
                                            how=2)])

    def test_missing_or_short_file_reads_empty(self):
        self.assertEqual(shimstate.read_state("/nonexistent")["counts"], {})


if __name__ == "__main__":
    unittest.main()
