/* seedlike — a deliberately defective implementation of core/diskalloc.h,
 * for `make stress-selftest` only (never part of the core).  Without a defect
 * selected it is a working implementation of the same contract, written
 * independently of core/diskalloc.c; SEEDLIKE_DEFECT=NAME turns on exactly one
 * of the Rust crate diskallocator 0.1.1's defects (0.1.0 for the leak):
 *
 *   state_before_resize         the new size (and end of allocation) is
 *                               recorded before the resize and kept when it fails
 *   no_copy_on_grow             growing a block that is not last hands out new
 *                               space without copying the old bytes
 *   no_reservation_bound        growth past the reservation "succeeds"
 *   sparse_growth               ftruncate only: a store on a full disk is SIGBUS
 *   abort_on_ftruncate_failure  abort() when ftruncate fails
 *   leak_mapping_per_resize     a new mapping of the reservation per resize,
 *                               never unmapped
 * and one the crate cannot have (it has no persistent vector), so that the
 * crash driver is proven able to fail too:
 *   shrink_without_sync         shrink_to_fit cuts the file below the synced
 *                               length: the durable header then claims bytes
 *                               the file lost
 * and three of the classes issue 9 found in the core (it keeps contracts C1,
 * C2, C3, C4, C5, C6 and C10 of .notes/hardening-contract.md when none is selected):
 *   moving_data                 an own-arena vector's growth moves its data
 *                               (allocate at the end, copy, punch the old
 *                               block) without updating its recorded offset
 *   sparse_open                 da_vec_open / da_arena_open_fd take capacity
 *                               from a file's size without allocating the
 *                               blocks of its holes
 *   open_leftover               a failed da_vec_open leaves the file it created
 *   fork_unlock                 a forked child's copies stay live: its close
 *                               syncs, truncates and unlocks the parent's file
 * and two only a power loss shows (stress/powerloss; stress/crash cannot):
 *   nosync                      msync and fsync do nothing
 *   header-first                the header is written and synced before the
 *                               data it covers
 *
 * It calls the core's libfiu fail points (diskalloc/ftruncate, ...) with the
 * same errno convention (failinfo, else EIO), so the fault harness injects
 * into it as into the core.  Build with -DFIU_ENABLE and link -lfiu. */
#define _GNU_SOURCE
#include "diskalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <fiu-local.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the defect switch ----------------------------------------------------- */

enum {
    D_NONE,
    D_MOVING_DATA, D_SPARSE_OPEN, D_OPEN_LEFTOVER, /* issue 9 */
    D_STATE_BEFORE_RESIZE,
    D_NO_COPY_ON_GROW,
    D_NO_RESERVATION_BOUND,
    D_SPARSE_GROWTH,
    D_ABORT_ON_FTRUNCATE,
    D_LEAK_MAPPING,
    D_SHRINK_WITHOUT_SYNC,
    D_FORK_UNLOCK,
    D_NOSYNC,
    D_HEADER_FIRST,
};

static const char *const defect_names[] = {
    "none",
    "moving_data", "sparse_open", "open_leftover",
    "state_before_resize",        "no_copy_on_grow",
    "no_reservation_bound", "sparse_growth", "abort_on_ftruncate_failure",
    "leak_mapping_per_resize", "shrink_without_sync", "fork_unlock", "nosync", "header-first",
};

static int defect(void)
{
    static atomic_int cached = -1;
    int d = atomic_load(&cached);
    if (d >= 0)
        return d;
    const char *env = getenv("SEEDLIKE_DEFECT");
    d = D_NONE;
    if (env && *env) {
        d = -1;
        for (int i = 0; i < (int)(sizeof defect_names / sizeof *defect_names); i++)
            if (!strcmp(env, defect_names[i]))
                d = i;
        if (d < 0) { /* a typo must not pass as "no defect" */
            fprintf(stderr, "seedlike: unknown SEEDLIKE_DEFECT=%s\n", env);
            exit(2);
        }
    }
    atomic_store(&cached, d);
    return d;
}

/* ---- fail points, as the core declares them --------------------------------- */

static int fp(const char *name)
{
    (void)name; /* unused when fiu_fail compiles to 0 */
    if (!fiu_fail(name))
        return 0;
    void *info = fiu_failinfo();
    errno = info ? (int)(intptr_t)info : EIO;
    return 1;
}
#define FP(call) fp("diskalloc/" call)

static const char *const points[] = {
    "diskalloc/open",      "diskalloc/mkostemp", "diskalloc/unlink",
    "diskalloc/fstat",     "diskalloc/flock",    "diskalloc/calloc",   "diskalloc/mmap",
    "diskalloc/munmap",    "diskalloc/ftruncate", "diskalloc/fallocate", "diskalloc/pwrite",
    "diskalloc/msync",     "diskalloc/fsync",    NULL,
};

const char *const *da_failpoint_names(void) { return points; }

/* ---- arenas ------------------------------------------------------------------ */

struct da_arena {
    unsigned char *base;
    size_t reserved, size, used, page;
    int fd, sticky;
    unsigned flags;
    int owned;  /* opened by a vector: the raw interface is refused (C1) */
    int gate;   /* nonzero refuses writes: sticky error or fork (push_fast reads it) */
    int forked; /* C4: a copy inherited through fork() */
    struct da_arena *next, *prev;
};

static int refused(const da_arena *a) { return a && a->owned; }
static int refusal(const da_arena *a)
{
    return a->forked ? DA_EFORKED : a->sticky ? DA_EPOISONED : 0;
}

/* C4: every open arena, so that a forked child's copies become inert (the
 * fork_unlock defect leaves them live, as the old core did). */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static da_arena *registry;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void reg_prepare(void) { pthread_mutex_lock(&registry_lock); }
static void reg_parent(void) { pthread_mutex_unlock(&registry_lock); }
static void reg_child(void)
{
    for (da_arena *a = registry; a && defect() != D_FORK_UNLOCK; a = a->next)
        a->forked = a->gate = 1;
    pthread_mutex_unlock(&registry_lock);
}
static void reg_init(void) { (void)pthread_atfork(reg_prepare, reg_parent, reg_child); }
static void reg_add(da_arena *a)
{
    pthread_once(&atfork_once, reg_init);
    pthread_mutex_lock(&registry_lock);
    a->next = registry;
    if (registry)
        registry->prev = a;
    registry = a;
    pthread_mutex_unlock(&registry_lock);
}
static void reg_remove(da_arena *a)
{
    pthread_mutex_lock(&registry_lock);
    if (a->prev)
        a->prev->next = a->next;
    else
        registry = a->next;
    if (a->next)
        a->next->prev = a->prev;
    pthread_mutex_unlock(&registry_lock);
}

static atomic_size_t live_arenas, live_bytes;
static _Thread_local size_t failed_reserve;

static size_t up(size_t x, size_t a) { return (x + a - 1) / a * a; }
static size_t down(size_t x, size_t a) { return x / a * a; }
static size_t smaller(size_t a, size_t b) { return a < b ? a : b; }

static int err_of(int failed) { return failed ? errno : 0; }

static void punch(da_arena *a, size_t from, size_t to)
{
    if (from < to && !FP("fallocate"))
        (void)fallocate(a->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)from,
                        (off_t)(to - from));
}

static int do_ftruncate(da_arena *a, size_t n)
{
    int e = err_of(FP("ftruncate") || ftruncate(a->fd, (off_t)n) != 0);
    if (e && defect() == D_ABORT_ON_FTRUNCATE)
        abort(); /* the crate panics inside the allocator: the process is gone */
    return e;
}

static int allocate(da_arena *a, size_t from, size_t to)
{
    if ((a->flags & DA_SPARSE) || defect() == D_SPARSE_GROWTH)
        return 0;
    int e = err_of(FP("fallocate") ||
                   fallocate(a->fd, FALLOC_FL_KEEP_SIZE, (off_t)from, (off_t)(to - from)) != 0);
    if (e != EOPNOTSUPP) {
        if (e)
            punch(a, from, to);
        return e;
    }
    static const char zeros[1 << 14];
    for (size_t off = from; off < to;) {
        ssize_t w = FP("pwrite") ? -1 : pwrite(a->fd, zeros, smaller(to - off, sizeof zeros),
                                               (off_t)off);
        if (w <= 0)
            return w < 0 ? errno : EIO;
        off += (size_t)w;
    }
    return 0;
}

/* Set the file's size to n; on failure nothing changes (unless defective). */
static int set_size(da_arena *a, size_t n)
{
    if (defect() == D_LEAK_MAPPING) /* 0.1.0 remapped on every resize */
        (void)mmap(NULL, a->reserved, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, a->fd, 0);
    size_t old = a->size;
    if (defect() == D_STATE_BEFORE_RESIZE)
        a->size = n;
    if (n == old)
        return 0;
    int e = 0;
    if (n > old) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            (rlim_t)n > rl.rlim_cur)
            return EFBIG; /* before the call: it would raise SIGXFSZ */
        e = allocate(a, old, n);
    }
    if (e == 0)
        e = do_ftruncate(a, n);
    if (e) {
        if (n > old && defect() != D_STATE_BEFORE_RESIZE)
            (void)ftruncate(a->fd, (off_t)old); /* the pwrite path may have extended it */
        return e;
    }
    a->size = n;
    return 0;
}

static int parse_reserve(const da_config *cfg, size_t *out)
{
    size_t r = cfg ? cfg->reserve : 0;
    const char *env = getenv("DISKALLOC_RESERVE");
    if (r == 0 && env && *env) {
        if (*env < '0' || *env > '9') /* strtoull would skip blanks and wrap "-1" */
            return DA_EINVAL;
        char *end;
        unsigned long long n = strtoull(env, &end, 10);
        int shift = 0;
        const char *u = strchr("KMGTP", *end & ~0x20);
        if (*end && u) {
            shift = 10 * (int)(u - "KMGTP" + 1);
            end += 1 + (end[1] == 'i');
            end += *end == 'B';
        }
        if (*end || n == 0 || n > (SIZE_MAX >> shift))
            return DA_EINVAL;
        r = (size_t)n << shift;
    }
    *out = r ? r : DA_DEFAULT_RESERVE;
    return 0;
}

/* An fd from da_arena_open_fd shares its open file, and its flock, with the
 * caller's: unlock, or the file stays locked while the caller keeps it. */
static void release(int fd)
{
    (void)flock(fd, LOCK_UN);
    close(fd);
}

static int arena_new(da_arena **out, int fd, size_t size, const da_config *cfg)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), res = 0;
    int e = cfg && (cfg->flags & ~DA_SPARSE) ? DA_EINVAL : parse_reserve(cfg, &res);
    if (e == 0 && res > SIZE_MAX - page)
        e = DA_EOVERFLOW;
    res = e ? 0 : up(res, page);
    if (e == 0 && size > res)
        e = DA_ECAPACITY;
    da_arena *a = NULL;
    if (e == 0 && !(a = FP("calloc") ? NULL : calloc(1, sizeof *a)))
        e = ENOMEM;
    if (e == 0) {
        a->base = FP("mmap") ? MAP_FAILED
                             : mmap(NULL, res, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                                    fd, 0);
        if (a->base == MAP_FAILED) {
            e = errno;
            failed_reserve = res;
        }
    }
    if (e) {
        free(a);
        release(fd);
        return e;
    }
    *a = (da_arena){.base = a->base, .reserved = res, .size = size, .used = size, .page = page,
                    .fd = fd, .flags = cfg ? cfg->flags : 0};
    reg_add(a);
    atomic_fetch_add(&live_arenas, 1);
    atomic_fetch_add(&live_bytes, res);
    *out = a;
    return 0;
}

int da_arena_open(da_arena **out, const da_config *cfg)
{
    if (!out)
        return DA_EINVAL;
    *out = NULL;
    failed_reserve = 0;
    const char *dir = cfg && cfg->dir ? cfg->dir : getenv("TMPDIR");
    dir = dir && *dir ? dir : "/var/tmp";
    int fd = FP("open") ? -1 : open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
        char path[PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/seedlike-XXXXXX", dir) >= sizeof path)
            return ENAMETOOLONG;
        fd = FP("mkostemp") ? -1 : mkostemp(path, O_CLOEXEC);
        if (fd >= 0 && (FP("unlink") || unlink(path) != 0)) {
            int e = errno;
            close(fd);
            return e;
        }
    }
    return fd < 0 ? errno : arena_new(out, fd, 0, cfg);
}

static int lock_and_size(int fd, size_t *size)
{
    struct stat st;
    if (FP("fstat") || fstat(fd, &st) != 0)
        return errno;
    if (!S_ISREG(st.st_mode))
        return DA_EINVAL;
    if (FP("flock") || flock(fd, LOCK_EX | LOCK_NB) != 0)
        return errno;
    *size = (size_t)st.st_size;
    return 0;
}

/* C2: the blocks of a file's existing bytes are allocated before it is
 * mapped (a sparse copy's holes would be SIGBUS on a full disk); where
 * fallocate is missing, zeros go into the holes only. */
static int fill_holes(int fd, size_t size)
{
    if (size == 0 || defect() == D_SPARSE_OPEN)
        return 0;
    int e = err_of(FP("fallocate") || fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)size) != 0);
    if (e != EOPNOTSUPP)
        return e;
    static const char zeros[1 << 14];
    for (off_t at = 0; (size_t)at < size;) {
        off_t h = lseek(fd, at, SEEK_HOLE), d;
        if (h < 0)
            return errno;
        if ((size_t)h >= size)
            return 0;
        if ((d = lseek(fd, h, SEEK_DATA)) < 0 && errno != ENXIO)
            return errno;
        if (d < 0 || (size_t)d > size)
            d = (off_t)size;
        for (at = h; at < d;) {
            ssize_t w = FP("pwrite") ? -1
                                     : pwrite(fd, zeros, smaller((size_t)(d - at), sizeof zeros), at);
            if (w <= 0)
                return w < 0 ? errno : EIO;
            at += w;
        }
    }
    return 0;
}

/* C3: the arena's own open file description of the caller's file, so that
 * its flock conflicts with the caller's and its unlock never is the caller's. */
int da_arena_open_fd(da_arena **out, int fd, const da_config *cfg)
{
    if (!out)
        return DA_EINVAL;
    *out = NULL;
    failed_reserve = 0;
    int fl = fcntl(fd, F_GETFL);
    struct stat st;
    if (fl < 0 || (fl & O_PATH) || (fl & O_ACCMODE) != O_RDWR || fstat(fd, &st) != 0 ||
        !S_ISREG(st.st_mode))
        return DA_EINVAL;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    int d = FP("open") ? -1 : open(proc, O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (d < 0)
        return errno;
    size_t size = 0;
    int e = lock_and_size(d, &size);
    if (!e)
        e = fill_holes(d, size);
    if (e) {
        close(d);
        return e;
    }
    return arena_new(out, d, size, cfg);
}

int da_arena_close(da_arena *a)
{
    if (!a)
        return 0;
    int e = a->forked ? 0 : a->sticky;
    if (FP("munmap") || munmap(a->base, a->reserved) != 0)
        e = e ? e : errno;
    if (a->forked)
        close(a->fd); /* the parent's lock stays */
    else
        release(a->fd);
    reg_remove(a);
    atomic_fetch_sub(&live_arenas, 1);
    atomic_fetch_sub(&live_bytes, a->reserved);
    free(a);
    return e;
}

void *da_arena_base(const da_arena *a) { return a ? a->base : NULL; }
size_t da_arena_size(const da_arena *a) { return a ? a->size : 0; }
size_t da_arena_reserved(const da_arena *a) { return a ? a->reserved : 0; }
int da_arena_error(const da_arena *a) { return a ? a->sticky : DA_EINVAL; }

static int beyond(const da_arena *a, size_t end)
{
    return end > a->reserved && defect() != D_NO_RESERVATION_BOUND;
}

int da_arena_resize(da_arena *a, size_t size)
{
    if (!a || refused(a))
        return DA_EINVAL;
    if (a->gate)
        return refusal(a);
    if (beyond(a, size))
        return DA_ECAPACITY;
    int e = set_size(a, size);
    if (e == 0 && a->used > size)
        a->used = size;
    return e;
}

static int keep_error(da_arena *a, int e)
{
    if (e && !a->sticky)
        a->sticky = a->gate = e;
    return e;
}

static int msync_range(da_arena *a, size_t off, size_t len)
{
    size_t from = down(off, a->page), to = up(off + len, a->page);
    if (to == from || defect() == D_NOSYNC)
        return 0;
    return err_of(FP("msync") || msync(a->base + from, to - from, MS_SYNC) != 0);
}

static int do_fsync(da_arena *a)
{
    return defect() == D_NOSYNC ? 0 : err_of(FP("fsync") || fsync(a->fd) != 0);
}

/* A new file's directory entry is durable before the open returns (C6). */
static int sync_parent(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir] = 0;
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e = fd < 0 ? errno : defect() == D_NOSYNC ? 0 : err_of(fsync(fd) != 0);
    if (fd >= 0)
        close(fd);
    return e;
}

int da_arena_sync(da_arena *a)
{
    if (!a)
        return DA_EINVAL;
    if (a->forked)
        return DA_EFORKED;
    if (a->sticky)
        return a->sticky;
    int e = msync_range(a, 0, a->size);
    return keep_error(a, e ? e : do_fsync(a));
}

/* ---- the allocator ------------------------------------------------------------ */

static int pow2(size_t x) { return x && !(x & (x - 1)); }

static int inside(const da_arena *a, const void *p, size_t n)
{
    uintptr_t b = (uintptr_t)a->base, q = (uintptr_t)p;
    return q >= b && q - b <= a->used && n <= a->used - (q - b);
}

static int new_block(da_arena *a, size_t size, size_t align, int zero, void **out)
{
    if (!a || !out || !pow2(align))
        return DA_EINVAL;
    if (a->gate)
        return refusal(a);
    if (size == 0) {
        *out = (void *)(uintptr_t)align;
        return 0;
    }
    uintptr_t at = (uintptr_t)a->base + a->used;
    if (at > UINTPTR_MAX - align)
        return DA_EOVERFLOW;
    size_t off = (size_t)(((at + align - 1) & ~(uintptr_t)(align - 1)) - (uintptr_t)a->base);
    if (off > SIZE_MAX - a->page - size)
        return DA_EOVERFLOW;
    if (beyond(a, off + size))
        return DA_ECAPACITY;
    size_t old_file = a->size, need = up(off + size, a->page);
    if (defect() == D_STATE_BEFORE_RESIZE)
        a->used = off + size;
    if (need > a->size) {
        int e = set_size(a, need);
        if (e)
            return e;
    }
    if (zero && off < smaller(off + size, old_file))
        memset(a->base + off, 0, smaller(off + size, old_file) - off);
    a->used = off + size;
    *out = a->base + off;
    return 0;
}

int da_alloc(da_arena *a, size_t size, size_t align, void **out)
{
    return refused(a) ? DA_EINVAL : new_block(a, size, align, 0, out);
}

int da_alloc_zeroed(da_arena *a, size_t size, size_t align, void **out)
{
    return refused(a) ? DA_EINVAL : new_block(a, size, align, 1, out);
}

static void free_block(da_arena *a, void *p, size_t size)
{
    if (!a || !size || !inside(a, p, size) || a->forked)
        return;
    size_t off = (size_t)((unsigned char *)p - a->base);
    if (off + size == a->used) {
        a->used = off;
        if (up(off, a->page) < a->size)
            (void)set_size(a, up(off, a->page));
    } else {
        punch(a, up(off, a->page), down(off + size, a->page));
    }
}

static int relocate(da_arena *a, void **p, size_t old, size_t n, size_t keep, size_t align,
                    int zero)
{
    void *q;
    int e = new_block(a, n, align, zero, &q);
    if (e)
        return e;
    if (defect() != D_NO_COPY_ON_GROW)
        memcpy(q, *p, keep);
    free_block(a, *p, old);
    *p = q;
    return 0;
}

static int grow(da_arena *a, void **p, size_t old, size_t n, size_t align, int zero)
{
    if (!a || !p || !pow2(align) || n < old)
        return DA_EINVAL;
    if (old == 0)
        return new_block(a, n, align, zero, p);
    if (!inside(a, *p, old))
        return DA_EINVAL;
    if (a->gate)
        return refusal(a);
    size_t off = (size_t)((unsigned char *)*p - a->base);
    if (off + old != a->used || ((uintptr_t)*p & (align - 1)))
        return relocate(a, p, old, n, old, align, zero);
    if (n > SIZE_MAX - a->page - off)
        return DA_EOVERFLOW;
    if (beyond(a, off + n))
        return DA_ECAPACITY;
    size_t old_file = a->size, need = up(off + n, a->page);
    if (defect() == D_STATE_BEFORE_RESIZE)
        a->used = off + n;
    if (need > a->size) {
        int e = set_size(a, need);
        if (e)
            return e;
    }
    if (zero && off + old < smaller(off + n, old_file))
        memset(a->base + off + old, 0, smaller(off + n, old_file) - off - old);
    a->used = off + n;
    return 0;
}

static int shrink_block(da_arena *a, void **p, size_t old_size, size_t new_size, size_t align)
{
    if (!a || !p || !pow2(align) || new_size > old_size)
        return DA_EINVAL;
    if (old_size == 0)
        return 0;
    if (!inside(a, *p, old_size))
        return DA_EINVAL;
    if (a->gate)
        return refusal(a);
    if (new_size == 0) { /* C5: a failed truncation is reported, never swallowed */
        size_t off = (size_t)((unsigned char *)*p - a->base);
        if (off + old_size == a->used && up(off, a->page) < a->size) {
            int e = set_size(a, up(off, a->page));
            if (e)
                return e;
        }
        free_block(a, *p, old_size);
        *p = (void *)(uintptr_t)align;
        return 0;
    }
    if ((uintptr_t)*p & (align - 1))
        return relocate(a, p, old_size, new_size, new_size, align, 0);
    size_t off = (size_t)((unsigned char *)*p - a->base), end = off + new_size;
    if (off + old_size != a->used) {
        punch(a, up(end, a->page), down(off + old_size, a->page));
        return 0;
    }
    if (up(end, a->page) < a->size) {
        int e = set_size(a, up(end, a->page));
        if (e)
            return e;
    }
    a->used = end;
    return 0;
}

void da_free(da_arena *a, void *p, size_t size)
{
    if (!refused(a))
        free_block(a, p, size);
}

int da_grow(da_arena *a, void **p, size_t old_size, size_t new_size, size_t align)
{
    return refused(a) ? DA_EINVAL : grow(a, p, old_size, new_size, align, 0);
}

int da_grow_zeroed(da_arena *a, void **p, size_t old_size, size_t new_size, size_t align)
{
    return refused(a) ? DA_EINVAL : grow(a, p, old_size, new_size, align, 1);
}

int da_shrink(da_arena *a, void **p, size_t old_size, size_t new_size, size_t align)
{
    return refused(a) ? DA_EINVAL : shrink_block(a, p, old_size, new_size, align);
}

/* ---- vectors ------------------------------------------------------------------- */

static void *own_data(const da_vec *v)
{
    return v->own_arena_ ? v->arena_->base + v->head_ : NULL;
}

static void attach(da_vec *v, da_arena *a, size_t elem, int own)
{
    memset(v, 0, sizeof *v);
    v->arena_ = a;
    v->poison_ = &a->gate;
    v->elem_size = elem;
    v->own_arena_ = (unsigned char)own;
    a->owned |= own;
    v->head_ = a->used;
    v->data = own_data(v);
}

int da_vec_init(da_vec *v, size_t elem_size, const da_config *cfg)
{
    if (!v)
        return DA_EINVAL;
    memset(v, 0, sizeof *v);
    if (!elem_size)
        return DA_EINVAL;
    da_arena *a;
    int e = da_arena_open(&a, cfg);
    if (!e)
        attach(v, a, elem_size, 1);
    return e;
}

int da_vec_init_in(da_vec *v, size_t elem_size, da_arena *a)
{
    if (!v)
        return DA_EINVAL;
    memset(v, 0, sizeof *v);
    if (!elem_size || !a || refused(a))
        return DA_EINVAL;
    attach(v, a, elem_size, 0);
    return 0;
}

static int resize_block(da_vec *v, size_t bytes)
{
    void *p = v->data;
    da_arena *a = v->arena_;
    int e = defect() == D_MOVING_DATA && v->own_arena_ && v->bytes_ && bytes > v->bytes_
                ? relocate(a, &p, v->bytes_, bytes, v->bytes_, a->page, 0) /* head_ kept */
            : bytes > v->bytes_ ? grow(a, &p, v->bytes_, bytes, a->page, 0)
                                : shrink_block(a, &p, v->bytes_, bytes, a->page);
    if (e)
        return e;
    v->bytes_ = bytes;
    v->data = bytes ? p : own_data(v);
    v->cap = bytes / v->elem_size;
    return 0;
}

static int reserve(da_vec *v, size_t more, int exact)
{
    if (!v || !v->arena_)
        return DA_EINVAL;
    if (*v->poison_)
        return refusal(v->arena_);
    if (more <= v->cap - v->len)
        return 0;
    size_t page = v->arena_->page;
    if (more > SIZE_MAX - v->len || v->len + more > (SIZE_MAX - page) / v->elem_size)
        return DA_EOVERFLOW;
    size_t need = up((v->len + more) * v->elem_size, page);
    size_t step = v->bytes_ < ((size_t)64 << 10) ? (size_t)64 << 10
                  : v->bytes_ > ((size_t)1 << 30) ? (size_t)1 << 30 : v->bytes_;
    if (!exact && v->bytes_ <= SIZE_MAX - page - step && v->bytes_ + step > need &&
        resize_block(v, v->bytes_ + step) == 0)
        return 0;
    return resize_block(v, need);
}

int da_vec_try_reserve(da_vec *v, size_t additional) { return reserve(v, additional, 0); }
int da_vec_try_reserve_exact(da_vec *v, size_t additional) { return reserve(v, additional, 1); }

int da_vec_extend(da_vec *v, const void *elems, size_t n)
{
    if (!v || !v->arena_ || (!elems && n))
        return DA_EINVAL;
    const unsigned char *src = elems, *d = v->data;
    int self = d && src >= d && src < d + v->len * v->elem_size;
    size_t rel = self ? (size_t)(src - d) : 0;
    int e = reserve(v, n, 0);
    if (e || !n)
        return e;
    if (self)
        src = (const unsigned char *)v->data + rel;
    memmove((unsigned char *)v->data + v->len * v->elem_size, src, n * v->elem_size);
    v->len += n;
    return 0;
}

int da_vec_push(da_vec *v, const void *elem)
{
    return elem ? da_vec_extend(v, elem, 1) : DA_EINVAL;
}

int da_vec_pop(da_vec *v, void *out)
{
    if (!v || !v->arena_)
        return DA_EINVAL;
    if (*v->poison_)
        return refusal(v->arena_);
    if (!v->len)
        return DA_EEMPTY;
    v->len--;
    if (out)
        memcpy(out, (unsigned char *)v->data + v->len * v->elem_size, v->elem_size);
    return 0;
}

void da_vec_truncate(da_vec *v, size_t len)
{
    if (v && len < v->len)
        v->len = len;
}

void *da_vec_at(const da_vec *v, size_t i)
{
    return v && i < v->len ? (unsigned char *)v->data + i * v->elem_size : NULL;
}

da_arena *da_vec_arena(const da_vec *v) { return v ? v->arena_ : NULL; }

/* ---- persistent vectors: two checksummed header slots, data from 4 KiB ---- */

#define MAGIC "SEEDLIK1"
#define SLOT 1024u

typedef struct {
    char magic[8];
    uint64_t elem, len, data_off, seq, sum;
} header;

static uint64_t checksum(const header *h)
{
    const unsigned char *p = (const unsigned char *)h;
    uint64_t x = 1469598103934665603ull;
    for (size_t i = 0; i < offsetof(header, sum); i++)
        x = (x ^ p[i]) * 1099511628211ull;
    return x;
}

static int commit(da_vec *v)
{
    da_arena *a = v->arena_;
    header h = {{0}, v->elem_size, v->len, v->head_, v->seq_ + 1, 0};
    memcpy(h.magic, MAGIC, 8);
    h.sum = checksum(&h);
    unsigned char *slot = a->base + (h.seq & 1) * SLOT, old[sizeof h];
    memcpy(old, slot, sizeof h);
    memcpy(slot, &h, sizeof h);
    int e = msync_range(a, 0, a->page);
    e = keep_error(a, e ? e : do_fsync(a));
    if (!e) {
        v->seq_ = h.seq;
        v->synced_len_ = v->len;
    } else {
        memcpy(slot, old, sizeof h); /* a failed sync must not publish its length later */
    }
    return e;
}

static int load(da_vec *v)
{
    da_arena *a = v->arena_;
    size_t head = a->page > 4096 ? a->page : 4096;
    header h[2];
    int ok[2];
    for (int i = 0; i < 2; i++) {
        ok[i] = a->size >= (i + 1) * SLOT;
        if (ok[i]) {
            memcpy(&h[i], a->base + i * SLOT, sizeof h[i]);
            ok[i] = !memcmp(h[i].magic, MAGIC, 8) && h[i].sum == checksum(&h[i]);
        }
    }
    if (!ok[0] && !ok[1]) {
        if (a->size > head) /* a cut-short creation is all zeros within a page */
            return DA_EBADFILE;
        for (size_t i = 0; i < a->size; i++)
            if (a->base[i])
                return DA_EBADFILE;
        int e = set_size(a, head);
        v->head_ = head;
        return e ? e : commit(v);
    }
    const header *b = ok[0] && (!ok[1] || h[0].seq > h[1].seq) ? &h[0] : &h[1];
    if (b->elem != v->elem_size || b->data_off < 4096 || b->data_off > a->size ||
        b->len > (a->size - b->data_off) / v->elem_size)
        return DA_EBADFILE;
    v->head_ = (size_t)b->data_off;
    v->len = v->synced_len_ = (size_t)b->len;
    v->seq_ = b->seq;
    v->bytes_ = a->size - v->head_;
    v->cap = v->bytes_ / v->elem_size;
    return 0;
}

int da_vec_open(da_vec *v, const char *path, size_t elem_size, const da_config *cfg)
{
    if (!v)
        return DA_EINVAL;
    memset(v, 0, sizeof *v);
    if (!path || !elem_size)
        return DA_EINVAL;
    failed_reserve = 0;
    /* C10: what is not a regular file is never opened for writing */
    struct stat st;
    int probe = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (probe >= 0) {
        int bad = fstat(probe, &st) != 0 ? errno : S_ISLNK(st.st_mode) ? ELOOP
                                                : !S_ISREG(st.st_mode) ? DA_EBADFILE : 0;
        close(probe);
        if (bad)
            return bad;
    }
    /* C6: a file this call creates is removed again on any failure */
    int fd = FP("open") ? -1 : open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK),
        created = 0;
    if (fd < 0 && errno == ENOENT) {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        created = fd >= 0 && defect() != D_OPEN_LEFTOVER;
    }
    if (fd < 0)
        return errno;
    size_t size = 0;
    int e = lock_and_size(fd, &size);
    if (!e)
        e = fill_holes(fd, size);
    if (e) {
        if (created)
            unlink(path);
        close(fd);
        return e == DA_EINVAL ? DA_EBADFILE : e;
    }
    da_arena *a;
    if ((e = arena_new(&a, fd, size, cfg))) {
        if (created)
            unlink(path);
        return e;
    }
    attach(v, a, elem_size, 1);
    v->persistent_ = 1;
    if ((e = load(v)) || (size == 0 && (e = sync_parent(path)))) {
        if (created)
            unlink(path);
        da_arena_close(a);
        memset(v, 0, sizeof *v);
        return e;
    }
    a->used = v->head_ + v->bytes_;
    v->data = own_data(v);
    return 0;
}

int da_vec_sync(da_vec *v)
{
    if (!v || !v->arena_)
        return DA_EINVAL;
    da_arena *a = v->arena_;
    if (!v->persistent_)
        return da_arena_sync(a);
    if (a->forked)
        return DA_EFORKED;
    if (a->sticky)
        return a->sticky;
    if (defect() == D_HEADER_FIRST) {
        int e = commit(v);
        return e ? e : keep_error(a, msync_range(a, v->head_, v->len * v->elem_size));
    }
    int e = keep_error(a, msync_range(a, v->head_, v->len * v->elem_size));
    return e ? e : commit(v);
}

int da_vec_shrink_to_fit(da_vec *v)
{
    if (!v || !v->arena_)
        return DA_EINVAL;
    if (*v->poison_)
        return refusal(v->arena_);
    /* the contract: a persistent vector keeps room for its synced length */
    size_t keep = v->len;
    if (v->persistent_ && v->synced_len_ > keep && defect() != D_SHRINK_WITHOUT_SYNC)
        keep = v->synced_len_;
    size_t bytes = up(keep * v->elem_size, v->arena_->page);
    if (bytes >= v->bytes_)
        return 0;
    return resize_block(v, bytes);
}

int da_vec_close(da_vec *v)
{
    if (!v || !v->arena_)
        return 0;
    int e = v->persistent_ && !v->arena_->forked ? da_vec_sync(v) : 0;
    if (v->own_arena_) {
        int c = da_arena_close(v->arena_);
        e = e ? e : c;
    } else {
        free_block(v->arena_, v->data, v->bytes_);
    }
    memset(v, 0, sizeof *v);
    return e;
}

/* ---- errors ---------------------------------------------------------------------- */

const char *da_strerror(int err)
{
    static _Thread_local char buf[256];
    switch (err) {
    case 0: return "success";
    case DA_ECAPACITY: return "request beyond this arena's reservation (DA_ECAPACITY)";
    case DA_EOVERFLOW: return "size arithmetic would overflow (DA_EOVERFLOW)";
    case DA_EBADFILE: return "not a diskalloc vector file (DA_EBADFILE)";
    case DA_EPOISONED: return "an earlier I/O error makes the data untrustworthy (DA_EPOISONED)";
    case DA_EEMPTY: return "pop from an empty vector (DA_EEMPTY)";
    case DA_EINVAL: return "invalid argument (DA_EINVAL)";
    case ENOMEM:
        if (!failed_reserve)
            return "out of memory (ENOMEM)";
        snprintf(buf, sizeof buf,
                 "address space exhausted (ENOMEM): no range of %zu bytes; this process holds "
                 "%zu arenas reserving %zu GiB",
                 failed_reserve, atomic_load(&live_arenas), atomic_load(&live_bytes) >> 30);
        return buf;
    }
    return err < 0 ? "unknown diskalloc error code" : strerror(err);
}
