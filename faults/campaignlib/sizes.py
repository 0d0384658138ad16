"""Which calls and which sizes a campaign tries: pure functions."""
import os

PAGE = os.sysconf("SC_PAGE_SIZE")


def human(n):
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            v = n / size
            return ("%d %s" if v == int(v) else "%.1f %s") % (v, unit)
    return "%d B" % n


def pick_ns(count, bound, cap, rng):
    """Call numbers to fail: 1..bound, the last, and a seeded sample between."""
    if count <= cap:
        return list(range(1, count + 1))
    ns = set(range(1, min(bound, count) + 1)) | {count}
    rest = range(bound + 1, count)
    ns |= set(rng.sample(rest, min(len(rest), max(0, cap - len(ns)))))
    return sorted(ns)


def ladder(lo, hi, cap, rng):
    """Up to cap sizes in [lo, hi]: geometric steps, then seeded fill; hi always."""
    lo, hi = max(1, lo), max(lo, hi)
    out, v = set(), lo
    while v < hi and len(out) < max(1, cap // 2):
        out.add(v)
        v *= 2
    out.add(hi)
    while len(out) < cap and len(out) < hi - lo + 1:
        out.add(rng.randint(lo, hi))
    return sorted(out)


def peak_on_disk(files):
    """Bytes the files took at most, in whole pages (a tmpfs counts pages),
    summed over files: an upper bound of the run's peak use of the disk."""
    return sum((f["disk_max"] + PAGE - 1) // PAGE * PAGE for f in files)


def disk_ladder(peak_bytes, asked_bytes, cap, rng):
    """Sizes for a full disk, in pages: from one page to past the unharmed
    run's peak (a quarter more and 4 pages), at least 16 pages; the last
    size should let the run succeed."""
    top = max(peak_bytes, asked_bytes)
    hi = max(16, (top * 5 // 4 + PAGE - 1) // PAGE + 4)
    return [p * PAGE for p in ladder(1, hi, cap, rng)]


def merge_left(files, left):
    """The shim's files (path, disk_max, size_max, how) with the files the run
    left on disk (path, disk, size: what a walk found after it): each file's
    largest size from either.  A file written where the shim saw no call (a
    shell's redirection: the shell opens it, a child writes and exits) is
    only in `left`."""
    out = [dict(f) for f in files]
    by_path = {f["path"]: f for f in out}
    for l in left:
        f = by_path.get(l["path"])
        if f is None:
            f = by_path[l["path"]] = dict(path=l["path"], disk_max=0, size_max=0, how=0)
            out.append(f)
        f["disk_max"] = max(f["disk_max"], l["disk"])
        f["size_max"] = max(f["size_max"], l["size"])
    return out
