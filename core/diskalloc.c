/* diskalloc — see diskalloc.h for the contract.  Libc only; C11; Linux. */
#define _GNU_SOURCE /* fallocate, O_TMPFILE, mkostemp, MAP_NORESERVE */
#include "diskalloc.h"

#include <errno.h>
#include <fcntl.h>
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

/* libfiu's fiu-local.h pattern, inlined so that vendoring stays two files:
 * without FIU_ENABLE every fail point is the constant 0 and vanishes. */
#ifdef FIU_ENABLE
#include <fiu.h>
static int da_fail(const char *name)
{
    if (!fiu_fail(name))
        return 0;
    /* failinfo carries the errno to report; unarmed info means EIO */
    void *info = fiu_failinfo();
    errno = info ? (int)(intptr_t)info : EIO;
    return -1;
}
#else
#define da_fail(name) 0
#endif
/* 0, or -1 with errno set when the point is armed: used as
 * `r = DA_FP(name); if (r == 0) r = call(); if (r != 0) ...` so that an
 * injected failure and a real one take the same error branch. */
#define DA_FP(call) da_fail("diskalloc/" call)

static const char *const da_points[] = {
    "diskalloc/open",      "diskalloc/mkostemp", "diskalloc/unlink",
    "diskalloc/fstat",     "diskalloc/flock",
    "diskalloc/calloc",    "diskalloc/mmap",     "diskalloc/munmap",
    "diskalloc/ftruncate", "diskalloc/fallocate", "diskalloc/pwrite",
    "diskalloc/msync",     "diskalloc/fsync",
    "diskalloc/lseek",     "diskalloc/pread",    NULL,
};

const char *const *da_failpoint_names(void) { return da_points; }

struct da_arena {
    unsigned char *base; /* the reservation: one mapping of `reserved` bytes */
    size_t reserved;
    size_t size;  /* file size, as last set successfully */
    size_t used;  /* end of the last allocated block */
    size_t page;
    size_t slot_b; /* persistent: offset of the second header copy */
    size_t hdr_cur; /* persistent: offset of the copy in force; the next goes to the other */
    int fd;
    int sticky;   /* first msync/fsync error; never cleared */
    int blocked;  /* nonzero refuses writes: the sticky error, or DA_EFORKED */
    pid_t pid;    /* the process that opened it: only it may unlock the file */
    unsigned flags;
    unsigned char vec_owned; /* the arena of da_vec_init/da_vec_open: its vector's alone */
    /* write-behind of an own arena's vector (issue 12, see write_behind):
     * from how many bytes on, and file offsets done so far */
    size_t wb_min, wb_end, drop_end;
    size_t vec_hw; /* own arena: file offset of the furthest end the vector had */
    da_arena *prev, *next;   /* every open arena, for the fork handler */
};

/* For da_strerror(ENOMEM): how much this process has reserved, and what the
 * failed open of this thread asked for. */
static atomic_size_t da_live_arenas, da_live_bytes;
static _Thread_local size_t da_failed_reserve;
static _Thread_local char da_msg[512];

/* Every open arena, so that a forked child can make its copies inert: the
 * child shares the file, its flock and its pages with the parent, and a
 * truncation or an unlock there would pull them from under the parent. */
static pthread_mutex_t da_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static da_arena *da_registry;
static pthread_once_t da_atfork_once = PTHREAD_ONCE_INIT;
static int da_atfork_err;

static void registry_prepare(void) { pthread_mutex_lock(&da_registry_lock); }
static void registry_parent(void) { pthread_mutex_unlock(&da_registry_lock); }
static void registry_child(void)
{
    for (da_arena *a = da_registry; a; a = a->next)
        a->blocked = DA_EFORKED;
    pthread_mutex_unlock(&da_registry_lock);
}
static void registry_init(void)
{
    da_atfork_err = pthread_atfork(registry_prepare, registry_parent, registry_child);
}

static void registry_add(da_arena *a)
{
    pthread_mutex_lock(&da_registry_lock);
    a->next = da_registry;
    if (da_registry)
        da_registry->prev = a;
    da_registry = a;
    pthread_mutex_unlock(&da_registry_lock);
}

static void registry_remove(da_arena *a)
{
    pthread_mutex_lock(&da_registry_lock);
    if (a->prev)
        a->prev->next = a->next;
    else
        da_registry = a->next;
    if (a->next)
        a->next->prev = a->prev;
    pthread_mutex_unlock(&da_registry_lock);
}

/* A copy inherited by a child: marked by the fork handler, or made by a
 * clone() that skipped the handlers (noticed at close, by its pid). */
static int inherited(const da_arena *a)
{
    return a->blocked == DA_EFORKED || a->pid != getpid();
}

/* 0 when the arena may change its file, else the code a write returns. */
static int refusal(const da_arena *a)
{
    if (a->blocked == DA_EFORKED)
        return DA_EFORKED;
    return a->blocked ? DA_EPOISONED : 0;
}

/* Persistent vector files.  Format 2 keeps the two header copies in separate
 * 4 KiB blocks (a drive that loses a whole 4K sector loses one copy at most);
 * format 1 files, with both copies in the first 4 KiB, keep their layout. */
#define DA_HDR_MAGIC "DAVEC\0\1\0"
#define DA_HDR_VERSION 2u
#define DA_HDR_BLOCK 4096u       /* data_off is a multiple of it */
#define DA_HDR_SLOT_V1 512u      /* format 1: second copy, in another sector */
#define DA_HDR_SLOT_V2 4096u     /* format 2: second copy, in another 4 KiB block */
#define DA_HDR_DATA_V1 4096u     /* smallest data offset of each format */
#define DA_HDR_DATA_V2 8192u

/* ---- size arithmetic ---------------------------------------------------- */

static int is_pow2(size_t x) { return x != 0 && (x & (x - 1)) == 0; }
/* callers guarantee x + a - 1 does not overflow */
static size_t round_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }
static size_t round_down(size_t x, size_t a) { return x & ~(a - 1); }
static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }
static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* ---- system calls, each behind its fail point; 0 or an errno ----------- */

/* errno, as a return value; an ENOMEM from anything but a reservation must
 * not be described as an exhausted address space */
static int sys_err(void)
{
    int e = errno;
    if (e == ENOMEM)
        da_failed_reserve = 0;
    return e;
}

static int sys_ftruncate(int fd, size_t n)
{
    int r = DA_FP("ftruncate");
    if (r == 0)
        r = ftruncate(fd, (off_t)n);
    if (r != 0)
        return sys_err();
    return 0;
}

static int sys_fallocate(int fd, int mode, size_t off, size_t len)
{
    int r = DA_FP("fallocate");
    if (r == 0)
        r = fallocate(fd, mode, (off_t)off, (off_t)len);
    if (r != 0)
        return sys_err();
    return 0;
}

static int sys_msync(void *p, size_t len)
{
    int r = DA_FP("msync");
    if (r == 0)
        r = msync(p, len, MS_SYNC);
    if (r != 0)
        return sys_err();
    return 0;
}

static int sys_fsync(int fd)
{
    int r = DA_FP("fsync");
    if (r == 0)
        r = fsync(fd);
    if (r != 0)
        return sys_err();
    return 0;
}

/* The mapping's writeback, for a range: the write-behind's form of msync, so
 * it shares msync's fail point.  With SYNC_FILE_RANGE_WAIT_AFTER it reports
 * (and consumes, for this file description) writeback errors: the caller
 * keeps them sticky. */
static int sys_sync_file_range(int fd, size_t off, size_t len, unsigned flags)
{
    int r = DA_FP("msync");
    if (r == 0)
        r = sync_file_range(fd, (off_t)off, (off_t)len, flags);
    if (r != 0)
        return sys_err();
    return 0;
}

/* ---- the file's size ----------------------------------------------------- */

/* The file-size limit is checked first: exceeding it would raise SIGXFSZ,
 * which kills a process that did not ignore it. */
static int fsize_allows(size_t size)
{
    struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
    getrlimit(RLIMIT_FSIZE, &rl);
    return rl.rlim_cur == RLIM_INFINITY || (rlim_t)size <= rl.rlim_cur;
}

/* Release blocks allocated past EOF or inside a freed block; failure only
 * costs disk space, so it is not reported. */
static void punch(da_arena *a, size_t from, size_t to)
{
    if (from < to)
        (void)sys_fallocate(a->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, from,
                            to - from);
}

/* Give back blocks a refused growth allocated past the end of the file (a
 * partial fallocate on a full disk, or one whose size could not be
 * published).  ext4 ignores a hole punched past the end; a truncation to the
 * same size releases them there, and the punch covers the rest. */
static void drop_past_end(da_arena *a, size_t from, size_t to)
{
    if (sys_ftruncate(a->fd, a->size) != 0)
        punch(a, from, to);
}

/* For file systems without fallocate: writing zeros allocates the blocks and
 * reports ENOSPC now, as fallocate would.  (On copy-on-write file systems no
 * method can promise that later stores find space.)  The descriptor is always
 * the library's own open file description, never one opened with O_APPEND,
 * so each write lands at its offset. */
static int write_zeros(int fd, size_t from, size_t to)
{
    static const char zeros[1 << 16];
    for (size_t off = from; off < to;) {
        ssize_t w = DA_FP("pwrite") ? -1
                                    : pwrite(fd, zeros, min_size(to - off, sizeof zeros),
                                             (off_t)off);
        if (w < 0)
            return sys_err();
        off += (size_t)w;
    }
    return 0;
}

static int fill_zeros(da_arena *a, size_t from, size_t to)
{
    int e = write_zeros(a->fd, from, to);
    if (e != 0) {
        (void)sys_ftruncate(a->fd, a->size);
        return e;
    }
    a->size = to;
    return 0;
}

/* A file from elsewhere may have holes (cp --sparse=always, tar -S, rsync -S,
 * a restored backup): its size is no proof that its blocks exist, and a store
 * into a hole on a full disk is SIGBUS.  Allocate them at open, so a full disk
 * is an error of the open.  Holes read as zeros, so filling them with zeros
 * changes no byte; neither call changes the size. */
static int allocate_existing(int fd, size_t size, unsigned flags)
{
    if (size == 0 || (flags & DA_SPARSE))
        return 0;
    int e = sys_fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, size);
    if (e != EOPNOTSUPP)
        return e;
    for (size_t at = 0; at < size;) {
        off_t hole = DA_FP("lseek") ? -1 : lseek(fd, (off_t)at, SEEK_HOLE);
        if (hole < 0)
            return sys_err();
        if ((size_t)hole >= size)
            return 0;
        off_t data = DA_FP("lseek") ? -1 : lseek(fd, hole, SEEK_DATA);
        if (data < 0 && errno != ENXIO) /* ENXIO: a hole up to the end */
            return sys_err();
        size_t end = data < 0 ? size : min_size((size_t)data, size);
        if (!fsize_allows(end)) /* a write there would raise SIGXFSZ */
            return EFBIG;
        e = write_zeros(fd, (size_t)hole, end);
        if (e != 0)
            return e;
        at = end;
    }
    return 0;
}

/* Move the end of the file to new_size; on failure nothing changes.  Growth
 * allocates real blocks for [alloc_from, new_size) unless DA_SPARSE: first
 * with FALLOC_FL_KEEP_SIZE, so a refused allocation never changes the size,
 * then ftruncate publishes the size. */
static int set_size(da_arena *a, size_t new_size, size_t alloc_from)
{
    if (new_size <= a->size) {
        int e = new_size < a->size ? sys_ftruncate(a->fd, new_size) : 0;
        if (e == 0)
            a->size = new_size;
        return e;
    }
    if (!fsize_allows(new_size))
        return EFBIG;
    size_t from = max_size(a->size, alloc_from);
    if (!(a->flags & DA_SPARSE)) {
        int e = sys_fallocate(a->fd, FALLOC_FL_KEEP_SIZE, from, new_size - from);
        if (e == EOPNOTSUPP)
            return fill_zeros(a, from, new_size);
        if (e != 0) {
            drop_past_end(a, from, new_size);
            return e;
        }
    }
    int e = sys_ftruncate(a->fd, new_size);
    if (e != 0) {
        drop_past_end(a, from, new_size);
        return e;
    }
    a->size = new_size;
    return 0;
}

/* ---- arenas ---------------------------------------------------------------- */

/* "64G", "512M", "1T", "2GiB", "4096": binary units. */
static int parse_size(const char *s, size_t *out)
{
    /* strtoull skips blanks and accepts a sign: " -1" would wrap to 2^64 - 1 */
    if (*s < '0' || *s > '9')
        return DA_EINVAL;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno != 0)
        return DA_EINVAL;
    unsigned shift = 0;
    const char *units = "KMGTP";
    /* an upper-cased blank is '\0', which strchr would find in any string */
    int unit = *end & ~0x20;
    const char *u = unit ? strchr(units, unit) : NULL;
    if (u) {
        shift = 10u * (unsigned)(u - units + 1);
        end++;
        end += (*end == 'i');
        end += (*end == 'B');
    }
    if (*end != '\0' || n == 0 || n > (SIZE_MAX >> shift))
        return DA_EINVAL;
    *out = (size_t)n << shift;
    return 0;
}

static int reserve_size(const da_config *cfg, size_t page, size_t *out)
{
    size_t r = cfg ? cfg->reserve : 0;
    const char *env = getenv("DISKALLOC_RESERVE");
    if (r == 0 && env && *env) {
        int e = parse_size(env, &r);
        if (e)
            return e;
    }
    if (r == 0)
        r = DA_DEFAULT_RESERVE;
    if (r > SIZE_MAX - page)
        return DA_EOVERFLOW;
    *out = round_up(r, page);
    return 0;
}

/* Everything about a config that can be wrong, checked before any file is
 * opened or created. */
static int config_check(const da_config *cfg, size_t page, size_t *reserved)
{
    if (cfg && (cfg->flags & ~DA_SPARSE))
        return DA_EINVAL;
    pthread_once(&da_atfork_once, registry_init);
    /* no way to make a forked child's copies inert.  glibc keeps its first 48
     * fork handlers in static storage, so this one registration cannot fail
     * there, and no fail point may stand in: pthread_once keeps a failure for
     * the life of the process, so a harness arming one at its first open
     * would see every later open fail. */
    if (da_atfork_err != 0) /* LCOV_EXCL_BR_LINE: pthread_atfork cannot fail on glibc */
        return da_atfork_err; /* LCOV_EXCL_LINE: pthread_atfork cannot fail on glibc */
    return reserve_size(cfg, page, reserved);
}

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

/* Where an own arena's vector starts its write-behind: a quarter of RAM (from
 * an eighth, a 4 GiB push in RAM took twice as long: the pusher itself then
 * submits and waits for writeback the kernel's flusher would do meanwhile), or
 * DISKALLOC_WRITEBEHIND ("64M", plain bytes; "off": never), for harness runs
 * that reach it with small vectors.  0: never. */
static size_t writebehind_min(void)
{
    const char *env = getenv("DISKALLOC_WRITEBEHIND");
    size_t n = 0;
    if (env && *env)
        return strcmp(env, "off") != 0 && parse_size(env, &n) == 0 ? n : 0;
    return (size_t)sysconf(_SC_PHYS_PAGES) / 4 * page_size(); /* Linux always knows its RAM */
}

/* The owner unlocks before closing: a forked child may still hold a copy of
 * the descriptor, and with it the lock, for as long as it lives. */
static void release_fd(int fd)
{
    (void)flock(fd, LOCK_UN);
    close(fd);
}

/* Takes ownership of fd on success; on failure the caller still holds it
 * (da_vec_open must remove a file it created before the lock goes).
 * reserved: what the caller's config_check of cfg gave. */
static int arena_new(da_arena **out, int fd, size_t size, size_t reserved, const da_config *cfg)
{
    size_t page = page_size();
    int e = size > reserved ? DA_ECAPACITY : 0;
    if (e == 0)
        e = allocate_existing(fd, size, cfg ? cfg->flags : 0);
    da_arena *a = NULL;
    if (e == 0) {
        a = DA_FP("calloc") ? NULL : calloc(1, sizeof *a);
        e = a ? 0 : ENOMEM;
    }
    if (e == 0) {
        void *base = DA_FP("mmap") ? MAP_FAILED
                                   : mmap(NULL, reserved, PROT_READ | PROT_WRITE,
                                          MAP_SHARED | MAP_NORESERVE, fd, 0);
        if (base == MAP_FAILED) {
            e = errno;
            da_failed_reserve = reserved;
        } else {
            /* the file's large folios mapped whole: ~1k page faults per GiB
             * pushed instead of ~14k (make bench-explore).  Only advice: its
             * failure changes nothing. */
            (void)madvise(base, reserved, MADV_HUGEPAGE);
        }
        a->base = base;
    }
    if (e != 0) {
        free(a);
        return e;
    }
    a->reserved = reserved;
    a->size = size;
    a->used = size;
    a->page = page;
    a->fd = fd;
    a->pid = getpid();
    a->flags = cfg ? cfg->flags : 0;
    a->wb_min = writebehind_min();
    registry_add(a);
    atomic_fetch_add(&da_live_arenas, 1);
    atomic_fetch_add(&da_live_bytes, reserved);
    *out = a;
    return 0;
}

static const char *temp_dir(const da_config *cfg)
{
    const char *env = getenv("TMPDIR");
    if (cfg && cfg->dir)
        return cfg->dir;
    return env && *env ? env : "/var/tmp";
}

/* An unnamed file: O_TMPFILE where the file system has it, else a file with
 * an unguessable name that is unlinked at once.  (A process killed between
 * mkostemp and unlink leaves that name behind: no call can close the gap.) */
static int open_temp(const char *dir, int *fd_out)
{
    int fd = DA_FP("open") ? -1 : open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR)) {
        *fd_out = fd;
        return fd >= 0 ? 0 : errno;
    }
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/diskalloc-XXXXXX", dir) >= sizeof path)
        return ENAMETOOLONG;
    fd = DA_FP("mkostemp") ? -1 : mkostemp(path, O_CLOEXEC); /* mode 0600 */
    if (fd < 0)
        return errno;
    int r = DA_FP("unlink");
    if (r == 0)
        r = unlink(path);
    if (r != 0) {
        int e = errno;
        close(fd);
        return e;
    }
    *fd_out = fd;
    return 0;
}

int da_arena_open(da_arena **out, const da_config *cfg)
{
    if (!out)
        return DA_EINVAL;
    *out = NULL;
    da_failed_reserve = 0;
    size_t reserved;
    int e = config_check(cfg, page_size(), &reserved);
    int fd = -1;
    if (e == 0)
        e = open_temp(temp_dir(cfg), &fd);
    if (e == 0)
        e = arena_new(out, fd, 0, reserved, cfg);
    if (e != 0 && fd >= 0)
        close(fd);
    return e;
}

/* One handle per file: a second arena over the same file would disagree
 * with this one about the file's size. */
static int lock_file(int fd)
{
    int r = DA_FP("flock");
    if (r == 0)
        r = flock(fd, LOCK_EX | LOCK_NB);
    if (r != 0)
        return errno;
    return 0;
}

static int stat_fd(int fd, struct stat *st)
{
    int r = DA_FP("fstat");
    if (r == 0)
        r = fstat(fd, st);
    return r != 0 ? sys_err() : 0;
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* A new open file description of the file behind fd: through
 * /proc/thread-self (a thread may have its own descriptor table), else
 * /proc/self (kernels before 3.17).  -1 with errno on failure. */
static int proc_reopen(int fd, int flags)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/thread-self/fd/%d", fd);
    int own = DA_FP("open") ? -1 : open(path, flags | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (own < 0 && errno == ENOENT) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        own = DA_FP("open") ? -1 : open(path, flags | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    }
    return own;
}

/* The library's own open file description of the file behind fd.  A dup
 * would share the caller's description: its O_APPEND (which turns pwrite
 * into appends) and its flock, which our unlock would release. */
static int reopen_fd(int fd, const struct stat *st, int *out)
{
    int own = proc_reopen(fd, O_RDWR);
    if (own < 0)
        return sys_err();
    struct stat now;
    int e = stat_fd(own, &now);
    if (e == 0 && !same_file(st, &now))
        e = DA_EINVAL; /* fd was closed and reused meanwhile by another thread */
    if (e != 0) {
        close(own);
        return e;
    }
    *out = own;
    return 0;
}

int da_arena_open_fd(da_arena **out, int fd, const da_config *cfg)
{
    if (!out)
        return DA_EINVAL;
    *out = NULL;
    da_failed_reserve = 0;
    size_t reserved;
    int e = config_check(cfg, page_size(), &reserved);
    if (e != 0)
        return e;
    /* read and write access, no O_PATH: the mapping needs both, and an
     * O_PATH descriptor must not be turned into a writable one */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (fl & O_PATH) || (fl & O_ACCMODE) != O_RDWR)
        return DA_EINVAL;
    struct stat st;
    e = stat_fd(fd, &st);
    if (e == 0 && !S_ISREG(st.st_mode))
        e = DA_EINVAL;
    int own = -1;
    if (e == 0)
        e = reopen_fd(fd, &st, &own);
    if (e != 0)
        return e;
    e = lock_file(own);
    if (e != 0) {
        close(own); /* never locked: closing releases nothing of the caller's */
        return e;
    }
    e = stat_fd(own, &st); /* the size under the lock: the last holder may have changed it */
    if (e == 0)
        e = arena_new(out, own, (size_t)st.st_size, reserved, cfg);
    if (e != 0)
        release_fd(own);
    return e;
}

static int arena_close(da_arena *a)
{
    /* a forked child's copy: the file, its size and its lock are the parent's */
    int forked = inherited(a);
    int e = forked ? 0 : a->sticky;
    /* A failed munmap can only leak the range; the arena is gone anyway. */
    int r = DA_FP("munmap");
    if (r == 0)
        r = munmap(a->base, a->reserved);
    if (r != 0)
        e = e ? e : sys_err();
    if (forked)
        close(a->fd);
    else
        release_fd(a->fd);
    registry_remove(a);
    atomic_fetch_sub(&da_live_arenas, 1);
    atomic_fetch_sub(&da_live_bytes, a->reserved);
    free(a);
    return e;
}

int da_arena_close(da_arena *a)
{
    if (!a)
        return 0;
    return a->vec_owned ? DA_EINVAL : arena_close(a); /* da_vec_close closes it */
}

void *da_arena_base(const da_arena *a) { return a ? a->base : NULL; }
size_t da_arena_size(const da_arena *a) { return a ? a->size : 0; }
size_t da_arena_reserved(const da_arena *a) { return a ? a->reserved : 0; }
int da_arena_error(const da_arena *a) { return a ? a->sticky : DA_EINVAL; }

/* Why a caller outside the vector may not change this arena, or 0. */
static int foreign_refusal(const da_arena *a)
{
    if (!a || a->vec_owned)
        return DA_EINVAL; /* a vector's own arena: its data must never move */
    return refusal(a);
}

int da_arena_resize(da_arena *a, size_t size)
{
    int e = foreign_refusal(a);
    if (e != 0)
        return e;
    if (size > a->reserved)
        return DA_ECAPACITY;
    e = set_size(a, size, a->size);
    if (e == 0)
        a->used = min_size(a->used, size);
    return e;
}

/* msync [off, off + len) of the file, widened to whole pages. */
static int sync_range(da_arena *a, size_t off, size_t len)
{
    size_t from = round_down(off, a->page);
    size_t to = round_up(off + len, a->page);
    return sys_msync(a->base + from, to - from);
}

/* Callers return early once poisoned or forked (blocked is still 0), so e
 * is the first I/O error. */
static int poison(da_arena *a, int e)
{
    if (e != 0)
        a->sticky = a->blocked = e;
    return e;
}

int da_arena_sync(da_arena *a)
{
    if (!a)
        return DA_EINVAL;
    if (a->blocked == DA_EFORKED)
        return DA_EFORKED;
    if (a->sticky)
        return a->sticky;
    int e = sync_range(a, 0, a->size);
    return poison(a, e ? e : sys_fsync(a->fd));
}

/* ---- the allocator --------------------------------------------------------- */

/* A zero-size block: non-NULL, aligned, and outside the arena (align itself
 * may fall inside a large reservation; the first aligned address past the
 * reservation cannot wrap: user addresses stay below 2^63). */
static void *dangling(const da_arena *a, size_t align)
{
    uintptr_t b = (uintptr_t)a->base, e = b + a->reserved;
    return (void *)(align < b || align >= e ? align : round_up(e, align));
}

/* The block at *p of `size` bytes lies inside this arena's allocated part. */
static int owns(const da_arena *a, const void *p, size_t size)
{
    uintptr_t b = (uintptr_t)a->base, q = (uintptr_t)p;
    return q >= b && q - b <= a->used && size <= a->used - (q - b);
}

/* Zero what a new block reuses from bytes the file already had (freed blocks,
 * a truncation that failed); bytes the file gains are zero already. */
static void zero_reused(da_arena *a, size_t from, size_t to, size_t old_size)
{
    if (from < min_size(to, old_size))
        memset(a->base + from, 0, min_size(to, old_size) - from);
}

static int alloc_block(da_arena *a, size_t size, size_t align, int zero, void **out)
{
    if (!a || !out || !is_pow2(align))
        return DA_EINVAL;
    int e = refusal(a);
    if (e != 0)
        return e;
    if (size == 0) {
        *out = dangling(a, align);
        return 0;
    }
    /* user addresses stay below 2^63 and align is at most 2^63, so the
     * rounding cannot wrap; an alignment the range cannot meet lands past
     * the reservation */
    uintptr_t at = (uintptr_t)a->base + a->used;
    size_t off = (size_t)(round_up(at, align) - (uintptr_t)a->base);
    if (off > a->reserved || size > a->reserved - off)
        return DA_ECAPACITY;
    size_t end = off + size, old_size = a->size;
    e = set_size(a, max_size(round_up(end, a->page), old_size), round_down(off, a->page));
    if (e)
        return e;
    if (zero)
        zero_reused(a, off, end, old_size);
    a->used = end;
    *out = a->base + off;
    return 0;
}

int da_alloc(da_arena *a, size_t size, size_t align, void **out)
{
    return a && a->vec_owned ? DA_EINVAL : alloc_block(a, size, align, 0, out);
}

int da_alloc_zeroed(da_arena *a, size_t size, size_t align, void **out)
{
    return a && a->vec_owned ? DA_EINVAL : alloc_block(a, size, align, 1, out);
}

static int aligned(const void *p, size_t align) { return ((uintptr_t)p & (align - 1)) == 0; }

/* Bytes below `used` are never handed out again, so a punched hole is never
 * reused (it would be a sparse page: SIGBUS on a full disk).  Once poisoned
 * the file is left alone; a forked child's copy changes nothing.  a is not
 * NULL (da_free checks). */
static void free_block(da_arena *a, void *p, size_t size)
{
    if (size == 0 || !owns(a, p, size) || a->blocked == DA_EFORKED)
        return;
    size_t off = (size_t)((unsigned char *)p - a->base);
    if (off + size == a->used) {
        a->used = off;
        if (!a->blocked)
            (void)set_size(a, min_size(round_up(off, a->page), a->size), 0);
    } else if (!a->blocked) {
        punch(a, round_up(off, a->page), round_down(off + size, a->page));
    }
}

void da_free(da_arena *a, void *p, size_t size)
{
    if (a && !a->vec_owned)
        free_block(a, p, size);
}

/* Allocate new_size at the end, copy keep bytes, free the old block. */
static int move_block(da_arena *a, void **p, size_t old_size, size_t new_size, size_t keep,
                      size_t align, int zero)
{
    void *q;
    int e = alloc_block(a, new_size, align, zero, &q);
    if (e)
        return e;
    memcpy(q, *p, keep);
    free_block(a, *p, old_size);
    *p = q;
    return 0;
}

static int grow_block(da_arena *a, void **p, size_t old_size, size_t new_size, size_t align,
                      int zero)
{
    if (!a || !p || !is_pow2(align) || new_size < old_size)
        return DA_EINVAL;
    if (old_size == 0)
        return alloc_block(a, new_size, align, zero, p);
    if (!owns(a, *p, old_size))
        return DA_EINVAL;
    int e = refusal(a);
    if (e != 0)
        return e;
    size_t off = (size_t)((unsigned char *)*p - a->base);
    if (off + old_size != a->used || !aligned(*p, align))
        return move_block(a, p, old_size, new_size, old_size, align, zero);
    if (new_size > a->reserved - off)
        return DA_ECAPACITY;
    size_t end = off + new_size, old_file = a->size;
    e = set_size(a, max_size(round_up(end, a->page), old_file), old_file);
    if (e)
        return e;
    if (zero)
        zero_reused(a, off + old_size, end, old_file);
    a->used = end;
    return 0;
}

int da_grow(da_arena *a, void **p, size_t old_size, size_t new_size, size_t align)
{
    return a && a->vec_owned ? DA_EINVAL : grow_block(a, p, old_size, new_size, align, 0);
}

int da_grow_zeroed(da_arena *a, void **p, size_t old_size, size_t new_size, size_t align)
{
    return a && a->vec_owned ? DA_EINVAL : grow_block(a, p, old_size, new_size, align, 1);
}

/* A last block shrinks by moving the end of the file, and a refused
 * truncation is reported (also to 0 bytes); any other block releases its
 * freed pages, which cannot fail in a way that matters. */
static int shrink_block(da_arena *a, void **p, size_t old_size, size_t new_size, size_t align)
{
    if (!a || !p || !is_pow2(align) || new_size > old_size)
        return DA_EINVAL;
    if (old_size == 0)
        return 0;
    if (!owns(a, *p, old_size))
        return DA_EINVAL;
    int e = refusal(a);
    if (e != 0)
        return e;
    if (new_size != 0 && !aligned(*p, align))
        return move_block(a, p, old_size, new_size, new_size, align, 0);
    size_t off = (size_t)((unsigned char *)*p - a->base), end = off + new_size;
    if (off + old_size != a->used) {
        punch(a, round_up(end, a->page), round_down(off + old_size, a->page));
    } else {
        e = set_size(a, min_size(round_up(end, a->page), a->size), 0);
        if (e)
            return e;
        a->used = end;
    }
    if (new_size == 0)
        *p = dangling(a, align);
    return 0;
}

int da_shrink(da_arena *a, void **p, size_t old_size, size_t new_size, size_t align)
{
    return a && a->vec_owned ? DA_EINVAL : shrink_block(a, p, old_size, new_size, align);
}

/* ---- vectors ----------------------------------------------------------------- */

#define DA_STEP_MAX ((size_t)1 << 30)
#define DA_FIRST_BYTES ((size_t)64 << 10)

da_arena *da_vec_arena(const da_vec *v) { return v ? v->arena_ : NULL; }

static void *vec_home(const da_vec *v)
{
    return v->own_arena_ ? (unsigned char *)v->arena_->base + v->head_ : NULL;
}

static void vec_attach(da_vec *v, da_arena *a, size_t elem_size, int own)
{
    v->arena_ = a;
    v->poison_ = &a->blocked;
    v->elem_size = elem_size;
    v->own_arena_ = (unsigned char)own;
    a->vec_owned = (unsigned char)own;
    v->head_ = a->used;
    v->data = vec_home(v);
}

int da_vec_init(da_vec *v, size_t elem_size, const da_config *cfg)
{
    if (!v)
        return DA_EINVAL;
    memset(v, 0, sizeof *v);
    if (elem_size == 0)
        return DA_EINVAL;
    da_arena *a;
    int e = da_arena_open(&a, cfg);
    if (e == 0)
        vec_attach(v, a, elem_size, 1);
    return e;
}

int da_vec_init_in(da_vec *v, size_t elem_size, da_arena *a)
{
    if (!v)
        return DA_EINVAL;
    memset(v, 0, sizeof *v);
    if (elem_size == 0 || !a || a->vec_owned)
        return DA_EINVAL;
    vec_attach(v, a, elem_size, 0);
    return 0;
}

/* An own arena holds nothing but the vector's block, from head_ to the end
 * of the file: it grows and shrinks in place by moving the end of the file,
 * and never moves (a persistent file made where pages were 4 KiB keeps its
 * data offset where they are 64 KiB). */
static int own_set_bytes(da_vec *v, size_t bytes)
{
    da_arena *a = v->arena_;
    if (bytes > a->reserved - v->head_)
        return DA_ECAPACITY;
    size_t end = v->head_ + bytes;
    int e = set_size(a, min_size(round_up(end, a->page), a->reserved), a->size);
    if (e == 0) {
        a->used = end;
        /* bytes written again after a shrink get their write-behind again */
        a->wb_end = min_size(a->wb_end, end);
        a->drop_end = min_size(a->drop_end, end);
        a->vec_hw = min_size(a->vec_hw, end); /* the file lost what lay beyond */
    }
    return e;
}

/* Streaming beyond RAM (issue 12).  An own arena's vector past wb_min bytes
 * (a quarter of RAM) starts writeback of what lies behind its end at each
 * growth step, and drops the pages more than wb_min / 4 behind it: waited
 * for (written), unmapped, evicted.  The kernel then never meets RAM full of
 * dirty, mapped pages (dirty throttling, reclaim through the page tables), and
 * the vector holds a bounded share of the page cache.  Dropped elements read
 * back from the file as usual.  sync_file_range errors are I/O errors: sticky,
 * like a failed sync's (with WAIT_AFTER the kernel reports a writeback error
 * to this description once, so it must not be lost).  madvise/posix_fadvise
 * are advice: they cannot lose data, their failure changes nothing.
 * Measured, pushing 36 GiB with 24 GiB of RAM (dd: 40.7 s): this 19.7 s,
 * with 3 GiB of page cache at most; writeback without eviction 55.8 s,
 * with MADV_COLD instead 45.6 s, with MADV_PAGEOUT instead 40.6 s, none of
 * it (before issue 12) 44.1 s, each holding ~21 GiB but PAGEOUT. */
static int write_behind(da_vec *v)
{
    da_arena *a = v->arena_;
    size_t end = round_down(v->head_ + v->len * v->elem_size, a->page);
    if (!v->own_arena_ || a->wb_min == 0 || end - v->head_ < a->wb_min || end <= a->wb_end)
        return 0;
    size_t from = max_size(a->wb_end, v->head_);
    int e = sys_sync_file_range(a->fd, from, end - from, SYNC_FILE_RANGE_WRITE);
    if (e != 0)
        return poison(a, e);
    a->wb_end = end;
    size_t lag = round_up(a->wb_min / 4, a->page);
    if (end - v->head_ <= lag)
        return 0;
    size_t to = end - lag;
    from = max_size(a->drop_end, v->head_);
    if (to <= from)
        return 0;
    e = sys_sync_file_range(a->fd, from, to - from,
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                SYNC_FILE_RANGE_WAIT_AFTER);
    if (e != 0)
        return poison(a, e);
    (void)madvise(a->base + from, to - from, MADV_DONTNEED); /* shared: unmaps only */
    (void)posix_fadvise(a->fd, (off_t)from, (off_t)(to - from), POSIX_FADV_DONTNEED);
    a->drop_end = to;
    return 0;
}

/* Set the block to `bytes` (a multiple of the page size). */
static int vec_set_bytes(da_vec *v, size_t bytes)
{
    da_arena *a = v->arena_;
    void *p = v->data;
    int e;
    if (v->own_arena_)
        e = own_set_bytes(v, bytes);
    else /* whole pages let a moved block's old pages be released */
        e = bytes > v->bytes_ ? grow_block(a, &p, v->bytes_, bytes, a->page, 0)
                              : shrink_block(a, &p, v->bytes_, bytes, a->page);
    if (e)
        return e;
    v->bytes_ = bytes;
    v->data = bytes ? p : vec_home(v);
    v->cap = bytes / v->elem_size;
    return 0;
}

static int vec_reserve(da_vec *v, size_t additional, int exact)
{
    if (!v || !v->arena_)
        return DA_EINVAL;
    if (*v->poison_)
        return refusal(v->arena_);
    if (additional <= v->cap - v->len)
        return 0;
    size_t page = v->arena_->page;
    if (additional > SIZE_MAX - v->len || v->len + additional > (SIZE_MAX - page) / v->elem_size)
        return DA_EOVERFLOW;
    size_t need = round_up((v->len + additional) * v->elem_size, page);
    int e = write_behind(v); /* issue 12: before growing, so a failure changes no size */
    if (e != 0)
        return e;
    /* amortized: double, in steps of at most 1 GiB (an own arena never copies,
     * so a bigger step would only take disk space early).  A step that does
     * not fit (disk or reservation nearly full) is halved before settling for
     * the exact size, so filling the last free space is not quadratic. */
    size_t step = exact ? 0 : max_size(min_size(v->bytes_, DA_STEP_MAX), DA_FIRST_BYTES);
    for (; round_up(v->bytes_ + step, page) > need; step /= 2)
        if (vec_set_bytes(v, round_up(v->bytes_ + step, page)) == 0)
            return 0;
    return vec_set_bytes(v, need);
}

int da_vec_try_reserve(da_vec *v, size_t additional) { return vec_reserve(v, additional, 0); }

int da_vec_try_reserve_exact(da_vec *v, size_t additional)
{
    return vec_reserve(v, additional, 1);
}

/* The furthest the vector's end ever reached, as a file offset: pages past it
 * were never stored into through the mapping (push_fast only moves the end
 * up, and every call that moves it down comes through here first). */
static void note_end(da_vec *v)
{
    da_arena *a = v->arena_;
    if (v->own_arena_)
        a->vec_hw = max_size(a->vec_hw, v->head_ + v->len * v->elem_size);
}

#define DA_PWRITE_MIN ((size_t)16 << 10)

/* Bulk extend (issue 12): bytes bound for pages no store has touched go to
 * the file with pwrite instead of through the mapping: no zero-filled folio,
 * no fault, one copy.  The page cache is the mapping's, so the bytes show
 * through data at once.  Returns the bytes written; the caller stores the
 * rest, so a failure (the bytes past len are not the vector's yet) changes
 * nothing the caller can see. */
static size_t extend_by_write(da_vec *v, const unsigned char *src, size_t bytes)
{
    da_arena *a = v->arena_;
    size_t off = v->head_ + v->len * v->elem_size, done = 0;
    /* a source inside the mapping could overlap the destination's pages,
     * which pwrite, unlike memmove, does not allow for */
    int mapped = src >= a->base && src < a->base + a->reserved;
    if (!v->own_arena_ || bytes < DA_PWRITE_MIN || off < a->vec_hw || mapped)
        return 0;
    while (done < bytes) {
        ssize_t w = DA_FP("pwrite") ? -1
                                    : pwrite(a->fd, src + done, bytes - done, (off_t)(off + done));
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    return done;
}

int da_vec_extend(da_vec *v, const void *elems, size_t n)
{
    if (!v || !v->arena_ || (!elems && n))
        return DA_EINVAL;
    /* elems may lie in the vector itself, which may move when it grows */
    const unsigned char *src = elems, *data = v->data;
    size_t in_self = data && src >= data && src < data + v->len * v->elem_size;
    size_t rel = in_self ? (size_t)(src - data) : 0;
    int e = vec_reserve(v, n, 0);
    if (e || n == 0)
        return e;
    if (in_self)
        src = (const unsigned char *)v->data + rel;
    note_end(v);
    size_t bytes = n * v->elem_size, done = in_self ? 0 : extend_by_write(v, src, bytes);
    memmove((unsigned char *)v->data + v->len * v->elem_size + done, src + done, bytes - done);
    v->len += n;
    return 0;
}

int da_vec_push(da_vec *v, const void *elem)
{
    if (!elem)
        return DA_EINVAL;
    return da_vec_extend(v, elem, 1);
}

int da_vec_pop(da_vec *v, void *out)
{
    if (!v || !v->arena_)
        return DA_EINVAL;
    if (*v->poison_)
        return refusal(v->arena_);
    if (v->len == 0)
        return DA_EEMPTY;
    note_end(v);
    v->len--;
    if (out)
        memcpy(out, (unsigned char *)v->data + v->len * v->elem_size, v->elem_size);
    return 0;
}

/* Only the length in memory changes: nothing in the file, so a poisoned or
 * inherited vector may be truncated too. */
void da_vec_truncate(da_vec *v, size_t len)
{
    if (v && len < v->len) {
        note_end(v); /* len > 0: an open vector, with its arena */
        v->len = len;
    }
}

/* Advice over the vector's capacity (issue 12): madvise for the mapping's
 * faults, posix_fadvise for the file's readahead; nothing here can change a
 * byte, a size or the lock, so there is no fail point. */
int da_vec_advise(da_vec *v, unsigned advice)
{
    unsigned pattern = advice & (DA_ADVICE_SEQUENTIAL | DA_ADVICE_RANDOM);
    unsigned now = advice & (DA_ADVICE_WILLNEED | DA_ADVICE_DONTNEED);
    if (!v || !v->arena_ || (advice & ~(pattern | now)) ||
        pattern == (DA_ADVICE_SEQUENTIAL | DA_ADVICE_RANDOM) ||
        now == (DA_ADVICE_WILLNEED | DA_ADVICE_DONTNEED))
        return DA_EINVAL;
    da_arena *a = v->arena_;
    if (a->blocked == DA_EFORKED) /* the file description's readahead is the parent's */
        return DA_EFORKED;
    if (v->bytes_ == 0)
        return 0;
    unsigned char *p = v->data;
    size_t off = (size_t)(p - a->base), len = v->bytes_;
    int m = pattern == DA_ADVICE_SEQUENTIAL ? MADV_SEQUENTIAL
            : pattern == DA_ADVICE_RANDOM   ? MADV_RANDOM
                                            : MADV_NORMAL;
    int f = pattern == DA_ADVICE_SEQUENTIAL ? POSIX_FADV_SEQUENTIAL
            : pattern == DA_ADVICE_RANDOM   ? POSIX_FADV_RANDOM
                                            : POSIX_FADV_NORMAL;
    /* The reservation's MADV_HUGEPAGE makes every fault of a page not in
     * memory read 2-4 MiB of 2 MiB folios, synchronously: right for pushes,
     * 30x the bytes a random load needs (cold random reads of 36 GiB: 794 us
     * each, 62 us without it; pread 64 us).  A scan reads as fast either way
     * (36 GiB in 17-23 s, as read(2)), so SEQUENTIAL drops it too, leaving the
     * fault reads to the file's readahead window; NORMAL restores it.  All of
     * it is advice over a range the arena maps and a descriptor it owns: a
     * kernel that cannot take some advice (an old one, one without THP)
     * refuses it, and nothing is lost by going on without it. */
    (void)madvise(p, len, m);
    (void)madvise(p, len, pattern == DA_ADVICE_NORMAL ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    (void)posix_fadvise(a->fd, (off_t)off, (off_t)len, f);
    /* WILLNEED: the elements only, capacity past len holds nothing to read.
     * DONTNEED: unmapping a shared mapping keeps every byte in the page
     * cache; the fadvise then starts writeback and evicts what is clean. */
    size_t used = round_up(v->len * v->elem_size, a->page);
    if (now == DA_ADVICE_WILLNEED && used != 0) /* a length of 0 would mean "to the end" */
        (void)posix_fadvise(a->fd, (off_t)off, (off_t)used, POSIX_FADV_WILLNEED);
    if (now == DA_ADVICE_DONTNEED) {
        (void)madvise(p, len, MADV_DONTNEED);
        (void)posix_fadvise(a->fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
    }
    return 0;
}

void *da_vec_at(const da_vec *v, size_t i)
{
    return v && i < v->len ? (unsigned char *)v->data + i * v->elem_size : NULL;
}

/* ---- persistent vectors -------------------------------------------------------- */

/* Two header copies, written alternately; the valid one with the newer
 * sequence number wins, so a torn header write loses at most that sync. */
typedef struct {
    unsigned char magic[8];
    uint32_t version, header_size;
    uint64_t elem_size, len, data_off, seq, sum;
} da_header;

static uint64_t header_sum(const da_header *h)
{
    const unsigned char *p = (const unsigned char *)h;
    uint64_t x = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = 0; i < offsetof(da_header, sum); i++)
        x = (x ^ p[i]) * 1099511628211ull;
    return x;
}

/* Sequence numbers wrap: the newer is the one less than 2^63 ahead. */
static int seq_newer(uint64_t a, uint64_t b) { return (int64_t)(a - b) > 0; }

/* The first bytes of a vector file (at least DA_HDR_DATA_V2 of them, or the
 * whole file when shorter) and the file's size. */
typedef struct {
    const unsigned char *bytes;
    size_t size;
} da_head;

/* The copy at `slot` is a header of the format that puts a copy there, and
 * every field fits the file; a file from elsewhere is untrusted input.
 * *h is filled whenever the file is long enough to hold the copy. */
static int header_read(const da_head *f, size_t slot, unsigned version, da_header *h)
{
    size_t min_data = version == 1 ? DA_HDR_DATA_V1 : DA_HDR_DATA_V2;
    memset(h, 0, sizeof *h);
    if (f->size < min_data)
        return 0;
    memcpy(h, f->bytes + slot, sizeof *h);
    return memcmp(h->magic, DA_HDR_MAGIC, 8) == 0 && h->sum == header_sum(h) &&
           h->version == version && h->header_size == sizeof *h && h->elem_size != 0 &&
           h->data_off >= min_data && h->data_off % DA_HDR_BLOCK == 0 &&
           h->data_off <= f->size && h->len <= (f->size - h->data_off) / h->elem_size;
}

/* Publish v->len as the durable length: the data was synced before. */
static int header_commit(da_vec *v, unsigned version)
{
    da_arena *a = v->arena_;
    da_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, DA_HDR_MAGIC, 8);
    h.version = version;
    h.header_size = sizeof h;
    h.elem_size = v->elem_size;
    h.len = v->len;
    h.data_off = v->head_;
    h.seq = v->seq_ + 1;
    h.sum = header_sum(&h);
    size_t at = a->hdr_cur == 0 ? a->slot_b : 0; /* never over the copy in force */
    unsigned char *slot = a->base + at;
    da_header old;
    memcpy(&old, slot, sizeof old);
    memcpy(slot, &h, sizeof h);
    int e = sync_range(a, at, sizeof h);
    e = poison(a, e ? e : sys_fsync(a->fd));
    if (e != 0) {
        /* the page cache must not show a length that never became durable:
         * a reopen in this process would read it */
        memcpy(slot, &old, sizeof old);
        return e;
    }
    a->hdr_cur = at;
    v->seq_ = h.seq;
    v->synced_len_ = v->len;
    return 0;
}

static int all_zero(const unsigned char *p, size_t n)
{
    while (n && *p == 0)
        p++, n--;
    return n == 0;
}

/* The first DA_HDR_DATA_V2 bytes of the file (fewer when it is shorter). */
static int read_head(int fd, unsigned char buf[DA_HDR_DATA_V2], size_t *got)
{
    *got = 0;
    while (*got < DA_HDR_DATA_V2) {
        ssize_t r = DA_FP("pread") ? -1
                                   : pread(fd, buf + *got, DA_HDR_DATA_V2 - *got, (off_t)*got);
        if (r > 0)
            *got += (size_t)r;
        else if (r == 0)
            return 0;
        else if (errno != EINTR)
            return sys_err();
    }
    return 0;
}

/* The copies in force: copy A at 0 names the format, and with it where copy
 * B is; when A is damaged, B is looked for where either format keeps it.
 * Returns the newest valid copy, or NULL; *slot_b and the ok flags say what
 * was found. */
static const da_header *header_pick(const da_head *f, da_header *ha, da_header *hb,
                                    size_t *slot_b, int *ok_a, int *ok_b)
{
    *ok_a = header_read(f, 0, 1, ha) || header_read(f, 0, 2, ha);
    if (*ok_a) {
        *slot_b = ha->version == 1 ? DA_HDR_SLOT_V1 : DA_HDR_SLOT_V2;
        *ok_b = header_read(f, *slot_b, ha->version, hb);
    } else {
        *slot_b = DA_HDR_SLOT_V1;
        *ok_b = header_read(f, DA_HDR_SLOT_V1, 1, hb);
        if (!*ok_b) {
            *slot_b = DA_HDR_SLOT_V2;
            *ok_b = header_read(f, DA_HDR_SLOT_V2, 2, hb);
        }
    }
    if (*ok_a && *ok_b)
        return seq_newer(hb->seq, ha->seq) ? hb : ha;
    return *ok_a ? ha : *ok_b ? hb : NULL;
}

/* Read the header in force; a file that has none but is all zeros up to its
 * size is one whose creation was cut short, and starts afresh.  *fresh says
 * a first header was written (the directory entry is then synced too). */
static int vec_load(da_vec *v, size_t elem_size, int *fresh)
{
    da_arena *a = v->arena_;
    da_header ha, hb;
    da_head f = {a->base, a->size};
    size_t slot_b;
    int ok_a, ok_b;
    const da_header *h = header_pick(&f, &ha, &hb, &slot_b, &ok_a, &ok_b);
    if (!h) {
        size_t head = max_size(DA_HDR_DATA_V2, a->page);
        if (a->size > head || !all_zero(a->base, a->size))
            return DA_EBADFILE;
        *fresh = 1;
        int e = set_size(a, head, 0);
        v->head_ = head;
        a->slot_b = a->hdr_cur = DA_HDR_SLOT_V2; /* the first header goes to copy A */
        return e ? e : header_commit(v, DA_HDR_VERSION);
    }
    if (h->elem_size != elem_size)
        return DA_EBADFILE;
    a->slot_b = slot_b;
    a->hdr_cur = h == &ha ? 0 : slot_b;
    v->head_ = (size_t)h->data_off;
    v->len = v->synced_len_ = (size_t)h->len;
    v->seq_ = h->seq;
    v->bytes_ = a->size - v->head_;
    v->cap = v->bytes_ / elem_size;
    return 0;
}

static unsigned vec_version(const da_vec *v)
{
    return v->arena_->slot_b == DA_HDR_SLOT_V1 ? 1 : 2;
}

/* open(2) of a path that is not a regular file can have side effects (a
 * terminal becomes the controlling one, a FIFO or a device blocks): probe
 * with O_PATH first, then open and check it is the same file. */
static int probe_regular(const char *path, struct stat *st, int *probe_out)
{
    int probe = DA_FP("open") ? -1 : open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (probe < 0)
        return sys_err();
    int e = stat_fd(probe, st);
    if (e == 0 && S_ISLNK(st->st_mode))
        e = ELOOP;
    else if (e == 0 && !S_ISREG(st->st_mode))
        e = DA_EBADFILE;
    if (e != 0) {
        close(probe);
        return e;
    }
    *probe_out = probe;
    return 0;
}

/* The probed file itself, opened for access through its O_PATH descriptor,
 * so that a FIFO or device renamed over the path since the probe is never
 * opened.  Without /proc, by path, checked to be the same file (then a swap
 * in between can reach the newcomer's open, never its use). */
static int open_probed(int probe, const char *path, int access, const struct stat *st,
                       int *fd_out)
{
    int fd = proc_reopen(probe, access);
    if (fd < 0 && errno == ENOENT)
        fd = DA_FP("open") ? -1
                           : open(path, access | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return sys_err();
    struct stat now;
    int e = stat_fd(fd, &now);
    if (e == 0 && !same_file(st, &now))
        e = DA_EBADFILE; /* replaced between the probe and the open */
    if (e != 0) {
        close(fd);
        return e;
    }
    *fd_out = fd;
    return 0;
}

static int open_vec_file(const char *path, int *fd_out, int *created)
{
    struct stat st;
    int probe = -1, e = probe_regular(path, &st, &probe);
    if (e == ENOENT) {
        int fd = DA_FP("open") ? -1
                               : open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                      0600);
        if (fd >= 0) {
            *created = 1;
            *fd_out = fd;
            return 0;
        }
        if (errno != EEXIST) /* else created meanwhile by someone else: probe it */
            return sys_err();
        e = probe_regular(path, &st, &probe);
    }
    if (e != 0)
        return e;
    e = open_probed(probe, path, O_RDWR, &st, fd_out);
    close(probe);
    return e;
}

/* A new file's directory entry is durable only once its directory is
 * synced (POSIX; ext4 often does more, other file systems need not). */
static int sync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) /* "file" */
        snprintf(dir, sizeof dir, ".");
    else if (slash == path) /* "/file" */
        snprintf(dir, sizeof dir, "/");
    else /* the path was opened, so it is shorter than PATH_MAX: so is its directory */
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = DA_FP("open") ? -1 : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int e = sys_fsync(fd);
    close(fd);
    return e;
}

/* Undo a creation: only while the lock is ours, and only if the path still
 * names the file this call created. */
static void unlink_created(const char *path, const struct stat *st)
{
    struct stat at;
    if (lstat(path, &at) == 0 && same_file(st, &at))
        (void)unlink(path);
}

/* Before anything is allocated or mapped: the file holds a header in force
 * for this element size, or is empty or all zeros (a creation cut short; the
 * mapping is checked again in full by vec_load).  A wrong file is refused
 * untouched, its holes unfilled. */
static int vec_precheck(int fd, size_t size, size_t elem_size, size_t page)
{
    unsigned char buf[DA_HDR_DATA_V2];
    size_t got = 0;
    int e = read_head(fd, buf, &got);
    if (e != 0)
        return e;
    da_head f = {buf, got < sizeof buf ? got : size};
    da_header ha, hb;
    size_t slot_b;
    int ok_a, ok_b;
    const da_header *h = header_pick(&f, &ha, &hb, &slot_b, &ok_a, &ok_b);
    if (h)
        return h->elem_size == elem_size ? 0 : DA_EBADFILE;
    return size <= max_size(DA_HDR_DATA_V2, page) && all_zero(buf, got) ? 0 : DA_EBADFILE;
}

/* Undo what a failed open made: a file it created is removed (and the
 * removal synced, best effort: the header sync may have made the entry
 * durable); an existing empty or all-zero file it began to initialise gets
 * its zeros and its size back.  The header copies are cleared through the
 * mapping, not written: no write(2) that ulimit -f could turn into SIGXFSZ,
 * and the file only shrinks. */
static void undo_open(const char *path, da_arena *a, const struct stat *st, int created,
                      int fresh)
{
    if (created) {
        unlink_created(path, st);
        (void)sync_parent(path);
        return;
    }
    if (!fresh)
        return;
    size_t slots[2] = {0, a->slot_b};
    for (int i = 0; i < 2; i++)
        if (slots[i] + sizeof(da_header) <= a->size)
            memset(a->base + slots[i], 0, sizeof(da_header));
    size_t orig = (size_t)st->st_size;
    (void)sync_range(a, 0, min_size(a->size, DA_HDR_DATA_V2)); /* best effort, as the rest */
    if (a->size == orig || sys_ftruncate(a->fd, orig) == 0)
        (void)sys_fsync(a->fd);
}

/* The path still names the file this open locked: it was not removed or
 * replaced between the open and the lock (a vector over a file without a
 * name would sync into nowhere). */
static int still_named(const char *path, const struct stat *st)
{
    struct stat at;
    return st->st_nlink > 0 && lstat(path, &at) == 0 && same_file(st, &at);
}

/* One attempt; DA_RETRY when the file was removed or replaced meanwhile. */
#define DA_RETRY (-1) /* internal only: no DA_E* code or errno has this value */
static int vec_open_once(da_vec *v, const char *path, size_t elem_size, const da_config *cfg,
                         size_t reserved, size_t page)
{
    int fd = -1, created = 0;
    int e = open_vec_file(path, &fd, &created);
    if (e != 0)
        return e;
    struct stat st;
    int stat_err = stat_fd(fd, &st);
    e = stat_err ? stat_err : lock_file(fd);
    if (e != 0) {
        /* a file this call made with O_EXCL is removed; but EWOULDBLOCK means
         * another handle opened and locked it meanwhile: it is theirs now */
        if (created && stat_err)
            (void)unlink(path);
        else if (created && e != EWOULDBLOCK)
            unlink_created(path, &st);
        close(fd); /* never locked */
        return e;
    }
    /* the file under the lock: the last holder may have grown or shrunk it,
     * removed it, or (for a file this call created) set it up as a vector:
     * then it is theirs, never ours to remove */
    e = stat_fd(fd, &st);
    if (e == 0 && !still_named(path, &st))
        e = DA_RETRY;
    if (e == 0 && created && st.st_size != 0)
        created = 0;
    if (e == 0)
        e = vec_precheck(fd, (size_t)st.st_size, elem_size, page);
    da_arena *a = NULL;
    if (e == 0)
        e = arena_new(&a, fd, (size_t)st.st_size, reserved, cfg);
    if (e != 0) {
        if (created && e != DA_RETRY) /* before the lock goes */
            undo_open(path, NULL, &st, created, 0);
        release_fd(fd);
        return e;
    }
    vec_attach(v, a, elem_size, 1);
    v->persistent_ = 1;
    int fresh = 0;
    e = vec_load(v, elem_size, &fresh);
    if (e == 0 && fresh)
        e = sync_parent(path);
    if (e != 0) {
        undo_open(path, a, &st, created, fresh); /* before the lock goes with the arena */
        (void)arena_close(a); /* the error that matters is e */
        memset(v, 0, sizeof *v);
        return e;
    }
    a->used = v->head_ + v->bytes_;
    v->data = vec_home(v);
    return 0;
}

int da_vec_open(da_vec *v, const char *path, size_t elem_size, const da_config *cfg)
{
    if (!v)
        return DA_EINVAL;
    memset(v, 0, sizeof *v);
    if (!path || elem_size == 0)
        return DA_EINVAL;
    da_failed_reserve = 0;
    size_t reserved, page = page_size();
    int e = config_check(cfg, page, &reserved);
    if (e == 0 && reserved < max_size(DA_HDR_DATA_V2, page))
        e = DA_ECAPACITY; /* not even room for the headers */
    /* a file removed or replaced between its open and its lock: open what
     * the path names now; a path that keeps changing is busy */
    for (int tries = 0; e == 0 || e == DA_RETRY; tries++) {
        if (tries == 8)
            return EWOULDBLOCK;
        e = vec_open_once(v, path, elem_size, cfg, reserved, page);
        if (e == 0)
            return 0;
    }
    return e;
}

int da_vec_sync(da_vec *v)
{
    if (!v || !v->arena_)
        return DA_EINVAL;
    da_arena *a = v->arena_;
    if (!v->persistent_)
        return da_arena_sync(a);
    if (a->blocked == DA_EFORKED)
        return DA_EFORKED;
    if (a->sticky)
        return a->sticky;
    int e = poison(a, sync_range(a, v->head_, v->len * v->elem_size));
    /* a length already durable needs no new header: an open and a close that
     * changed nothing leave the file's bytes as they were */
    if (e != 0 || v->len == v->synced_len_)
        return e;
    return header_commit(v, vec_version(v));
}

/* Never writes a header: a persistent vector keeps the file long enough for
 * the length its durable header claims. */
int da_vec_shrink_to_fit(da_vec *v)
{
    if (!v || !v->arena_)
        return DA_EINVAL;
    if (*v->poison_)
        return refusal(v->arena_);
    size_t keep = v->persistent_ ? max_size(v->len, v->synced_len_) : v->len;
    size_t bytes = round_up(keep * v->elem_size, v->arena_->page);
    if (bytes >= v->bytes_)
        return 0;
    return vec_set_bytes(v, bytes);
}

int da_vec_close(da_vec *v)
{
    if (!v || !v->arena_)
        return 0;
    int forked = inherited(v->arena_);
    int e = v->persistent_ && !forked ? da_vec_sync(v) : 0;
    if (v->own_arena_) {
        int c = arena_close(v->arena_);
        e = e ? e : c;
    } else {
        free_block(v->arena_, v->data, v->bytes_);
    }
    memset(v, 0, sizeof *v);
    return e;
}

static void copy_info(da_header_info *out, size_t offset, const da_header *h, int ok)
{
    out->offset = offset;
    out->valid = ok;
    out->version = h->version;
    out->seq = h->seq;
    out->elem_size = h->elem_size;
    out->len = h->len;
    out->data_off = h->data_off;
}

int da_vec_inspect(const char *path, da_file_info *out)
{
    if (!path || !out)
        return DA_EINVAL;
    memset(out, 0, sizeof *out);
    out->in_force = -1;
    da_failed_reserve = 0;
    /* never opens what is not a regular file (see open_vec_file), never writes */
    struct stat st;
    int probe = -1, fd = -1, e = probe_regular(path, &st, &probe);
    if (e == 0) {
        e = open_probed(probe, path, O_RDONLY, &st, &fd);
        close(probe);
    }
    if (e != 0)
        return e;
    unsigned char buf[DA_HDR_DATA_V2];
    size_t got = 0;
    e = read_head(fd, buf, &got);
    close(fd);
    if (e != 0)
        return e;
    /* a file that shrank since the stat is judged by what was read */
    size_t size = got < sizeof buf ? got : (size_t)st.st_size;
    da_head f = {buf, size};
    da_header ha, hb;
    size_t slot_b;
    int ok_a, ok_b;
    const da_header *h = header_pick(&f, &ha, &hb, &slot_b, &ok_a, &ok_b);
    out->file_size = size;
    copy_info(&out->copies[0], 0, &ha, ok_a);
    copy_info(&out->copies[1], slot_b, &hb, ok_b);
    if (h) {
        out->in_force = h == &ha ? 0 : 1;
        out->version = h->version;
        out->elem_size = (size_t)h->elem_size;
        out->len = (size_t)h->len;
        out->data_off = (size_t)h->data_off;
        out->cap = (out->file_size - out->data_off) / out->elem_size;
    }
    return 0;
}

/* ---- errors ---------------------------------------------------------------- */

static const char *own_error(int err)
{
    switch (err) {
    case DA_ECAPACITY:
        return "request beyond this arena's reservation (DA_ECAPACITY): the block or vector "
               "would not fit in the address space the arena reserved; nothing changed. Reserve "
               "more (da_config.reserve, or DISKALLOC_RESERVE=1T).";
    case DA_EOVERFLOW:
        return "size arithmetic would overflow (DA_EOVERFLOW): count times element size, or "
               "the alignment, does not fit in size_t; nothing changed. Request less.";
    case DA_EBADFILE:
        return "not a diskalloc vector file, or one of another element size or format version "
               "(DA_EBADFILE): the headers are missing, corrupt or do not match, the data is "
               "shorter than its length, or the path is not a regular file (a directory, FIFO, "
               "device, terminal or socket, never opened); nothing changed. Open it with the "
               "element size it was made with, or use another path.";
    case DA_EPOISONED:
        return "an earlier I/O error makes the data untrustworthy (DA_EPOISONED): a sync "
               "failed, so writes are refused (da_arena_error() gives the first error). Close "
               "the vector; a persistent one reopens at its last successful sync.";
    case DA_EEMPTY:
        return "pop from an empty vector (DA_EEMPTY): check len before popping.";
    case DA_EINVAL:
        return "invalid argument (DA_EINVAL): a NULL pointer, a zero element size, an "
               "alignment that is not a power of two, a block not from this arena, an allocator "
               "call on a vector's own arena, a descriptor that is not a regular file open for "
               "reading and writing, unknown flags, or an unparsable DISKALLOC_RESERVE; nothing "
               "changed. Fix the call.";
    case DA_EFORKED:
        return "used in a forked child (DA_EFORKED): this arena or vector was inherited "
               "through fork() and belongs to the parent, which holds its file and lock; "
               "nothing changed. Open your own arena or vector in the child (closing the "
               "inherited copy there is safe and leaves the parent's file alone).";
    }
    return "unknown diskalloc error code (negative, but not a DA_E* value).";
}

static const char *enomem_text(void)
{
    if (da_failed_reserve == 0)
        return "out of memory (ENOMEM): the system could not provide memory for the call. "
               "Free memory, or check ulimit -v.";
    snprintf(da_msg, sizeof da_msg,
             "address space exhausted (ENOMEM): no free range of %zu bytes for an arena's "
             "reservation; this process holds %zu arenas reserving %zu GiB in all (each "
             "reserves its own range: about 255 of 512 GiB fill a 47-bit address space, fewer "
             "under ulimit -v). Close arenas you no longer need, or reserve less per arena "
             "(da_config.reserve, or DISKALLOC_RESERVE=64G).",
             da_failed_reserve, atomic_load(&da_live_arenas), atomic_load(&da_live_bytes) >> 30);
    return da_msg;
}

static const char *system_error(int err)
{
    switch (err) {
    case ENOMEM:
        return enomem_text();
    case ENOSPC:
        return "no space left on device (ENOSPC): the file system holding the file is full. "
               "When da_arena_error returns it, it came from a sync or from a large vector's "
               "write-behind, and the arena is poisoned; otherwise (growth, an open) the call "
               "changed nothing. Free space, or put the file on a larger file system "
               "(da_config.dir, $TMPDIR).";
    case EDQUOT:
        return "disk quota exceeded (EDQUOT): your quota on the file system is used up. When "
               "da_arena_error returns it, it came from a sync or from a large vector's "
               "write-behind, and the arena is poisoned; otherwise (growth, an open) the call "
               "changed nothing. Free space, raise the quota, or use another directory.";
    case EFBIG:
        return "file too large (EFBIG): the file-size limit (ulimit -f) or the file system's "
               "largest file would be exceeded; the call changed nothing. Raise the limit or "
               "keep the vector smaller.";
    case EIO:
        return "input/output error (EIO): the device failed. When da_arena_error returns it, it "
               "came from a sync or from a large vector's write-behind: data written since the "
               "last successful sync may be lost and the arena is poisoned (writes are "
               "refused): reopen a persistent vector to get its last synced state. Otherwise "
               "(growth, an open) that call changed nothing. Check the device.";
    case EWOULDBLOCK:
        return "resource busy (EWOULDBLOCK/EAGAIN): the vector file is held open by another "
               "handle, in this or another process (one at a time), or the system lacked a "
               "transient resource. Close the other handle, or retry.";
    case EINTR:
        return "interrupted by a signal (EINTR). When da_arena_error returns it, it came from a "
               "sync or from a large vector's write-behind: the kernel may have dropped dirty "
               "pages, so the arena is poisoned like after EIO; reopen a persistent vector. "
               "Otherwise nothing changed; retry the call.";
    case EACCES:
    case EPERM:
        return "permission denied (EACCES/EPERM): the file or its directory may not be "
               "created or written by this user. Choose a writable directory or file.";
    case EROFS:
        return "read-only file system (EROFS): the file cannot be written there. Use a "
               "writable directory (da_config.dir, $TMPDIR).";
    case ENOENT:
    case ENOTDIR:
        return "no such file or directory (ENOENT/ENOTDIR): the temp-file directory, a "
               "parent of the vector's path, or (da_vec_inspect) the file itself does not exist; "
               "da_arena_open_fd also needs /proc mounted. Create it or choose another.";
    case ELOOP:
        return "the path is a symbolic link (ELOOP): refused, so that a link cannot redirect "
               "the vector to another file. Open the link's target itself.";
    case EMFILE:
    case ENFILE:
        return "too many open files (EMFILE/ENFILE): each arena holds one descriptor. Close "
               "arenas, or raise ulimit -n.";
    case EINVAL:
        return "invalid argument from the system (EINVAL): a reservation this large may be "
               "refused (valgrind refuses 512 GiB). Reserve less (DISKALLOC_RESERVE=1G).";
    case EOPNOTSUPP:
        return "operation not supported (EOPNOTSUPP): the file system lacks a feature the "
               "call needs. Use a local file system such as ext4, xfs or tmpfs.";
    case ENAMETOOLONG:
        return "file name too long (ENAMETOOLONG): shorten the directory or path.";
    }
    /* strerror's text for an unknown errno lives in a buffer the next
     * strerror call (anyone's) frees: copy it, to last as documented */
    snprintf(da_msg, sizeof da_msg, "%s", strerror(err));
    return da_msg;
}

const char *da_strerror(int err)
{
    if (err == 0)
        return "success";
    return err < 0 ? own_error(err) : system_error(err);
}
