"""plmodel — the power-loss model over a recorder log (faults/powerloss.c).

Reads the snapshots, applies what each call makes durable, and yields crash
points: (durable image, pending items).  A crash state is the durable image
plus a chosen subset of the pending items, each item taken new (as the page
cache had it) or old (as last made durable); a page item may also be torn at
512-byte sectors.  Builder writes a crash state into a directory, rewriting
only what differs from the state it built before.

The model (README-powerloss.md says the same):
  fsync, fdatasync: the whole file, data and size;
  msync MS_SYNC: the pages of that range, and the size;
  sync_file_range with WRITE and WAIT_AFTER: that range, not the size;
  sync, syncfs: everything;  msync MS_ASYNC, munmap, close: nothing;
  a write through an O_DSYNC or O_SYNC descriptor: its range, and the size;
  a size change is durable only once one of the above covers it;
  a directory's entries (create, rename, unlink) only after an fsync of the
  directory; until then a crash leaves the directory as it was at its last
  fsync or as it is now (intermediate versions are not explored).
"""
import hashlib
import os
import random
import shutil
import stat

PAGE = 4096
SECTOR = 512
MS_SYNC = 4
SFR_WRITE, SFR_WAIT_AFTER = 2, 4
DURABILITY = ("fsync", "fdatasync", "msync", "sfr", "dsync", "dirsync", "syncall")


class Snap:
    __slots__ = ("id", "kind", "ack", "args", "names", "sizes", "pages")

    def __init__(self, fields):
        self.id, self.kind, self.ack = fields[1], fields[2], int(fields[3])
        self.args = fields[4:]
        self.names, self.sizes, self.pages = {}, {}, []


def parse_log(logdir):
    """(snapshots, results by id); a snapshot cut short (no Z) is dropped."""
    snaps, results, cur = [], {}, None
    with open(os.path.join(logdir, "events"), "r", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            tag = line[:1]
            if tag == "E":
                cur = Snap(line.split(" "))
            elif tag == "N" and cur is not None:
                _, fid, size, rel = line.split(" ", 3)
                cur.names[rel] = fid
                cur.sizes[fid] = int(size)
            elif tag == "P" and cur is not None:
                _, fid, page, idx = line.split(" ")
                cur.pages.append((fid, int(page), int(idx)))
            elif tag == "Z" and cur is not None:
                snaps.append(cur)
                cur = None
            elif tag == "R":
                _, rid, rc = line.split(" ")
                results[rid] = int(rc)
    return snaps, results


def outside_calls(logdir):
    """{path: {kind: count}}: the durability calls the recorder saw on files
    outside the run directory ("O KIND PATH" lines), which it does not record."""
    out = {}
    try:
        f = open(os.path.join(logdir, "events"), "r", errors="replace")
    except OSError:
        return out
    with f:
        for line in f:
            if line.startswith("O "):
                parts = line.rstrip("\n").split(" ", 2)
                if len(parts) == 3:
                    kinds = out.setdefault(parts[2], {})
                    kinds[parts[1]] = kinds.get(parts[1], 0) + 1
    return out


AUTOMATIC = ("begin", "exit", "mark")  # snapshots the recorder takes on its own


def pages_of(size):
    return (size + PAGE - 1) // PAGE


def parent(rel):
    return os.path.dirname(rel) or "."


class Item:
    """One pending change: kind 'page' (fid, page, old, new blob indices),
    'size' (fid, old, new sizes) or 'dir' (dir, changes {rel: fid or None})."""
    __slots__ = ("kind", "fid", "page", "old", "new", "dir", "changes", "label")

    def __init__(self, kind, fid=None, page=None, old=None, new=None, dir=None, changes=None,
                 label=""):
        self.kind, self.fid, self.page, self.old, self.new = kind, fid, page, old, new
        self.dir, self.changes, self.label = dir, changes, label


class Point:
    __slots__ = ("index", "when", "kind", "call", "ack", "items", "diff", "dsize", "dns", "detail")


class Model:
    def __init__(self, names_durable=False):
        self.cur, self.cur_size, self.dur, self.dur_size = {}, {}, {}, {}
        self.pending = {}
        self.ns_cur, self.ns_dur = {}, {}
        self.names_durable = names_durable
        self.version = 0
        self.diff, self.dsize, self.dns = [], {}, {}

    # -- the page cache's view
    def set_size(self, fid, new):
        old = self.cur_size.get(fid, 0)
        if new == old and fid in self.cur_size:
            return
        self.version += 1
        self.cur_size[fid] = new
        cur, dur = self.cur.setdefault(fid, {}), self.dur.setdefault(fid, {})
        pend = self.pending.setdefault(fid, set())
        po, pn = pages_of(old), pages_of(new)
        if pn < po:
            for p in [p for p in cur if p >= pn]:
                del cur[p]
            for p in [p for p in pend if p >= pn]:
                pend.discard(p)
        else:  # pages that grow back read as zeros: pending where the durable image has data
            for p in dur:
                if po <= p < pn and dur[p] != cur.get(p, 0):
                    pend.add(p)

    def set_page(self, fid, p, idx):
        cur = self.cur.setdefault(fid, {})
        if cur.get(p, 0) == idx:
            return
        self.version += 1
        if idx:
            cur[p] = idx
        else:
            cur.pop(p, None)
        pend = self.pending.setdefault(fid, set())
        if idx != self.dur.setdefault(fid, {}).get(p, 0):
            pend.add(p)
        else:
            pend.discard(p)

    def apply(self, snap):
        if snap.names != self.ns_cur:
            self.version += 1
            self.ns_cur = dict(snap.names)
        for fid, size in snap.sizes.items():
            self.set_size(fid, size)
        for fid, p, idx in snap.pages:
            self.set_page(fid, p, idx)
        if self.names_durable:
            self.sync_names(None)

    # -- what becomes durable
    def sync_file(self, fid, lo=0, hi=None, size=True):
        cur, dur = self.cur.get(fid, {}), self.dur.setdefault(fid, {})
        pend = self.pending.setdefault(fid, set())
        for p in [p for p in pend if p >= lo and (hi is None or p < hi)]:
            v = cur.get(p, 0)
            if v:
                dur[p] = v
            else:
                dur.pop(p, None)
            self.diff.append((fid, p, v))
            pend.discard(p)
            self.version += 1
        if size and self.dur_size.get(fid, 0) != self.cur_size.get(fid, 0):
            new = self.cur_size.get(fid, 0)
            self.dur_size[fid] = self.dsize[fid] = new
            for p in [p for p in dur if p >= pages_of(new)]:
                del dur[p]
                self.diff.append((fid, p, 0))
            self.version += 1

    def sync_names(self, d):
        for rel in set(self.ns_cur) | set(self.ns_dur):
            if (d is None or parent(rel) == d) and self.ns_cur.get(rel) != self.ns_dur.get(rel):
                v = self.ns_cur.get(rel)
                if v is None:
                    del self.ns_dur[rel]
                else:
                    self.ns_dur[rel] = v
                self.dns[rel] = v
                self.version += 1

    def make_durable(self, snap):
        k, a = snap.kind, snap.args
        if k in ("fsync", "fdatasync") and a:
            self.sync_file(a[0])
        elif k == "msync" and a and int(a[0]) & MS_SYNC:
            for i in range(1, len(a) - 2, 3):
                off, ln = int(a[i + 1]), int(a[i + 2])
                self.sync_file(a[i], off // PAGE, pages_of(off + ln), True)
        elif k == "dsync" and len(a) >= 3:  # a write through an O_DSYNC descriptor
            off, ln = int(a[1]), int(a[2])
            self.sync_file(a[0], off // PAGE, pages_of(off + ln), True)
        elif k == "sfr" and len(a) >= 4:
            flags, fid, off, nb = int(a[0]), a[1], int(a[2]), int(a[3])
            if flags & SFR_WRITE and flags & SFR_WAIT_AFTER:
                self.sync_file(fid, off // PAGE, pages_of(off + nb) if nb > 0 else None, False)
        elif k == "dirsync":
            self.sync_names(a[0] if a else ".")
        elif k == "syncall":
            for fid in list(self.cur_size):
                self.sync_file(fid)
            self.sync_names(None)

    # -- crash points
    def names_of(self):
        out = {}
        for ns in (self.ns_dur, self.ns_cur):
            for rel, fid in ns.items():
                out.setdefault(fid, rel)
        return out

    def items(self):
        named = self.names_of()
        out = []
        for fid in sorted(named, key=named.get):
            rel = named[fid]
            cur, dur = self.cur.get(fid, {}), self.dur.get(fid, {})
            for p in sorted(self.pending.get(fid, ())):
                out.append(Item("page", fid, p, dur.get(p, 0), cur.get(p, 0),
                                label="%s:p%d" % (rel, p)))
            o, n = self.dur_size.get(fid, 0), self.cur_size.get(fid, 0)
            if o != n:
                out.append(Item("size", fid, None, o, n, label="%s:size %d>%d" % (rel, o, n)))
        dirs = {}
        for rel in set(self.ns_cur) | set(self.ns_dur):
            if self.ns_cur.get(rel) != self.ns_dur.get(rel):
                dirs.setdefault(parent(rel), {})[rel] = self.ns_cur.get(rel)
        for d in sorted(dirs):
            what = ",".join("%s%s" % ("~" if v and r in self.ns_dur else "+" if v else "-",
                                      os.path.basename(r)) for r, v in sorted(dirs[d].items()))
            out.append(Item("dir", dir=d, changes=dirs[d], label="dir %s (%s)" % (d, what)))
        return out

    def point(self, when, kind, call, ack, detail):
        pt = Point()
        pt.when, pt.kind, pt.call, pt.ack, pt.detail = when, kind, call, ack, detail
        pt.items = self.items()
        pt.diff, pt.dsize, pt.dns = self.diff, self.dsize, self.dns
        self.diff, self.dsize, self.dns = [], {}, {}
        return pt


def crash_points(snaps, results, names_durable=False):
    """The crash points: before and after each durability call, and the end.
    A point identical to the previous one (same state, same acks) is merged
    into it.  Returns (points, merged count)."""
    m = Model(names_durable)
    points, merged, last, call = [], 0, None, 0

    def emit(when, kind, ack, detail):
        nonlocal last, merged
        sig = (m.version, ack)
        if sig == last:
            merged += 1
            return
        last = sig
        pt = m.point(when, kind, call, ack, detail)
        pt.index = len(points)
        points.append(pt)

    for i, s in enumerate(snaps):
        m.apply(s)
        if i == 0:  # what existed before the program ran is durable
            for fid in list(m.cur_size):
                m.sync_file(fid)
            m.sync_names(None)
            m.version += 1
            continue
        if s.kind not in DURABILITY:
            continue
        call += 1
        rel = m.names_of()
        detail = " ".join(rel.get(x, x) for x in s.args if x in rel) or " ".join(s.args[:1])
        emit("before", s.kind, s.ack, detail)
        rc = results.get(s.id)
        if rc is None:
            continue  # the process died inside the call: no "after"
        if rc == 0:
            m.make_durable(s)
        emit("after" if rc == 0 else "after failed", s.kind, s.ack, detail)
    emit("end", "end", snaps[-1].ack if snaps else 0, "")
    return points, merged


# ---------------------------------------------------------------- crash states

def spec_of(chosen, torn=None):
    """Canonical text of a state: item ranges new ("0-2,5"), torn items as
    I@MASK (sectors taken new); "none" when every item is old."""
    out, run = [], None
    for i in sorted(chosen):
        if run and i == run[1] + 1:
            run[1] = i
        else:
            run = [i, i]
            out.append(run)
    parts = ["%d" % a if a == b else "%d-%d" % (a, b) for a, b in out]
    parts += ["%d@%x" % (i, m) for i, m in sorted((torn or {}).items())]
    return ",".join(parts) or "none"


def parse_spec(text):
    chosen, torn = set(), {}
    if text in ("none", ""):
        return chosen, torn
    for part in text.split(","):
        if "@" in part:
            i, m = part.split("@")
            torn[int(i)] = int(m, 16)
        elif "-" in part:
            a, b = part.split("-")
            chosen.update(range(int(a), int(b) + 1))
        else:
            chosen.add(int(part))
    return chosen, torn


def states(pt, bound, sample, cap, rng, torn_sectors=None):
    """[(spec, description)] for one crash point."""
    n = len(pt.items)
    if n == 0:
        return [("none", "durable image (nothing pending)")]
    out = {}
    if n <= bound:
        for mask in range(1 << n):
            ch = {i for i in range(n) if mask >> i & 1}
            out.setdefault(spec_of(ch), "subset %d of %d" % (mask, 1 << n))
    else:
        everything = set(range(n))
        base = [(spec_of(set()), "all old"), (spec_of(everything), "all new")]
        rest = [(spec_of({i}), "only %s new" % pt.items[i].label) for i in range(n)]
        rest += [(spec_of(everything - {i}), "all new but %s" % pt.items[i].label)
                 for i in range(n)]
        rest += [(spec_of({i for i in range(n) if rng.random() < 0.5}), "random sample %d" % k)
                 for k in range(sample)]
        if cap and len(base) + len(rest) > cap:
            rest = rng.sample(rest, max(0, cap - len(base)))
        for spec, why in base + rest:
            out.setdefault(spec, why)
    if torn_sectors:
        pages = [i for i, it in enumerate(pt.items) if it.kind == "page"]
        if cap and len(pages) > max(1, cap // 4):
            pages = sorted(rng.sample(pages, max(1, cap // 4)))
        for i in pages:
            diff = torn_sectors(pt.items[i])
            if len(diff) < 2:
                continue  # a page that differs in one sector cannot tear
            mask = 0
            while mask in (0, sum(1 << s for s in diff)):
                mask = sum(1 << s for s in diff if rng.random() < 0.5)
            others = set(range(n)) - {i}
            out.setdefault(spec_of(set(), {i: mask}), "%s torn, the rest old" % pt.items[i].label)
            out.setdefault(spec_of(others, {i: mask}), "%s torn, the rest new" % pt.items[i].label)
    return list(out.items())


class Blob:
    def __init__(self, logdir):
        self.f = open(os.path.join(logdir, "pages"), "rb")

    def page(self, idx):
        if not idx:
            return bytes(PAGE)
        self.f.seek(idx * PAGE)
        return self.f.read(PAGE)

    def sectors_differing(self, item):
        a, b = self.page(item.old), self.page(item.new)
        return [s for s in range(PAGE // SECTOR) if a[s * SECTOR:(s + 1) * SECTOR] !=
                b[s * SECTOR:(s + 1) * SECTOR]]

    def content(self, key):
        if isinstance(key, tuple):  # torn: (new, old, mask)
            new, old, mask = self.page(key[0]), self.page(key[1]), key[2]
            return b"".join((new if mask >> s & 1 else old)[s * SECTOR:(s + 1) * SECTOR]
                            for s in range(PAGE // SECTOR))
        return self.page(key)


SENTINEL_NS = 1_000_000_000_000_000_000  # mtime 2001-09-09: anything VERIFY writes is newer
HASH_LIMIT = 4 << 20  # states up to this many bytes are hashed to notice what VERIFY changed


def file_digest(path):
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return h.digest()
            h.update(chunk)


class Builder:
    """Writes crash states of one log into root, point after point (points
    must come in increasing order), rewriting only what changed since the
    state it built last; starts afresh when VERIFY changed the directory
    (intact(): the files' contents hashed when the state holds at most
    HASH_LIMIT bytes; always inode, size, mtime and ctime; no other entry)."""

    def __init__(self, blob, root):
        self.blob, self.root = blob, root
        self.dur, self.dur_size, self.ns_dur = {}, {}, {}
        # rel -> [fid, size, over {page: key}, stale set, (ino, ctime_ns), digest or None]
        self.disk = {}
        self.dirs = set()
        self.at = -1
        os.makedirs(root, exist_ok=True)

    def advance(self, points, upto):
        """Apply the durable changes of points (self.at, upto]."""
        for pt in points[self.at + 1:upto + 1]:
            for fid, p, v in pt.diff:
                d = self.dur.setdefault(fid, {})
                if v:
                    d[p] = v
                else:
                    d.pop(p, None)
                for rec in self.disk.values():
                    if rec[0] == fid:
                        rec[3].add(p)
            self.dur_size.update(pt.dsize)
            for rel, fid in pt.dns.items():
                if fid is None:
                    self.ns_dur.pop(rel, None)
                else:
                    self.ns_dur[rel] = fid
        self.at = max(self.at, upto)

    def target(self, pt, spec):
        chosen, torn = parse_spec(spec)
        ns = dict(self.ns_dur)
        over, sizes = {}, {}
        for i, it in enumerate(pt.items):
            new = i in chosen
            if it.kind == "page" and (new or i in torn):
                key = (it.new, it.old, torn[i]) if i in torn and not new else it.new
                over.setdefault(it.fid, {})[it.page] = key
            elif it.kind == "size" and new:
                sizes[it.fid] = it.new
            elif it.kind == "dir" and new:
                for rel, fid in it.changes.items():
                    if fid is None:
                        ns.pop(rel, None)
                    else:
                        ns[rel] = fid
        return ns, over, sizes

    def build(self, points, index, spec):
        pt = points[index]
        self.advance(points, index)
        ns, over, sizes = self.target(pt, spec)
        for rel in [r for r in self.disk if ns.get(r) != self.disk[r][0]]:
            os.unlink(os.path.join(self.root, rel))
            del self.disk[rel]
        for rel, fid in sorted(ns.items()):
            size = sizes.get(fid, self.dur_size.get(fid, 0))
            self.write_file(rel, fid, size, over.get(fid, {}))
        hashing = sum(rec[1] for rec in self.disk.values()) <= HASH_LIMIT
        for rel, rec in self.disk.items():
            rec[5] = file_digest(os.path.join(self.root, rel)) if hashing else None
        self.dirs = {d for rel in self.disk for d in parents(rel)}

    def write_file(self, rel, fid, size, over):
        path = os.path.join(self.root, rel)
        dur = self.dur.get(fid, {})
        rec = self.disk.get(rel)
        npages = pages_of(size)
        if rec is None:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            touch = set(p for p in dur if p < npages) | set(over)
            rec = self.disk[rel] = [fid, 0, {}, set(), None, None]
        else:
            fd = os.open(path, os.O_RDWR)
            touch = set(rec[2]) | rec[3] | set(over)
            if size > rec[1]:  # the part that grows back reads as zeros: rewrite it
                touch |= set(p for p in dur if pages_of(rec[1]) - 1 <= p < npages)
        try:
            if rec[1] != size:
                os.ftruncate(fd, size)
            new_over = {}
            for p in touch:
                if p >= npages:
                    continue
                key = over.get(p, dur.get(p, 0))
                data = self.blob.content(key)
                if p == npages - 1 and size % PAGE:
                    data = data[:size % PAGE]
                os.pwrite(fd, data, p * PAGE)
                if key != dur.get(p, 0):
                    new_over[p] = key
            rec[1], rec[2], rec[3] = size, new_over, set()
        finally:
            os.close(fd)
        os.utime(path, ns=(SENTINEL_NS, SENTINEL_NS))
        st = os.lstat(path)
        rec[4] = (st.st_ino, st.st_ctime_ns)

    def intact(self):
        """True when the directory still holds exactly what build() wrote: the
        same entries (no file or directory added or removed, no symlink), each
        file with its inode, size, mtime and ctime (a VERIFY that writes and
        puts the mtime back still changes the ctime) and, for a state of at
        most HASH_LIMIT bytes, its content hash."""
        seen = set()
        for dirpath, dirs, files in os.walk(self.root):
            for name in dirs:
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or os.path.relpath(path, self.root) not in self.dirs:
                    return False
            for name in files:
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, self.root)
                rec = self.disk.get(rel)
                try:
                    st = os.lstat(path)
                    if (rec is None or not stat.S_ISREG(st.st_mode) or st.st_size != rec[1] or
                            st.st_mtime_ns != SENTINEL_NS or
                            (st.st_ino, st.st_ctime_ns) != rec[4] or
                            (rec[5] is not None and file_digest(path) != rec[5])):
                        return False
                except OSError:
                    return False
                seen.add(rel)
        return seen == set(self.disk)

    def reset(self):
        for name in os.listdir(self.root):
            path = os.path.join(self.root, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        self.disk = {}
        self.dirs = set()


def parents(rel):
    """The directories above rel, below the root: "a/b/f" -> {"a", "a/b"}."""
    out, d = set(), os.path.dirname(rel)
    while d:
        out.add(d)
        d = os.path.dirname(d)
    return out


def ack_text(logdir, nbytes):
    """The acknowledgement lines written before a crash point (whole lines)."""
    try:
        with open(os.path.join(logdir, "acks"), "rb") as f:
            data = f.read(nbytes)
    except OSError:
        return ""
    cut = data.rfind(b"\n")
    return data[:cut + 1].decode(errors="replace") if cut >= 0 else ""


def new_rng(seed, index):
    return random.Random(seed * 1000003 + index)
