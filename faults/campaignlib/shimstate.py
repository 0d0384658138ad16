"""The state file of faults/preload/nthfail.so, read back (layout:
faults/preload/nthfail.h; the offsets here must follow it)."""
import struct

STATE_BYTES = 65536
SLOTS, FAILER, CALLERS, FILES = 0, 4096, 4352, 8192
NCALLERS, NFILES = 60, 224
FLAGS = {0: "", 1: " (program)", 2: " (before main)", 3: " (program, before main)"}


def cstr(b):
    return b.split(b"\0", 1)[0].decode(errors="replace")


def read_state(path):
    """The shim's state file (layout: faults/preload/nthfail.h): counts by slot
    name {name: (calls, fired)}, who made the first failed call, calls per site
    and object, the files written with their peak sizes."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        data = b""
    out = dict(counts={}, failed_by=None, callers={}, files=[])
    if len(data) < STATE_BYTES:
        return out
    for off in range(SLOTS, FAILER, 64):
        name, calls, fired, _ = struct.unpack_from("<40sQQQ", data, off)
        if cstr(name):
            out["counts"][cstr(name)] = (calls, fired)
    taken, flags, obj = struct.unpack_from("<II248s", data, FAILER)
    if taken:
        out["failed_by"] = cstr(obj) + FLAGS[flags & 3]
    for i in range(NCALLERS):
        key, calls, name = struct.unpack_from("<QQ48s", data, CALLERS + 64 * i)
        if key:
            site, _, obj = cstr(name).partition("\t")
            out["callers"].setdefault(site, {})[obj] = calls
    for i in range(NFILES):
        key, disk, size, _, how, p = struct.unpack_from("<QQQII224s", data, FILES + 256 * i)
        if key:
            path = cstr(p)
            if path.endswith(" (deleted)"):
                path = path[:-len(" (deleted)")]
            out["files"].append(dict(path=path, disk_max=disk, size_max=size, how=how))
    return out
