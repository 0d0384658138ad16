/* nthfail.so — an LD_PRELOAD shim that fails exactly the Nth call of one
 * function, and counts the calls of every function it wraps.
 *
 * libfiu's POSIX preload cannot fail fallocate, posix_fallocate or mremap,
 * and has no "fail the Nth call" primitive; faults/campaign needs both, and
 * needs the counts of an unharmed run to know which N exist.
 *
 * Environment (read once, at the first wrapped call or at load):
 *   NTHFAIL_SITE   function to fail: mmap munmap mremap msync madvise
 *                  ftruncate fallocate posix_fallocate fsync fdatasync;
 *                  unset or empty = count only
 *   NTHFAIL_N      the call to fail, counting from 1
 *   NTHFAIL_MODE   transient (call N only, the default) or persistent
 *                  (call N and every later one)
 *   NTHFAIL_ERRNO  ENOSPC, EIO, ... or a number; required with NTHFAIL_SITE,
 *                  because a guessed errno makes a run unreproducible
 *   NTHFAIL_ONLY_FROM  count and fail only the calls made by this object: a
 *                  substring of its file name (libfoo.so), "program", or
 *                  "after-main" (any object, once main has started)
 *   NTHFAIL_STATE  file holding the counters, shared by every process of the
 *                  tree that inherits the variable, so that "the Nth call" is
 *                  the same in a campaign run and in its replay; created if
 *                  missing.  Unset = counters private to each process.
 * A bad setting prints "nthfail: ..." and exits with status 125.
 *
 * State file: see nthfail.h.  A slot per site, and "!procs", "!maxfile"
 * (largest file size asked of ftruncate/fallocate), "!vmstart" (largest
 * VmSize seen at load), "!vmpeak" (largest VmPeak at normal exit) whose value
 * is in `calls`; who made the first failed call (caller.c); the files the run
 * wrote and their peak sizes (files.c).  faults/campaign reads it.
 */
#define _GNU_SOURCE
#include "nthfail.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define RET __builtin_return_address(0) /* in a wrapper: the caller */

enum site {
    S_MMAP, S_MUNMAP, S_MREMAP, S_MSYNC, S_MADVISE, S_FTRUNCATE, S_FALLOCATE,
    S_POSIX_FALLOCATE, S_FSYNC, S_FDATASYNC, NSITES,
    X_PROCS = NSITES, X_MAXFILE, X_VMSTART, X_VMPEAK, NSLOTS
};
static const char *const slot_names[NSLOTS] = {
    "mmap", "munmap", "mremap", "msync", "madvise", "ftruncate", "fallocate",
    "posix_fallocate", "fsync", "fdatasync",
    "!procs", "!maxfile", "!vmstart", "!vmpeak",
};

#define STATE_BYTES sizeof(struct nt_state)

static struct nt_state private_state; /* when NTHFAIL_STATE is unset */
struct nt_state *nt = &private_state;
#define slots (nt->slots)
static int target = -1;           /* site to fail, or -1 */
static uint64_t nth;
static int persistent;
static int fail_errno;
static int init_state;            /* 0 not yet, 1 in progress, 2 done */

static void die(const char *fmt, const char *arg)
{
    char msg[256];
    int n = snprintf(msg, sizeof msg, "nthfail: ");
    n += snprintf(msg + n, sizeof msg - (size_t)n, fmt, arg);
    if (n > (int)sizeof msg - 2)
        n = (int)sizeof msg - 2;
    msg[n++] = '\n';
    if (write(2, msg, (size_t)n) < 0) { /* nothing better to do */ }
    _exit(125);
}

static int parse_errno(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end && v > 0 && v < 4096)
        return (int)v;
    for (int e = 1; e < 4096; e++) {
        const char *name = strerrorname_np(e);
        if (name && strcmp(name, s) == 0)
            return e;
    }
    die("unknown errno '%s' in NTHFAIL_ERRNO", s);
    return 0;
}

/* Map the shared counters with raw system calls, so that the shim never
 * counts (or fails) its own bookkeeping. */
static void attach_state(const char *path)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        die("cannot open NTHFAIL_STATE '%s'", path);
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < (off_t)STATE_BYTES && syscall(SYS_ftruncate, fd, (long)STATE_BYTES) != 0)
        die("cannot size NTHFAIL_STATE '%s'", path);
    void *p = (void *)syscall(SYS_mmap, NULL, STATE_BYTES, PROT_READ | PROT_WRITE,
                              MAP_SHARED, fd, 0L);
    if ((long)p < 0 && (long)p > -4096)
        die("cannot map NTHFAIL_STATE '%s'", path);
    nt_close_raw(fd);
    nt = p;
}

static void atomic_max(uint64_t *v, uint64_t x)
{
    uint64_t cur = __atomic_load_n(v, __ATOMIC_RELAXED);
    while (cur < x && !__atomic_compare_exchange_n(v, &cur, x, 1, __ATOMIC_RELAXED,
                                                   __ATOMIC_RELAXED)) {
    }
}

/* VmSize or VmPeak of this process in bytes, from /proc (0 if unknown). */
static uint64_t vm_field(const char *field)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    nt_close_raw(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *p = strstr(buf, field);
    return p ? strtoull(p + strlen(field), NULL, 10) * 1024 : 0;
}

/* getenv, also before libc has set environ: a sanitizer runtime maps memory
 * from the executable's preinit functions, which run before libc's own init
 * (the sanitizers read /proc/self/environ for the same reason). */
extern char **environ;
static const char *env(const char *name)
{
    static char buf[1 << 16];
    static ssize_t len = -1;
    size_t n = strlen(name);
    if (environ)
        return getenv(name);
    if (len < 0) {
        int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
        len = fd < 0 ? 0 : read(fd, buf, sizeof buf - 1);
        if (fd >= 0)
            nt_close_raw(fd);
        if (len < 0)
            len = 0;
        buf[len] = 0;
    }
    for (const char *p = buf; p < buf + len; p += strlen(p) + 1)
        if (strncmp(p, name, n) == 0 && p[n] == '=')
            return p + n + 1;
    return NULL;
}

static void init(void)
{
    int expect = 0;
    if (!__atomic_compare_exchange_n(&init_state, &expect, 1, 0, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED)) {
        while (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != 2) {
        }
        return;
    }
    const char *state = env("NTHFAIL_STATE");
    if (state && *state)
        attach_state(state);
    for (int i = 0; i < NSLOTS; i++) /* every process writes the same bytes */
        if (slots[i].name[0] == 0)
            strncpy(slots[i].name, slot_names[i], sizeof slots[i].name - 1);

    nt_caller_init(env("NTHFAIL_ONLY_FROM"));
    const char *site = env("NTHFAIL_SITE");
    if (site && *site) {
        for (int i = 0; i < NSITES; i++)
            if (strcmp(site, slot_names[i]) == 0)
                target = i;
        if (target < 0)
            die("unknown NTHFAIL_SITE '%s'", site);
        const char *n = env("NTHFAIL_N"), *mode = env("NTHFAIL_MODE");
        const char *e = env("NTHFAIL_ERRNO");
        char *end;
        if (!n || (nth = strtoull(n, &end, 10)) == 0 || *end)
            die("NTHFAIL_N must be a call number >= 1, not '%s'", n ? n : "(unset)");
        if (mode && *mode && strcmp(mode, "transient") != 0) {
            if (strcmp(mode, "persistent") != 0)
                die("NTHFAIL_MODE must be transient or persistent, not '%s'", mode);
            persistent = 1;
        }
        if (!e || !*e)
            die("NTHFAIL_ERRNO is required with NTHFAIL_SITE=%s", site);
        fail_errno = parse_errno(e);
    }
    __atomic_add_fetch(&slots[X_PROCS].calls, 1, __ATOMIC_RELAXED);
    atomic_max(&slots[X_VMSTART].calls, vm_field("VmSize:"));
    __atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void on_load(void) { init(); }

/* exit() runs this, _exit() and fatal signals do not: VmPeak is a lower
 * bound, measured on the unharmed run, which exits normally. */
__attribute__((destructor)) static void on_exit_(void)
{
    atomic_max(&slots[X_VMPEAK].calls, vm_field("VmPeak:"));
    nt_note_open_files();
}

/* Count the call made from ret; true when this one is to fail (errno is
 * then set).  Under NTHFAIL_ONLY_FROM other objects' calls do not count. */
static int hit(enum site s, const void *ret)
{
    if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != 2)
        init();
    if (!nt_caller_counts(slot_names[s], ret))
        return 0;
    uint64_t n = __atomic_add_fetch(&slots[s].calls, 1, __ATOMIC_RELAXED);
    if ((int)s != target || n < nth || (n > nth && !persistent))
        return 0;
    __atomic_add_fetch(&slots[s].fired, 1, __ATOMIC_RELAXED);
    nt_caller_record_failure(ret);
    errno = fail_errno;
    return 1;
}

static void note_size(uint64_t bytes) { atomic_max(&slots[X_MAXFILE].calls, bytes); }

/* The next definition of a symbol: glibc's, or another preload's. */
#define REAL(name, type)                                                        \
    static type real_##name;                                                  \
    if (!real_##name) {                                                       \
        *(void **)&real_##name = dlsym(RTLD_NEXT, #name); /* POSIX idiom */  \
        if (!real_##name)                                                     \
            die("no next definition of %s", #name);                           \
    }

/* A writable shared mapping of a file: stores there reach the disk. */
static void *mapped(void *p, int prot, int flags, int fd)
{
    if (p != MAP_FAILED && (flags & MAP_SHARED) && (prot & PROT_WRITE))
        nt_note_file(fd, NT_MAPPED);
    return p;
}

/* The result of a call that changed a file's size or blocks, once made. */
static int changed(int r, int fd, unsigned how)
{
    if (r == 0)
        nt_note_file(fd, how);
    return r;
}

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    REAL(mmap, mmap_fn);
    if (hit(S_MMAP, RET))
        return MAP_FAILED;
    return mapped(real_mmap(addr, len, prot, flags, fd, off), prot, flags, fd);
}
EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    REAL(mmap64, mmap_fn);
    if (hit(S_MMAP, RET))
        return MAP_FAILED;
    return mapped(real_mmap64(addr, len, prot, flags, fd, off), prot, flags, fd);
}

typedef int (*munmap_fn)(void *, size_t);
EXPORT int munmap(void *addr, size_t len)
{
    REAL(munmap, munmap_fn);
    return hit(S_MUNMAP, RET) ? -1 : real_munmap(addr, len); /* the mapping stays */
}

typedef void *(*mremap_fn)(void *, size_t, size_t, int, ...);
EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    REAL(mremap, mremap_fn);
    void *new_addr = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        new_addr = va_arg(ap, void *);
        va_end(ap);
    }
    if (hit(S_MREMAP, RET))
        return MAP_FAILED;
    return real_mremap(old, old_len, new_len, flags, new_addr);
}

typedef int (*msync_fn)(void *, size_t, int);
EXPORT int msync(void *addr, size_t len, int flags)
{
    REAL(msync, msync_fn);
    return hit(S_MSYNC, RET) ? -1 : real_msync(addr, len, flags);
}

typedef int (*madvise_fn)(void *, size_t, int);
EXPORT int madvise(void *addr, size_t len, int advice)
{
    REAL(madvise, madvise_fn);
    return hit(S_MADVISE, RET) ? -1 : real_madvise(addr, len, advice);
}

typedef int (*ftruncate_fn)(int, off_t);
EXPORT int ftruncate(int fd, off_t len)
{
    REAL(ftruncate, ftruncate_fn);
    note_size((uint64_t)len);
    return hit(S_FTRUNCATE, RET) ? -1 : changed(real_ftruncate(fd, len), fd, NT_TRUNCATED);
}
EXPORT int ftruncate64(int fd, off_t len)
{
    REAL(ftruncate64, ftruncate_fn);
    note_size((uint64_t)len);
    return hit(S_FTRUNCATE, RET) ? -1 : changed(real_ftruncate64(fd, len), fd, NT_TRUNCATED);
}

typedef int (*fallocate_fn)(int, int, off_t, off_t);
EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
    REAL(fallocate, fallocate_fn);
    note_size((uint64_t)off + (uint64_t)len);
    if (hit(S_FALLOCATE, RET))
        return -1;
    return changed(real_fallocate(fd, mode, off, len), fd, NT_ALLOCATED);
}
EXPORT int fallocate64(int fd, int mode, off_t off, off_t len)
{
    REAL(fallocate64, fallocate_fn);
    note_size((uint64_t)off + (uint64_t)len);
    if (hit(S_FALLOCATE, RET))
        return -1;
    return changed(real_fallocate64(fd, mode, off, len), fd, NT_ALLOCATED);
}

/* posix_fallocate returns the error instead of setting errno. */
typedef int (*posix_fallocate_fn)(int, off_t, off_t);
static int posix_fallocate_via(posix_fallocate_fn real, int fd, off_t off, off_t len,
                               const void *ret)
{
    note_size((uint64_t)off + (uint64_t)len);
    int saved = errno;
    if (hit(S_POSIX_FALLOCATE, ret)) {
        int e = errno;
        errno = saved;
        return e;
    }
    return changed(real(fd, off, len), fd, NT_ALLOCATED);
}
EXPORT int posix_fallocate(int fd, off_t off, off_t len)
{
    REAL(posix_fallocate, posix_fallocate_fn);
    return posix_fallocate_via(real_posix_fallocate, fd, off, len, RET);
}
EXPORT int posix_fallocate64(int fd, off_t off, off_t len)
{
    REAL(posix_fallocate64, posix_fallocate_fn);
    return posix_fallocate_via(real_posix_fallocate64, fd, off, len, RET);
}

typedef int (*fsync_fn)(int);
EXPORT int fsync(int fd)
{
    REAL(fsync, fsync_fn);
    return hit(S_FSYNC, RET) ? -1 : changed(real_fsync(fd), fd, NT_WROTE);
}
EXPORT int fdatasync(int fd)
{
    REAL(fdatasync, fsync_fn);
    return hit(S_FDATASYNC, RET) ? -1 : changed(real_fdatasync(fd), fd, NT_WROTE);
}

/* Not a fault site: the last look at a file written with write(2). */
typedef int (*close_fn)(int);
EXPORT int close(int fd)
{
    REAL(close, close_fn);
    if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != 2)
        init();
    int saved = errno;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_ACCMODE) != O_RDONLY)
        nt_note_file(fd, NT_WROTE);
    errno = saved;
    return real_close(fd);
}
