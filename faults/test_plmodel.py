#!/usr/bin/env python3
"""Unit tests of faults/plmodel.py's pure parts: the durability rules, the
crash points and states, and building a state (python3 faults/test_plmodel.py)."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plmodel  # noqa: E402

F = "1.2.3.0"


def snap(kind, args=(), names=None, sizes=None, pages=(), ack=0, sid=None):
    s = plmodel.Snap(["E", sid or kind, kind, str(ack)] + list(args))
    s.names, s.sizes, s.pages = dict(names or {}), dict(sizes or {}), list(pages)
    return s


def log(*durable_calls, extra=()):
    """begin (empty dir), create f, two pages and 8 KiB written, then the calls."""
    snaps = [snap("begin"), snap("create", names={"f": F}, sizes={F: 0}),
             snap("ftruncate", names={"f": F}, sizes={F: 8192}, pages=[(F, 0, 1), (F, 1, 2)])]
    results = {}
    for i, (kind, args) in enumerate(durable_calls):
        sid = "c%d" % i
        snaps.append(snap(kind, args, names={"f": F}, sizes={F: 8192}, sid=sid))
        results[sid] = 0
    snaps += list(extra)
    return snaps, results


def labels(pt):
    return [it.label for it in pt.items]


class Rules(unittest.TestCase):
    def test_fsync_makes_data_and_size_durable_not_the_name(self):
        pts, _ = plmodel.crash_points(*log(("fsync", [F])))
        self.assertEqual([p.when for p in pts], ["before", "after"])  # the end: as "after"
        self.assertEqual(labels(pts[0]), ["f:p0", "f:p1", "f:size 0>8192", "dir . (+f)"])
        self.assertEqual(labels(pts[1]), ["dir . (+f)"])

    def test_names_durable_option(self):
        pts, _ = plmodel.crash_points(*log(("fsync", [F])), names_durable=True)
        self.assertEqual(labels(pts[1]), [])

    def test_msync_sync_covers_its_range_and_the_size(self):
        pts, _ = plmodel.crash_points(*log(("msync", ["4", F, "0", "4096"])))
        self.assertEqual(labels(pts[1]), ["f:p1", "dir . (+f)"])

    def test_msync_async_and_sfr_without_wait_make_nothing_durable(self):
        pts, merged = plmodel.crash_points(*log(("msync", ["1", F, "0", "8192"]),
                                                ("sfr", ["2", F, "0", "0"])))
        self.assertEqual(len(pts), 1)  # every later point is identical to the first: merged
        self.assertEqual(merged, 4)

    def test_sfr_with_wait_covers_data_not_size(self):
        pts, _ = plmodel.crash_points(*log(("sfr", ["7", F, "0", "0"])))
        self.assertEqual(labels(pts[1]), ["f:size 0>8192", "dir . (+f)"])

    def test_o_dsync_write_covers_its_range_and_the_size(self):
        pts, _ = plmodel.crash_points(*log(("dsync", [F, "4096", "100"])))
        self.assertEqual(labels(pts[1]), ["f:p0", "dir . (+f)"])

    def test_dirsync_and_failed_call(self):
        snaps, results = log(("fsync", [F]), ("dirsync", ["."]))
        results["c0"] = -1  # the fsync failed: nothing became durable
        pts, _ = plmodel.crash_points(snaps, results)
        self.assertEqual([p.when for p in pts], ["before", "after"])  # "after failed" = before
        self.assertEqual(labels(pts[-1]), ["f:p0", "f:p1", "f:size 0>8192"])

    def test_shrink_drops_pages_and_regrowth_reads_zero(self):
        extra = [snap("ftruncate", names={"f": F}, sizes={F: 0}),
                 snap("ftruncate", names={"f": F}, sizes={F: 8192})]
        pts, _ = plmodel.crash_points(*log(("syncall", []), extra=extra))
        self.assertEqual(labels(pts[-1]), ["f:p0", "f:p1"])  # zeros now, data durable


class States(unittest.TestCase):
    def test_spec_round_trip(self):
        for chosen, torn in [(set(), {}), ({0, 1, 2, 5}, {}), ({3}, {7: 0x0F})]:
            text = plmodel.spec_of(chosen, torn)
            self.assertEqual(plmodel.parse_spec(text), (chosen, torn))
        self.assertEqual(plmodel.spec_of({0, 1, 2, 5}), "0-2,5")

    def test_all_subsets_up_to_bound_then_sampled(self):
        pts, _ = plmodel.crash_points(*log(("fsync", [F])))
        rng = plmodel.new_rng(1, 0)
        self.assertEqual(len(plmodel.states(pts[0], 4, 0, 0, rng)), 16)
        got = plmodel.states(pts[0], 2, 3, 0, rng)
        self.assertIn("none", [s for s, _ in got])
        self.assertIn("0-3", [s for s, _ in got])
        self.assertLessEqual(len(plmodel.states(pts[0], 2, 3, 5, rng)), 5)


class Build(unittest.TestCase):
    def test_build_states_and_detect_changes(self):
        d = tempfile.mkdtemp()
        self.addCleanup(__import__("shutil").rmtree, d)
        with open(os.path.join(d, "pages"), "wb") as f:
            f.write(bytes(4096) + b"A" * 4096 + b"B" * 4096)
        pts, _ = plmodel.crash_points(*log(("fsync", [F])))
        b = plmodel.Builder(plmodel.Blob(d), os.path.join(d, "state"))
        path = os.path.join(d, "state", "f")
        b.build(pts, 0, "none")
        self.assertFalse(os.path.exists(path))
        b.build(pts, 0, "0-3")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"A" * 4096 + b"B" * 4096)
        self.assertTrue(b.intact())
        b.build(pts, 0, "1-3")  # page 0 old (a hole), the rest new
        with open(path, "rb") as f:
            self.assertEqual(f.read(), bytes(4096) + b"B" * 4096)
        with open(path, "ab") as f:
            f.write(b"x")
        self.assertFalse(b.intact())
        b.reset()
        b.build(pts, 1, "0")  # after the fsync: data durable, the name new
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"A" * 4096 + b"B" * 4096)

    def test_changes_that_keep_size_and_mtime_are_noticed(self):
        d = tempfile.mkdtemp()
        self.addCleanup(__import__("shutil").rmtree, d)
        with open(os.path.join(d, "pages"), "wb") as f:
            f.write(bytes(4096) + b"A" * 4096 + b"B" * 4096)
        pts, _ = plmodel.crash_points(*log(("fsync", [F])))
        b = plmodel.Builder(plmodel.Blob(d), os.path.join(d, "state"))
        path = os.path.join(d, "state", "f")
        b.build(pts, 0, "0-3")
        self.assertTrue(b.intact())
        with open(path, "r+b") as f:  # same size, mtime put back
            f.write(b"Z")
        os.utime(path, ns=(plmodel.SENTINEL_NS, plmodel.SENTINEL_NS))
        self.assertFalse(b.intact())
        b.reset()
        b.build(pts, 0, "0-3")
        os.mkdir(os.path.join(d, "state", "recovered"))  # an empty directory added
        self.assertFalse(b.intact())
        b.reset()
        b.build(pts, 0, "0-3")
        os.symlink("f", os.path.join(d, "state", "link"))
        self.assertFalse(b.intact())


if __name__ == "__main__":
    unittest.main()
