/* powerloss recorder: one module behind the LD_PRELOAD shim
 * (faults/preload/powerloss.c) and the in-process API (faults/powerloss.h).
 *
 * At each durability call (fsync, fdatasync, msync, sync_file_range, sync,
 * syncfs), size change (ftruncate, truncate, fallocate, a write past the end,
 * O_TRUNC), create, rename, unlink and exit, it snapshots every regular file
 * under the run directory as the page cache sees it: read through the file, so
 * stores made through a shared mapping are included.  A snapshot writes only
 * the pages whose hash changed since the previous snapshot (by any process of
 * the tree: the hashes live in the log, under a lock).  The model — what each
 * call makes durable — is applied by the explorer (faults/powerloss), which
 * reads the raw calls from the log.
 *
 * Log lines (faults/powerloss parses them):
 *   E ID KIND ACKBYTES ARGS...   a snapshot begins: the event, its id
 *                                (pid.n), the size of the ack file then
 *   N FID SIZE RELPATH           a regular file under the run directory
 *   P FID PAGE BLOB              page PAGE of FID now holds blob page BLOB
 *                                (0: all zeros)
 *   Z                            the snapshot is complete
 *   R ID RC                      the durability call ID returned RC
 *   O KIND PATH                  a durability call on a file outside the run
 *                                directory (not recorded; the explorer warns)
 * FID is dev.ino.btime (hex): a new file never reuses an old one's id.
 * Events: begin, fsync FID, fdatasync FID, dsync FID OFF LEN (a write through
 * an O_DSYNC/O_SYNC descriptor), dirsync RELDIR, msync FLAGS
 * (FID OFF LEN)..., sfr FLAGS FID OFF LEN, syncall, ftruncate FID, fallocate
 * FID, extend FID, create REL, rename REL, unlink REL, mark TEXT, exit.
 */
#define _GNU_SOURCE
#include "powerloss.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef PL_EXPORT
#define PL_EXPORT __attribute__((visibility("default")))
#endif

#define PL_PAGE 4096
#define PL_CHUNK ((size_t)1 << 20)

static struct {
    int active;
    char run[PATH_MAX], log[PATH_MAX], ack[PATH_MAX + 16];
    size_t runlen;
    dev_t logdev;
    ino_t logino;
    int events, pages, lock;
    unsigned long n;
    int touched; /* this process recorded or wrote something: its exit matters */
    uint64_t zero_hash;
} pl = {.events = -1, .pages = -1, .lock = -1};

static pthread_mutex_t pl_mu = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local int pl_busy; /* the recorder's own calls pass straight through */

/* The next definition of a symbol: libc's, or another preload's. */
#define REAL(name, type)                                                       \
    static type real_##name;                                                   \
    if (!real_##name) {                                                        \
        *(void **)&real_##name = dlsym(RTLD_NEXT, #name); /* POSIX idiom */   \
        if (!real_##name) {                                                    \
            errno = ENOSYS;                                                    \
            return -1;                                                         \
        }                                                                      \
    }

/* ---- a growing text buffer --------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

__attribute__((format(printf, 2, 3))) static void bput(buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0)
            return;
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + (size_t)k + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return;
        b->p = p;
        b->cap = cap;
    }
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return;
        }
        c += w;
        n -= (size_t)w;
    }
}

/* ---- page hashes ----------------------------------------------------------------- */

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* Four independent lanes keep the multiplier busy: hashing must keep up with
 * reading the page cache (a 64 MiB file at every sync). */
static uint64_t page_hash(const unsigned char *p)
{
    uint64_t l[4] = {0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full, 0x165667b19e3779f9ull,
                     0x27d4eb2f165667c5ull};
    for (size_t i = 0; i < PL_PAGE; i += 32) {
        for (int k = 0; k < 4; k++) {
            uint64_t w;
            memcpy(&w, p + i + 8 * (size_t)k, 8);
            l[k] = rotl(l[k] ^ w, 29) * 0x9fb21c651e98df25ull;
        }
    }
    uint64_t h = l[0] ^ rotl(l[1], 17) ^ rotl(l[2], 31) ^ rotl(l[3], 47);
    h = (h ^ (h >> 32)) * 0xd6e8feb86659fd93ull;
    return (h ^ (h >> 29)) | 1; /* 0 means "never seen" in the hash files */
}

/* ---- files: which are tracked, and their ids ------------------------------------------ */

static int fid_of(int fd, char out[80])
{
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_BTIME, &sx) != 0)
        return -1;
    unsigned long long bt = (sx.stx_mask & STATX_BTIME) ? (unsigned long long)sx.stx_btime.tv_sec : 0;
    unsigned bn = (sx.stx_mask & STATX_BTIME) ? sx.stx_btime.tv_nsec : 0;
    snprintf(out, 80, "%llx.%llx.%llx.%x",
             (unsigned long long)makedev(sx.stx_dev_major, sx.stx_dev_minor),
             (unsigned long long)sx.stx_ino, bt, bn);
    return 0;
}

/* The path below the run directory ("." for itself), or NULL. */
static const char *below_run(const char *abs)
{
    if (strncmp(abs, pl.run, pl.runlen) != 0)
        return NULL;
    if (abs[pl.runlen] == 0)
        return ".";
    return abs[pl.runlen] == '/' ? abs + pl.runlen + 1 : NULL;
}

/* fd's path below the run directory into rel; 1 regular file, 2 directory, 0 other. */
static int fd_kind(int fd, char *rel, size_t cap)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
        return 0;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = 0;
    const char *r = below_run(path);
    if (!r)
        return 0;
    snprintf(rel, cap, "%s", r);
    return S_ISDIR(st.st_mode) ? 2 : 1;
}

/* Tracked files by (dev, ino), so that a write costs one fstat. */
static struct {
    dev_t dev;
    ino_t ino;
    int tracked; /* 0 empty slot, 1 no, 2 yes */
} pl_cache[256];

static int tracked_fd(int fd, struct stat *st)
{
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode))
        return 0;
    size_t i = (size_t)(st->st_ino ^ st->st_dev) % 256;
    if (pl_cache[i].tracked && pl_cache[i].dev == st->st_dev && pl_cache[i].ino == st->st_ino)
        return pl_cache[i].tracked == 2;
    char rel[PATH_MAX];
    int t = fd_kind(fd, rel, sizeof rel) == 1;
    pl_cache[i].dev = st->st_dev;
    pl_cache[i].ino = st->st_ino;
    pl_cache[i].tracked = t ? 2 : 1;
    return t;
}

/* ---- snapshots -------------------------------------------------------------------------- */

typedef struct snap {
    buf text;
    unsigned char *chunk;
    uint64_t blob; /* next free page of the blob */
} snap;

static void snap_pages(snap *s, int fd, const char *fid, uint64_t size)
{
    char hpath[PATH_MAX + 96];
    snprintf(hpath, sizeof hpath, "%s/hash/%s", pl.log, fid);
    int h = open(hpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (h < 0)
        return;
    uint64_t npages = (size + PL_PAGE - 1) / PL_PAGE;
    size_t hbytes = (size_t)(npages ? npages : 1) * 8;
    /* a shrink forgets the hashes past the end: a page that grows back as
     * zeros must read as zeros, not as "unchanged" */
    if (ftruncate(h, (off_t)(npages * 8)) != 0 || ftruncate(h, (off_t)hbytes) != 0) {
        close(h);
        return;
    }
    uint64_t *hash = mmap(NULL, hbytes, PROT_READ | PROT_WRITE, MAP_SHARED, h, 0);
    close(h);
    if (hash == MAP_FAILED)
        return;
    for (uint64_t at = 0; at < npages * PL_PAGE;) {
        size_t want = PL_CHUNK;
        if (npages * PL_PAGE - at < want)
            want = (size_t)(npages * PL_PAGE - at);
        ssize_t got = pread(fd, s->chunk, want, (off_t)at);
        if (got <= 0)
            break; /* shrunk meanwhile: the next snapshot sees it */
        size_t full = ((size_t)got + PL_PAGE - 1) / PL_PAGE * PL_PAGE;
        memset(s->chunk + got, 0, full - (size_t)got);
        for (size_t off = 0; off < full; off += PL_PAGE) {
            uint64_t p = (at + off) / PL_PAGE, v = page_hash(s->chunk + off);
            if (v == hash[p])
                continue;
            int zero = v == pl.zero_hash;
            if (!(zero && hash[p] == 0)) { /* a page never seen that is zero: a hole */
                uint64_t idx = 0;
                if (!zero && pwrite(pl.pages, s->chunk + off, PL_PAGE, (off_t)(s->blob * PL_PAGE)) ==
                                 PL_PAGE)
                    idx = s->blob++;
                else if (!zero)
                    continue; /* not recorded: leave the hash, try again next time */
                bput(&s->text, "P %s %llu %llu\n", fid, (unsigned long long)p,
                     (unsigned long long)idx);
            }
            hash[p] = v;
        }
        at += full;
    }
    munmap(hash, hbytes);
}

static void snap_dir(snap *s, int dfd, const char *rel, int depth)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || strchr(e->d_name, '\n'))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        if (S_ISDIR(st.st_mode)) {
            if (depth < 32 && !(st.st_dev == pl.logdev && st.st_ino == pl.logino)) {
                int c = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (c >= 0)
                    snap_dir(s, c, sub, depth + 1);
            }
            continue;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        char fid[80];
        if (fd < 0)
            continue;
        if (fstat(fd, &st) == 0 && fid_of(fd, fid) == 0) {
            bput(&s->text, "N %s %llu %s\n", fid, (unsigned long long)st.st_size, sub);
            snap_pages(s, fd, fid, (uint64_t)st.st_size);
        }
        close(fd);
    }
    closedir(d);
}

/* Take a snapshot for event `kind`; id receives its id.  With only_first, only
 * when the log is still empty (the first process of a tree). */
static void snapshot(const char *kind, const char *args, char id[48], int only_first)
{
    if (id)
        id[0] = 0;
    pthread_mutex_lock(&pl_mu);
    if (pl.active && flock(pl.lock, LOCK_EX) == 0) {
        struct stat st;
        if (!only_first || (fstat(pl.events, &st) == 0 && st.st_size == 0)) {
            snap s = {{0}, malloc(PL_CHUNK), 0};
            char myid[48];
            snprintf(myid, sizeof myid, "%ld.%lu", (long)getpid(), ++pl.n);
            long long acked = stat(pl.ack, &st) == 0 ? (long long)st.st_size : 0;
            bput(&s.text, "E %s %s %lld %s\n", myid, kind, acked, args ? args : "");
            if (fstat(pl.pages, &st) == 0 && s.chunk) {
                s.blob = (uint64_t)st.st_size / PL_PAGE;
                int dfd = open(pl.run, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd >= 0)
                    snap_dir(&s, dfd, "", 0);
            }
            bput(&s.text, "Z\n");
            if (s.text.p)
                write_all(pl.events, s.text.p, s.text.n);
            free(s.text.p);
            free(s.chunk);
            if (id)
                snprintf(id, 48, "%s", myid);
            pl.touched = 1;
        }
        flock(pl.lock, LOCK_UN);
    }
    pthread_mutex_unlock(&pl_mu);
}

static void result(const char *id, int rc)
{
    if (!id[0])
        return;
    char line[96];
    int n = snprintf(line, sizeof line, "R %s %d\n", id, rc);
    write_all(pl.events, line, (size_t)n); /* O_APPEND: one line, whole */
}

/* Enter the recorder from a wrapper: 0 when it must only forward. */
static int enter(int *saved)
{
    if (!__atomic_load_n(&pl.active, __ATOMIC_ACQUIRE) || pl_busy)
        return 0;
    pl_busy = 1;
    *saved = errno;
    return 1;
}

static void leave(int saved)
{
    pl_busy = 0;
    errno = saved;
}

/* ---- the API ---------------------------------------------------------------------------- */

static int open_log(const char *name, int flags)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/%s", pl.log, name);
    return open(p, flags | O_CLOEXEC, 0600);
}

PL_EXPORT int pl_start(const char *run_dir, const char *log_dir)
{
    if (pl.active)
        return EBUSY;
    pl_busy++;
    int e = 0;
    struct stat st;
    if (!realpath(run_dir, pl.run) || (mkdir(log_dir, 0700) != 0 && errno != EEXIST) ||
        !realpath(log_dir, pl.log) || stat(pl.log, &st) != 0)
        e = errno ? errno : EINVAL;
    char hdir[PATH_MAX + 8];
    if (!e) {
        pl.runlen = strlen(pl.run);
        pl.logdev = st.st_dev;
        pl.logino = st.st_ino;
        snprintf(hdir, sizeof hdir, "%s/hash", pl.log);
        if (mkdir(hdir, 0700) != 0 && errno != EEXIST)
            e = errno;
    }
    if (!e) {
        pl.events = open_log("events", O_WRONLY | O_APPEND | O_CREAT);
        pl.pages = open_log("pages", O_RDWR | O_CREAT);
        pl.lock = open_log("lock", O_RDWR | O_CREAT);
        if (pl.events < 0 || pl.pages < 0 || pl.lock < 0)
            e = errno;
    }
    if (!e && flock(pl.lock, LOCK_EX) == 0) { /* blob page 0 is the zero page */
        static const unsigned char zero[PL_PAGE];
        if (fstat(pl.pages, &st) == 0 && st.st_size == 0 &&
            pwrite(pl.pages, zero, PL_PAGE, 0) != PL_PAGE)
            e = errno ? errno : EIO;
        flock(pl.lock, LOCK_UN);
        pl.zero_hash = page_hash(zero);
    }
    if (!e) {
        const char *ack = getenv("DA_POWERLOSS_ACK");
        if (ack && *ack) {
            snprintf(pl.ack, sizeof pl.ack, "%s", ack);
        } else {
            snprintf(pl.ack, sizeof pl.ack, "%s/acks", pl.log);
            setenv("DA_POWERLOSS_ACK", pl.ack, 1);
        }
        __atomic_store_n(&pl.active, 1, __ATOMIC_RELEASE);
        snapshot("begin", NULL, NULL, 1);
    } else {
        for (int *fd = &pl.events; fd <= &pl.lock; fd++)
            if (*fd >= 0)
                close(*fd), *fd = -1;
    }
    pl_busy--;
    return e;
}

PL_EXPORT void pl_stop(void)
{
    if (!pl.active)
        return;
    pl_busy++;
    if (pl.touched)
        snapshot("exit", NULL, NULL, 0);
    __atomic_store_n(&pl.active, 0, __ATOMIC_RELEASE);
    pthread_mutex_lock(&pl_mu);
    for (int *fd = &pl.events; fd <= &pl.lock; fd++)
        if (*fd >= 0)
            close(*fd), *fd = -1;
    pthread_mutex_unlock(&pl_mu);
    pl_busy--;
}

PL_EXPORT int pl_active(void) { return __atomic_load_n(&pl.active, __ATOMIC_ACQUIRE); }

PL_EXPORT int pl_ack(const char *line)
{
    pl_busy++;
    const char *path = pl.ack[0] ? pl.ack : getenv("DA_POWERLOSS_ACK");
    int e = 0;
    if (path && *path) {
        size_t n = strlen(line);
        char *l = malloc(n + 1);
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (!l || fd < 0) {
            e = errno ? errno : ENOMEM;
        } else {
            memcpy(l, line, n);
            l[n] = '\n';
            if (write(fd, l, n + 1) != (ssize_t)(n + 1))
                e = errno ? errno : EIO;
        }
        if (fd >= 0)
            close(fd);
        free(l);
    }
    pl_busy--;
    return e;
}

PL_EXPORT void pl_mark(const char *what)
{
    int saved;
    if (!enter(&saved))
        return;
    snapshot("mark", what, NULL, 0);
    leave(saved);
}

/* ---- the wrappers -------------------------------------------------------------------------- */

typedef int (*fd_fn)(int);

/* Before a durability call: its snapshot (when recording), its id in id. */
static void call_begin(const char *kind, const char *args, char id[48])
{
    int saved;
    if (enter(&saved)) {
        snapshot(kind, args, id, 0);
        leave(saved);
    }
}

/* After it: its result in the log; errno as the call left it. */
static int call_end(const char *id, int r)
{
    if (id[0]) {
        int saved = errno;
        result(id, r);
        errno = saved;
    }
    return r;
}

/* A durability call on a file outside the run directory (and outside the
 * log): one line "O KIND PATH", so that the explorer can say that what the
 * program made durable was never recorded.  Called inside enter/leave. */
static void outside_path(const char *kind, const char *path)
{
    size_t loglen = strlen(pl.log);
    if (path[0] != '/' || !strcmp(path, pl.ack) ||
        (!strncmp(path, pl.log, loglen) && (path[loglen] == 0 || path[loglen] == '/')))
        return;
    buf b = {0};
    bput(&b, "O %s %s\n", kind, path);
    if (!b.p)
        return;
    for (char *c = b.p; c < b.p + b.n - 1; c++)
        if (*c == '\n')
            *c = '?';
    write_all(pl.events, b.p, b.n); /* O_APPEND: one line, whole */
    free(b.p);
}

static void outside_fd(const char *kind, int fd)
{
    struct stat st;
    char link[64], path[PATH_MAX];
    if (fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
        return;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return;
    path[n] = 0;
    outside_path(S_ISDIR(st.st_mode) ? "dirsync" : kind, path);
}

static int sync_fd(fd_fn real, const char *kind, int fd)
{
    char id[48] = "", rel[PATH_MAX], fid[80];
    if (pl_active() && !pl_busy) {
        int k = fd_kind(fd, rel, sizeof rel), saved;
        if (k == 2)
            call_begin("dirsync", rel, id);
        else if (k == 1 && fid_of(fd, fid) == 0)
            call_begin(kind, fid, id);
        else if (k == 0 && enter(&saved)) {
            outside_fd(kind, fd);
            leave(saved);
        }
    }
    return call_end(id, real(fd));
}

PL_EXPORT int fsync(int fd)
{
    REAL(fsync, fd_fn);
    return sync_fd(real_fsync, "fsync", fd);
}

PL_EXPORT int fdatasync(int fd)
{
    REAL(fdatasync, fd_fn);
    return sync_fd(real_fdatasync, "fdatasync", fd);
}

PL_EXPORT int syncfs(int fd)
{
    REAL(syncfs, fd_fn);
    char id[48] = "";
    call_begin("syncall", NULL, id);
    return call_end(id, real_syncfs(fd));
}

typedef void (*sync_fn)(void);
PL_EXPORT void sync(void)
{
    static sync_fn real_sync;
    if (!real_sync)
        *(void **)&real_sync = dlsym(RTLD_NEXT, "sync");
    char id[48] = "";
    call_begin("syncall", NULL, id);
    if (real_sync)
        real_sync();
    call_end(id, 0);
}

/* The tracked files an address range maps, as " FID OFF LEN" pieces, from
 * /proc/self/maps (so that mremap and the program's own bookkeeping do not
 * matter). */
static void map_pieces(buf *out, buf *outside, uintptr_t addr, size_t len)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    buf m = {0};
    char tmp[65536];
    ssize_t n;
    while ((n = read(fd, tmp, sizeof tmp)) > 0)
        bput(&m, "%.*s", (int)n, tmp);
    close(fd);
    for (char *line = m.p, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        unsigned long lo, hi;
        unsigned long long off, ino;
        char perms[8];
        int pos = 0;
        if (sscanf(line, "%lx-%lx %7s %llx %*x:%*x %llu %n", &lo, &hi, perms, &off, &ino, &pos) < 5 ||
            !pos || perms[3] != 's' || hi <= addr || lo >= addr + len)
            continue;
        const char *path = line + pos;
        if (!below_run(path)) {
            struct stat st;
            if (path[0] == '/' && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
                (unsigned long long)st.st_ino == ino)
                bput(outside, "%s\n", path); /* a file, not /dev/zero or a memfd */
            continue;
        }
        int f = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        char fid[80];
        if (f >= 0 && fstat(f, &st) == 0 && (unsigned long long)st.st_ino == ino &&
            fid_of(f, fid) == 0) {
            uintptr_t from = addr > lo ? addr : lo, to = addr + len < hi ? addr + len : hi;
            bput(out, " %s %llu %llu", fid, (unsigned long long)(off + (from - lo)),
                 (unsigned long long)(to - from));
        }
        if (f >= 0)
            close(f);
    }
    free(m.p);
}

typedef int (*msync_fn)(void *, size_t, int);
PL_EXPORT int msync(void *addr, size_t len, int flags)
{
    REAL(msync, msync_fn);
    int saved;
    char id[48] = "";
    if (enter(&saved)) {
        buf args = {0}, outside = {0};
        bput(&args, "%d", flags);
        size_t head = args.n;
        map_pieces(&args, &outside, (uintptr_t)addr, len);
        if (args.p && args.n > head)
            snapshot("msync", args.p, id, 0);
        for (char *p = outside.p, *nl; p && *p; p = nl + 1) {
            nl = strchr(p, '\n');
            *nl = 0;
            if (flags & MS_SYNC)
                outside_path("msync", p);
        }
        free(args.p);
        free(outside.p);
        leave(saved);
    }
    return call_end(id, real_msync(addr, len, flags));
}

typedef int (*sfr_fn)(int, off_t, off_t, unsigned);
PL_EXPORT int sync_file_range(int fd, off_t off, off_t nbytes, unsigned flags)
{
    REAL(sync_file_range, sfr_fn);
    int saved;
    char id[48] = "", rel[PATH_MAX], fid[80];
    if (enter(&saved)) {
        if (fd_kind(fd, rel, sizeof rel) == 1 && fid_of(fd, fid) == 0) {
            char args[160];
            snprintf(args, sizeof args, "%u %s %lld %lld", flags, fid, (long long)off,
                     (long long)nbytes);
            snapshot("sfr", args, id, 0);
        } else {
            outside_fd("sfr", fd);
        }
        leave(saved);
    }
    return call_end(id, real_sync_file_range(fd, off, nbytes, flags));
}

/* After a call that changed fd's size (or may have): a snapshot. */
static void size_event(const char *kind, int fd)
{
    int saved;
    if (!enter(&saved))
        return;
    struct stat st;
    char fid[80];
    if (tracked_fd(fd, &st) && fid_of(fd, fid) == 0)
        snapshot(kind, fid, NULL, 0);
    leave(saved);
}

static int size_done(int r, const char *kind, int fd)
{
    if (r == 0)
        size_event(kind, fd);
    return r;
}

typedef int (*ftruncate_fn)(int, off_t);
PL_EXPORT int ftruncate(int fd, off_t len)
{
    REAL(ftruncate, ftruncate_fn);
    return size_done(real_ftruncate(fd, len), "ftruncate", fd);
}

PL_EXPORT int ftruncate64(int fd, off_t len)
{
    REAL(ftruncate64, ftruncate_fn);
    return size_done(real_ftruncate64(fd, len), "ftruncate", fd);
}

typedef int (*truncate_fn)(const char *, off_t);
PL_EXPORT int truncate(const char *path, off_t len)
{
    REAL(truncate, truncate_fn);
    int r = real_truncate(path, len);
    if (r == 0 && pl_active() && !pl_busy) {
        int saved = errno, fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            size_event("ftruncate", fd);
            close(fd);
        }
        errno = saved;
    }
    return r;
}

typedef int (*fallocate_fn)(int, int, off_t, off_t);
PL_EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
    REAL(fallocate, fallocate_fn);
    return size_done(real_fallocate(fd, mode, off, len), "fallocate", fd);
}

PL_EXPORT int fallocate64(int fd, int mode, off_t off, off_t len)
{
    REAL(fallocate64, fallocate_fn);
    return size_done(real_fallocate64(fd, mode, off, len), "fallocate", fd);
}

typedef int (*posix_fallocate_fn)(int, off_t, off_t);
PL_EXPORT int posix_fallocate(int fd, off_t off, off_t len)
{
    REAL(posix_fallocate, posix_fallocate_fn);
    return size_done(real_posix_fallocate(fd, off, len), "fallocate", fd);
}

PL_EXPORT int posix_fallocate64(int fd, off_t off, off_t len)
{
    REAL(posix_fallocate64, posix_fallocate_fn);
    return size_done(real_posix_fallocate64(fd, off, len), "fallocate", fd);
}

/* Writes: a snapshot only when one made a tracked file longer. */
static off_t size_before(int fd)
{
    int saved;
    if (!enter(&saved))
        return -1;
    struct stat st;
    off_t s = tracked_fd(fd, &st) ? st.st_size : -1;
    if (s >= 0)
        pl.touched = 1;
    leave(saved);
    return s;
}

/* After a write to a tracked file (before >= 0): through an O_DSYNC or O_SYNC
 * descriptor the bytes are durable when it returns (LMDB writes its meta page
 * so): a "dsync FID OFF LEN" event; otherwise a snapshot if the file grew.
 * at: the write's offset, or -1 for the file position. */
static ssize_t size_after(int fd, off_t before, ssize_t wrote, off_t at)
{
    struct stat st;
    int saved;
    if (before < 0 || wrote <= 0 || !enter(&saved))
        return wrote;
    int fl = fcntl(fd, F_GETFL);
    char fid[80], args[160], id[48] = "";
    if (fl >= 0 && (fl & O_DSYNC) && fid_of(fd, fid) == 0) {
        if (at < 0 || (fl & O_APPEND))
            at = lseek(fd, 0, SEEK_CUR) - wrote;
        snprintf(args, sizeof args, "%s %lld %lld", fid, (long long)at, (long long)wrote);
        snapshot("dsync", args, id, 0);
        result(id, 0);
    } else if (fstat(fd, &st) == 0 && st.st_size > before && fid_of(fd, fid) == 0) {
        snapshot("extend", fid, NULL, 0);
    }
    leave(saved);
    return wrote;
}

typedef ssize_t (*write_fn)(int, const void *, size_t);
PL_EXPORT ssize_t write(int fd, const void *p, size_t n)
{
    REAL(write, write_fn);
    off_t before = size_before(fd);
    return size_after(fd, before, real_write(fd, p, n), -1);
}

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
PL_EXPORT ssize_t pwrite(int fd, const void *p, size_t n, off_t off)
{
    REAL(pwrite, pwrite_fn);
    off_t before = size_before(fd);
    return size_after(fd, before, real_pwrite(fd, p, n, off), off);
}

PL_EXPORT ssize_t pwrite64(int fd, const void *p, size_t n, off_t off)
{
    REAL(pwrite64, pwrite_fn);
    off_t before = size_before(fd);
    return size_after(fd, before, real_pwrite64(fd, p, n, off), off);
}

typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
PL_EXPORT ssize_t writev(int fd, const struct iovec *v, int n)
{
    REAL(writev, writev_fn);
    off_t before = size_before(fd);
    return size_after(fd, before, real_writev(fd, v, n), -1);
}

typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);
PL_EXPORT ssize_t pwritev(int fd, const struct iovec *v, int n, off_t off)
{
    REAL(pwritev, pwritev_fn);
    off_t before = size_before(fd);
    return size_after(fd, before, real_pwritev(fd, v, n, off), off);
}

/* ---- names: create, rename, unlink ------------------------------------------------------- */

/* dirfd + path as an absolute path below the run directory into rel; 0 if not. */
static int rel_path(int dirfd, const char *path, char *rel, size_t cap)
{
    char abs[PATH_MAX * 2], base[PATH_MAX];
    if (!path)
        return 0;
    if (path[0] == '/') {
        snprintf(abs, sizeof abs, "%s", path);
    } else {
        if (dirfd == AT_FDCWD) {
            if (!getcwd(base, sizeof base))
                return 0;
        } else {
            char link[64];
            snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
            ssize_t n = readlink(link, base, sizeof base - 1);
            if (n <= 0)
                return 0;
            base[n] = 0;
        }
        snprintf(abs, sizeof abs, "%s/%s", base, path[0] == '.' && path[1] == '/' ? path + 2 : path);
    }
    const char *r = below_run(abs);
    if (!r)
        return 0;
    snprintf(rel, cap, "%s", r);
    return 1;
}

typedef int (*openat_fn)(int, const char *, int, ...);

static int open_via(openat_fn real, int dirfd, const char *path, int flags, mode_t mode)
{
    int saved, watch = 0, existed = 1;
    char rel[PATH_MAX];
    if ((flags & (O_CREAT | O_TRUNC | O_WRONLY | O_RDWR)) && enter(&saved)) {
        watch = rel_path(dirfd, path, rel, sizeof rel);
        if (watch) {
            pl.touched = 1; /* opened for writing: stores through a mapping may follow */
            existed = faccessat(dirfd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
        }
        leave(saved);
    }
    int fd = real(dirfd, path, flags, mode);
    if (fd >= 0 && watch && enter(&saved)) {
        if (!existed)
            snapshot("create", rel, NULL, 0);
        else if (flags & O_TRUNC)
            snapshot("ftruncate", rel, NULL, 0);
        leave(saved);
    }
    return fd;
}

/* open's mode is there only with O_CREAT or O_TMPFILE; the real function is
 * resolved once into *real. */
static int open_va(openat_fn *real, const char *sym, int dirfd, const char *path, int flags,
                   va_list ap)
{
    mode_t mode = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int)
                                                                         : 0;
    if (!*real)
        *(void **)real = dlsym(RTLD_NEXT, sym);
    if (!*real) {
        errno = ENOSYS;
        return -1;
    }
    return open_via(*real, dirfd, path, flags, mode);
}

static openat_fn real_openat, real_openat64;

/* The same body for the four variadic opens: only the real symbol and the
 * directory differ. */
#define PL_OPEN_BODY(sym, dirfd)                                               \
    va_list ap;                                                                \
    va_start(ap, flags);                                                       \
    int fd = open_va(&real_##sym, #sym, dirfd, path, flags, ap);               \
    va_end(ap);                                                                \
    return fd

PL_EXPORT int open(const char *path, int flags, ...) { PL_OPEN_BODY(openat, AT_FDCWD); }
PL_EXPORT int open64(const char *path, int flags, ...) { PL_OPEN_BODY(openat64, AT_FDCWD); }
PL_EXPORT int openat(int dirfd, const char *path, int flags, ...) { PL_OPEN_BODY(openat, dirfd); }
PL_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    PL_OPEN_BODY(openat64, dirfd);
}

static int creat_via(openat_fn *real, const char *sym, const char *path, mode_t mode)
{
    if (!*real)
        *(void **)real = dlsym(RTLD_NEXT, sym);
    if (!*real) {
        errno = ENOSYS;
        return -1;
    }
    return open_via(*real, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

PL_EXPORT int creat(const char *path, mode_t mode)
{
    return creat_via(&real_openat, "openat", path, mode);
}

PL_EXPORT int creat64(const char *path, mode_t mode)
{
    return creat_via(&real_openat64, "openat64", path, mode);
}

/* After a successful name operation below the run directory: a snapshot. */
static void name_event(const char *kind, int dfd1, const char *p1, int dfd2, const char *p2)
{
    int saved;
    char rel[PATH_MAX];
    if (!enter(&saved))
        return;
    if (rel_path(dfd1, p1, rel, sizeof rel) || (p2 && rel_path(dfd2, p2, rel, sizeof rel)))
        snapshot(kind, rel, NULL, 0);
    leave(saved);
}

static int name_done(int r, const char *kind, int dfd1, const char *p1, int dfd2, const char *p2)
{
    if (r == 0)
        name_event(kind, dfd1, p1, dfd2, p2);
    return r;
}

typedef int (*renameat2_fn)(int, const char *, int, const char *, unsigned);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*rename_fn)(const char *, const char *);
typedef int (*unlinkat_fn)(int, const char *, int);
typedef int (*unlink_fn)(const char *);

PL_EXPORT int rename(const char *a, const char *b)
{
    REAL(rename, rename_fn);
    return name_done(real_rename(a, b), "rename", AT_FDCWD, a, AT_FDCWD, b);
}

PL_EXPORT int renameat(int da, const char *a, int db, const char *b)
{
    REAL(renameat, renameat_fn);
    return name_done(real_renameat(da, a, db, b), "rename", da, a, db, b);
}

PL_EXPORT int renameat2(int da, const char *a, int db, const char *b, unsigned flags)
{
    REAL(renameat2, renameat2_fn);
    return name_done(real_renameat2(da, a, db, b, flags), "rename", da, a, db, b);
}

PL_EXPORT int unlink(const char *p)
{
    REAL(unlink, unlink_fn);
    return name_done(real_unlink(p), "unlink", AT_FDCWD, p, AT_FDCWD, NULL);
}

PL_EXPORT int unlinkat(int d, const char *p, int flags)
{
    REAL(unlinkat, unlinkat_fn);
    return name_done(real_unlinkat(d, p, flags), "unlink", d, p, AT_FDCWD, NULL);
}

PL_EXPORT int remove(const char *p)
{
    REAL(remove, unlink_fn);
    return name_done(real_remove(p), "unlink", AT_FDCWD, p, AT_FDCWD, NULL);
}

/* _exit skips destructors: the end state is recorded here instead. */
typedef void (*exit_fn)(int);
PL_EXPORT void _exit(int status)
{
    static exit_fn real__exit;
    if (!real__exit)
        *(void **)&real__exit = dlsym(RTLD_NEXT, "_exit");
    int saved;
    if (enter(&saved)) {
        if (pl.touched)
            snapshot("exit", NULL, NULL, 0);
        leave(saved);
    }
    if (real__exit)
        real__exit(status);
    for (;;)
        ; /* no libc _exit: cannot happen */
}
