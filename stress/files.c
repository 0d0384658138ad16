/* files — the core's public API handed what users' files really are: sparse
 * copies and files with holes on a nearly full disk, descriptors of every
 * kind (O_APPEND, O_RDONLY, O_PATH, FIFOs, ttys, sockets, a caller's locked
 * descriptor), paths that are not regular files, arenas and vectors inherited
 * across fork, and a file system without fallocate (ramfs).
 *
 * Each case is named and runs in its own child: a signal there is a crash of
 * that case, never of the driver.  A case checks the contracts of issue 9
 * (.notes/hardening-contract.md, C2 C3 C4 C10): an error code or a correct
 * result, never a signal; a failed call changes nothing (the file's size,
 * bytes, mode and existence, the caller's descriptor and its lock); a file is
 * locked while it is open.  Sizes and alignments come from the round's seed;
 * `--case NAME --seed S` replays one case of one round. */
#define _GNU_SOURCE
#include "common.h"
#include "diskalloc.h"
#include "env.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define CASE_ALARM 30 /* seconds: a case that blocks (a FIFO, a tty) dies of SIGALRM */
#define SANDBOX_BYTES ((size_t)8 << 20)
#define NO_SECOND 1   /* "no second acceptable code" for expect2 */
#define MAX_ELEM_BYTES 64

typedef struct shared {
    st_stats s;
    size_t progress; /* bytes a store loop got through: says where a SIGBUS hit */
} shared;

enum where { IN_DIR, IN_TMPFS, IN_RAMFS };

struct fcase;
typedef struct ctx {
    shared *sh;
    st_stats *s;
    st_rng rng;
    uint64_t seed;   /* the round's seed */
    const char *dir; /* where the case makes its files */
    const char *fs;  /* "disk" (--dir), "tmpfs" or "ramfs" */
    size_t elem;     /* element size for the case's vectors */
    const struct fcase *c;
} ctx;

typedef struct fcase {
    const char *name;
    enum where where;
    const char *contract;
    int (*fn)(ctx *x);
} fcase;

static const size_t elem_sizes[] = {1, 4, 8, 24, 64};

/* ---- reporting -------------------------------------------------------------- */

static void viol(ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void viol(ctx *x, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    st_violation(x->s, "%s: %s", x->c->name, msg);
}

/* The call returned want (or want2, unless NO_SECOND); a violation otherwise. */
static int expect2(ctx *x, const char *call, int got, int want, int want2)
{
    x->s->ops++;
    if (got == want || (want2 != NO_SECOND && got == want2)) {
        x->s->clean_errors += got != 0;
        return 1;
    }
    if (want2 != NO_SECOND)
        viol(x, "%s returned %s; expected %s or %s", call, st_errname(got), st_errname(want), st_errname(want2));
    else
        viol(x, "%s returned %s; expected %s", call, st_errname(got), st_errname(want));
    return 0;
}

static int expect(ctx *x, const char *call, int got, int want)
{
    return expect2(x, call, got, want, NO_SECOND);
}

/* ---- what a failed call must leave as it was -------------------------------- */

typedef struct snap {
    int err;         /* errno of lstat/fstat, 0 if it exists */
    struct stat st;
    int flags;       /* descriptor snapshots: F_GETFL, or -errno */
    int fdflags;     /* F_GETFD, or -errno */
    uint64_t hash;   /* FNV-1a of a regular file's bytes */
} snap;

static uint64_t hash_path(const char *path)
{
    uint64_t h = 0xcbf29ce484222325ull;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return 0;
    static unsigned char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 0x100000001b3ull;
    close(fd);
    return h;
}

/* path: lstat (a link is itself); fd >= -1 adds the descriptor's state. */
static void snap_take(snap *sn, const char *path, int fd, int with_fd)
{
    memset(sn, 0, sizeof *sn);
    int r = with_fd ? fstat(fd, &sn->st) : lstat(path, &sn->st);
    sn->err = r == 0 ? 0 : errno;
    if (with_fd) {
        sn->flags = fcntl(fd, F_GETFL);
        sn->flags = sn->flags < 0 ? -errno : sn->flags;
        sn->fdflags = fcntl(fd, F_GETFD);
        sn->fdflags = sn->fdflags < 0 ? -errno : sn->fdflags;
    }
    if (path && r == 0 && S_ISREG(sn->st.st_mode))
        sn->hash = hash_path(path);
}

static void snap_diff(ctx *x, const char *what, const snap *a, const snap *b)
{
    if (a->err != b->err)
        viol(x, "%s: the file went from %s to %s", what, a->err ? strerror(a->err) : "existing",
             b->err ? strerror(b->err) : "existing");
    else if (a->err == 0 && (a->st.st_ino != b->st.st_ino || a->st.st_mode != b->st.st_mode ||
                             a->st.st_size != b->st.st_size || a->st.st_rdev != b->st.st_rdev))
        viol(x, "%s: the file changed: ino %llu->%llu mode %o->%o size %lld->%lld", what,
             (unsigned long long)a->st.st_ino, (unsigned long long)b->st.st_ino,
             (unsigned)a->st.st_mode, (unsigned)b->st.st_mode, (long long)a->st.st_size,
             (long long)b->st.st_size);
    else if (a->hash != b->hash)
        viol(x, "%s: the file's bytes changed", what);
    if (a->flags != b->flags || a->fdflags != b->fdflags)
        viol(x, "%s: the caller's descriptor changed: F_GETFL %#x->%#x F_GETFD %d->%d", what,
             (unsigned)a->flags, (unsigned)b->flags, a->fdflags, b->fdflags);
}

/* 1: an open file description other than a fresh one holds a flock on path;
 * 0: nobody does; -errno if the probe itself failed. */
static int locked(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -errno;
    int r = flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : errno == EWOULDBLOCK ? 1 : -errno;
    close(fd); /* releases the probe's own lock */
    return r;
}

static void expect_lock(ctx *x, const char *path, int want, const char *when)
{
    int l = locked(path);
    if (l != want)
        viol(x, "%s: the file is %s (probe from another open file description); expected %s",
             when, l == 1 ? "locked" : l == 0 ? "not locked" : strerror(-l),
             want ? "locked" : "not locked");
}

static long dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* ---- files to work on --------------------------------------------------------- */

static void path_in(char *out, size_t n, const ctx *x, const char *name)
{
    snprintf(out, n, "%s/%s", x->dir, name);
}

/* A regular file of `bytes` pattern bytes (seed ^ salt) with mode 0640. */
static int make_file(ctx *x, const char *path, size_t bytes, uint64_t salt)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    unsigned char buf[4096];
    size_t done = 0;
    while (fd >= 0 && done < bytes) {
        size_t n = bytes - done < sizeof buf ? bytes - done : sizeof buf;
        st_fill(buf, n, x->seed ^ salt, done);
        if (write(fd, buf, n) != (ssize_t)n)
            break;
        done += n;
    }
    if (fd >= 0)
        close(fd);
    if (done != bytes)
        viol(x, "setup: could not write %zu bytes to %s: %s", bytes, path, strerror(errno));
    return done == bytes ? 0 : -1;
}

/* Bytes [off, off + n) of the file at path hold pattern (seed, index). */
static int file_holds(ctx *x, const char *path, size_t off, size_t n, uint64_t seed,
                      uint64_t index, const char *what)
{
    unsigned char *buf = malloc(n ? n : 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t r = fd >= 0 && buf ? pread(fd, buf, n, (off_t)off) : -1;
    if (fd >= 0)
        close(fd);
    size_t bad = r == (ssize_t)n ? st_check(buf, n, seed, index) : 0;
    free(buf);
    if (bad == SIZE_MAX)
        return 1;
    viol(x, "%s: the file's bytes [%zu, %zu) do not hold what was stored (byte %zu%s)", what,
         off, off + n, bad, r == (ssize_t)n ? "" : ", short read");
    return 0;
}

/* Store the pattern into every byte, noting progress for a crash report. */
static void store_all(ctx *x, void *p, size_t bytes, uint64_t seed)
{
    for (size_t off = 0; off < bytes; off += 4096) {
        size_t n = bytes - off < 4096 ? bytes - off : 4096;
        st_fill((unsigned char *)p + off, n, seed, off);
        x->sh->progress = off + n;
    }
}

static size_t free_bytes(const char *dir)
{
    struct statvfs sv;
    return statvfs(dir, &sv) == 0 ? (size_t)sv.f_bavail * sv.f_bsize : 0;
}

/* Bytes of the file's size that have no disk blocks. */
static size_t hole_bytes(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    size_t have = (size_t)st.st_blocks * 512;
    return (size_t)st.st_size > have ? (size_t)st.st_size - have : 0;
}

/* Fill the file system: write a ballast file until ENOSPC. */
static void fill_disk(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    static char block[1 << 16];
    for (size_t chunk = sizeof block; fd >= 0 && chunk >= 512;)
        if (write(fd, block, chunk) != (ssize_t)chunk)
            chunk /= 2;
    if (fd >= 0)
        close(fd);
}

static uint64_t elem_seed(const ctx *x) { return x->seed ^ 0xe1e3ull; }

/* A persistent vector of n pattern elements and `extra` more of capacity
 * (zeros), synced and closed.  *data_off: where its data starts in the file. */
static int make_vec(ctx *x, const char *path, size_t n, size_t extra, size_t *data_off)
{
    da_vec v;
    int e = da_vec_open(&v, path, x->elem, NULL);
    if (!expect(x, "setup: da_vec_open of a new file", e, 0))
        return -1;
    unsigned char buf[4096];
    size_t per = sizeof buf / x->elem;
    for (size_t i = 0; i < n && e == 0; i += per) {
        size_t k = n - i < per ? n - i : per;
        st_fill(buf, k * x->elem, elem_seed(x), i * x->elem);
        e = da_vec_extend(&v, buf, k);
    }
    if (e == 0)
        e = da_vec_try_reserve_exact(&v, extra);
    if (e == 0)
        e = da_vec_sync(&v);
    *data_off = (size_t)((unsigned char *)v.data - (unsigned char *)da_arena_base(da_vec_arena(&v)));
    int c = da_vec_close(&v);
    x->s->ops += 4;
    if (e || c) {
        viol(x, "setup: making a %zu-element vector: %s / close %s", n, st_errname(e), st_errname(c));
        return -1;
    }
    return 0;
}

/* The persistent vector at path has len elements of pattern (seed, 0). */
static void vec_holds(ctx *x, const char *path, size_t len, uint64_t seed, const char *what)
{
    da_vec v;
    int e = da_vec_open(&v, path, x->elem, NULL);
    x->s->ops++;
    if (e) {
        viol(x, "%s: reopen failed: %s", what, st_errname(e));
        return;
    }
    size_t bad = st_check(v.data, v.len * v.elem_size, seed, 0);
    if (v.len != len)
        viol(x, "%s: reopened with len %zu; expected %zu", what, v.len, len);
    else if (bad != SIZE_MAX)
        viol(x, "%s: reopened element %zu does not hold its pattern", what, bad / x->elem);
    e = da_vec_close(&v);
    expect(x, "close after reopen", e, 0);
}

/* ---- C2: files with holes on a nearly full disk ------------------------------ */

typedef struct holes_job {
    ctx *x;
    const char *path;
    int arena;      /* da_arena_open_fd instead of da_vec_open */
    uint64_t seed;  /* what the stores write */
} holes_job;

#define REFUSED 10 /* the child's exit code: the open failed with ENOSPC/EDQUOT */

/* Child: open, then store into every element below cap (every byte below
 * da_arena_size).  A SIGBUS here is the defect C2 forbids. */
static int holes_child(void *arg)
{
    holes_job *j = arg;
    ctx *x = j->x;
    x->sh->progress = 0;
    void *p;
    size_t bytes;
    da_vec v;
    da_arena *a = NULL;
    int fd = -1, e;
    if (j->arena) {
        fd = open(j->path, O_RDWR | O_CLOEXEC);
        e = da_arena_open_fd(&a, fd, NULL);
    } else {
        e = da_vec_open(&v, j->path, x->elem, NULL);
    }
    x->s->ops++;
    if (e == ENOSPC || e == EDQUOT) {
        x->s->clean_errors++;
        return REFUSED;
    }
    if (e) {
        viol(x, "%s on a file with holes returned %s; expected 0 or ENOSPC/EDQUOT",
             j->arena ? "da_arena_open_fd" : "da_vec_open", st_errname(e));
        return 0;
    }
    expect_lock(x, j->path, 1, "while open");
    if (j->arena) {
        p = da_arena_base(a);
        bytes = da_arena_size(a);
    } else {
        p = v.data;
        bytes = v.cap * v.elem_size;
    }
    store_all(x, p, bytes, j->seed);
    x->s->ops++;
    size_t bad = st_check(p, bytes, j->seed, 0);
    if (bad != SIZE_MAX)
        viol(x, "byte %zu of %zu stored does not read back", bad, bytes);
    if (j->arena) {
        expect(x, "da_arena_sync after the stores", da_arena_sync(a), 0);
        expect(x, "da_arena_close", da_arena_close(a), 0);
        close(fd);
    } else {
        expect(x, "da_vec_close after the stores", da_vec_close(&v), 0);
    }
    return 0;
}

/* Run the child on the full disk, then with room.  Before: the file has holes
 * and the disk less room than they need. */
static int holes_on_full_disk(ctx *x, const char *path, int arena, size_t len)
{
    char ballast[4200];
    path_in(ballast, sizeof ballast, x, "ballast");
    fill_disk(ballast);
    size_t holes = hole_bytes(path), room = free_bytes(x->dir);
    if (holes == 0) {
        printf("SKIP: %s: the file system made no holes (cp/fallocate kept every block)\n",
               x->c->name);
        return FE_SKIP_EXIT;
    }
    if (room >= holes)
        printf("note: %s: %zu bytes free for %zu bytes of holes: the full-disk half tests "
               "nothing\n", x->c->name, room, holes);
    snap before, after;
    snap_take(&before, path, -1, 0);
    holes_job j = {x, path, arena, x->seed ^ 0x5707ull};
    int st = fe_run_child(holes_child, &j);
    if (st < 0) {
        printf("CRASH: %s: %s after storing %zu bytes into a file with %zu bytes of holes and "
               "%zu bytes free (contract C2: the open must fail with ENOSPC or every store "
               "succeed)\nreplay: %s\n", x->c->name, fe_status_str(st), x->sh->progress, holes,
               room, x->s->replay);
        x->s->crashes++;
    } else if (st == REFUSED) {
        snap_take(&after, path, -1, 0);
        snap_diff(x, "open refused with ENOSPC", &before, &after);
        expect_lock(x, path, 0, "after the refused open");
    }
    /* with room: the open must succeed and every store land in the file */
    unlink(ballast);
    j.seed ^= 0x2;
    size_t free_now = free_bytes(x->dir), holes_now = hole_bytes(path);
    st = fe_run_child(holes_child, &j);
    if (st < 0) {
        printf("CRASH: %s: %s after storing %zu bytes with %zu bytes free for %zu bytes of "
               "holes\nreplay: %s\n", x->c->name, fe_status_str(st), x->sh->progress, free_now,
               holes_now, x->s->replay);
        x->s->crashes++;
        return 0;
    }
    if (st == REFUSED && free_now > holes_now + ((size_t)256 << 10))
        viol(x, "open refused with ENOSPC with %zu bytes free for %zu bytes of holes", free_now,
             holes_now);
    if (st == 0 && arena) {
        struct stat sb;
        if (stat(path, &sb) == 0)
            file_holds(x, path, 0, (size_t)sb.st_size, j.seed, 0, "after close");
    } else if (st == 0) {
        vec_holds(x, path, len, j.seed, "after the stores");
    }
    return 0;
}

static int exec_cp(void *argv)
{
    execvp("cp", argv);
    fprintf(stderr, "exec cp: %s\n", strerror(errno));
    return 127;
}

/* A vector with spare capacity; its zero tail becomes holes in the copy. */
static int case_sparse_copy(ctx *x)
{
    char orig[4200], copy[4200];
    path_in(orig, sizeof orig, x, "orig.vec");
    path_in(copy, sizeof copy, x, "copy.vec");
    size_t len = ((size_t)256 << 10) / x->elem + st_below(&x->rng, 4096), off;
    if (make_vec(x, orig, len, ((size_t)1 << 20) / x->elem, &off))
        return 0;
    char *argv[] = {"cp", "--sparse=always", orig, copy, NULL};
    int st = fe_run_child(exec_cp, argv);
    if (st != 0) {
        printf("SKIP: %s: cp --sparse=always ended with %s\n", x->c->name, fe_status_str(st));
        return FE_SKIP_EXIT;
    }
    unlink(orig);
    return holes_on_full_disk(x, copy, 0, len);
}

/* Holes punched into every other 64 KiB of the data, as a backup restore or
 * a `fallocate --dig-holes` leaves them. */
static int case_punched(ctx *x)
{
    char path[4200];
    path_in(path, sizeof path, x, "punched.vec");
    size_t len = ((size_t)512 << 10) / x->elem + st_below(&x->rng, 4096), off;
    if (make_vec(x, path, len, ((size_t)512 << 10) / x->elem, &off))
        return 0;
    struct stat st;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        viol(x, "setup: open %s: %s", path, strerror(errno));
        return 0;
    }
    size_t chunk = (size_t)64 << 10;
    for (size_t at = off + chunk * st_below(&x->rng, 2); at < (size_t)st.st_size; at += 2 * chunk)
        if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)at,
                      (off_t)chunk) != 0) {
            printf("SKIP: %s: fallocate(PUNCH_HOLE): %s\n", x->c->name, strerror(errno));
            close(fd);
            return FE_SKIP_EXIT;
        }
    close(fd);
    return holes_on_full_disk(x, path, 0, len);
}

/* A file made by writing a little and truncating far: da_arena_open_fd. */
static int case_holes_arena(ctx *x)
{
    char path[4200];
    path_in(path, sizeof path, x, "holes.bin");
    size_t head = 1 + st_below(&x->rng, 20000), size = ((size_t)1 << 20) + st_below(&x->rng, 1 << 20);
    if (make_file(x, path, head, 0x401e))
        return 0;
    if (truncate(path, (off_t)size) != 0) {
        viol(x, "setup: truncate %s: %s", path, strerror(errno));
        return 0;
    }
    return holes_on_full_disk(x, path, 1, 0);
}

/* ---- C3: descriptors handed to da_arena_open_fd ------------------------------ */

/* open_fd(fd) must fail with want (or want2) and leave the descriptor, its
 * file and the file's lock as they were.  path: the file, when it has one. */
static void fd_refused(ctx *x, const char *what, int fd, const char *path, const da_config *cfg,
                       int want, int want2)
{
    snap before, after;
    snap_take(&before, path, fd, 1);
    int lock_before = path ? locked(path) : 0;
    da_arena *a = (da_arena *)&before; /* must become NULL */
    int e = da_arena_open_fd(&a, fd, cfg);
    char call[128];
    snprintf(call, sizeof call, "da_arena_open_fd(%s)", what);
    expect2(x, call, e, want, want2);
    if (e == 0) {
        da_arena_close(a);
        return;
    }
    if (a != NULL)
        viol(x, "%s failed but left *out non-NULL", call);
    snap_take(&after, path, fd, 1);
    snap_diff(x, call, &before, &after);
    if (path && locked(path) != lock_before)
        viol(x, "%s: the failed call changed the file's lock: %s before, %s after", call,
             lock_before == 1 ? "locked" : "unlocked", lock_before == 1 ? "unlocked" : "locked");
}

static int regular_fd_case(ctx *x, int flags, const char *what)
{
    char path[4200];
    path_in(path, sizeof path, x, "file.bin");
    if (make_file(x, path, 10000 + st_below(&x->rng, 10000), 0xfd))
        return 0;
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) {
        viol(x, "setup: open(%s): %s", what, strerror(errno));
        return 0;
    }
    fd_refused(x, what, fd, path, NULL, DA_EINVAL, NO_SECOND);
    close(fd);
    return 0;
}

static int case_fd_rdonly(ctx *x) { return regular_fd_case(x, O_RDONLY, "O_RDONLY fd"); }
static int case_fd_wronly(ctx *x) { return regular_fd_case(x, O_WRONLY, "O_WRONLY fd"); }
static int case_fd_opath(ctx *x) { return regular_fd_case(x, O_PATH, "O_PATH fd"); }

static int case_fd_closed(ctx *x)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    close(fd);
    fd_refused(x, "a closed fd", fd, NULL, NULL, DA_EINVAL, NO_SECOND);
    fd_refused(x, "fd -1", -1, NULL, NULL, DA_EINVAL, NO_SECOND);
    return 0;
}

static int case_fd_fifo(ctx *x)
{
    char path[4200];
    path_in(path, sizeof path, x, "fifo");
    if (mkfifo(path, 0600) != 0) {
        viol(x, "setup: mkfifo: %s", strerror(errno));
        return 0;
    }
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    fd_refused(x, "a FIFO", fd, path, NULL, DA_EINVAL, NO_SECOND);
    close(fd);
    return 0;
}

static int case_fd_dir(ctx *x)
{
    int fd = open(x->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    fd_refused(x, "a directory", fd, x->dir, NULL, DA_EINVAL, NO_SECOND);
    close(fd);
    return 0;
}

static int case_fd_devnull(ctx *x)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    /* no lock probe: every process may flock /dev/null, another run of this case too */
    fd_refused(x, "/dev/null", fd, NULL, NULL, DA_EINVAL, NO_SECOND);
    close(fd);
    return 0;
}

static int case_fd_socket(ctx *x)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    fd_refused(x, "a socket", fd, NULL, NULL, DA_EINVAL, NO_SECOND);
    close(fd);
    return 0;
}

/* A new session without a controlling terminal, and a pty pair; FE_SKIP_EXIT
 * when this system has none.  Returns the master, *slave its path. */
static int new_session_pty(ctx *x, const char **slave)
{
    /* the terminal a defective call would acquire hangs up when the case
     * closes it: the violation is reported, the signal would only repeat it */
    signal(SIGHUP, SIG_IGN);
    if (setsid() < 0) {
        viol(x, "setup: setsid: %s", strerror(errno));
        return -1;
    }
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 || !(*slave = ptsname(m))) {
        printf("SKIP: %s: no pseudo-terminal here: %s\n", x->c->name, strerror(errno));
        return -2;
    }
    int t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (t >= 0) {
        viol(x, "setup: a controlling terminal after setsid");
        close(t);
    }
    return m;
}

/* The session must still have no controlling terminal. */
static void expect_no_ctty(ctx *x, int master, const char *after)
{
    int t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    pid_t sid = 0;
    if (t >= 0) {
        viol(x, "after %s the process has a controlling terminal (/dev/tty opens)", after);
        close(t);
    } else if (ioctl(master, TIOCGSID, &sid) == 0) {
        viol(x, "after %s the pty is a controlling terminal of session %d", after, (int)sid);
    }
}

static int case_fd_pty(ctx *x)
{
    const char *slave = NULL;
    int m = new_session_pty(x, &slave);
    if (m < 0)
        return m == -2 ? FE_SKIP_EXIT : 0;
    fd_refused(x, "a pty master", m, NULL, NULL, DA_EINVAL, NO_SECOND);
    int s = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
    fd_refused(x, "a pty slave", s, NULL, NULL, DA_EINVAL, NO_SECOND);
    expect_no_ctty(x, m, "da_arena_open_fd of a pty");
    close(s);
    close(m);
    return 0;
}

/* The caller holds flock(LOCK_EX) on its descriptor: open_fd must fail (the
 * lock conflicts; or the fd/config is refused) and the caller keep its lock. */
static int held_lock_case(ctx *x, int flags, const da_config *cfg, int want, int want2,
                          const char *what)
{
    char path[4200];
    path_in(path, sizeof path, x, "locked.bin");
    if (make_file(x, path, 4096 + st_below(&x->rng, 10000), 0x10c))
        return 0;
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        viol(x, "setup: open/flock: %s", strerror(errno));
        return 0;
    }
    snap before, after;
    snap_take(&before, path, fd, 1);
    da_arena *a = NULL;
    int e = da_arena_open_fd(&a, fd, cfg);
    char call[160];
    snprintf(call, sizeof call, "da_arena_open_fd(%s the caller holds LOCK_EX on)", what);
    expect2(x, call, e, want, want2);
    expect_lock(x, path, 1, e ? "after the failed open_fd" : "after a wrongly successful open_fd");
    if (e == 0) {
        da_arena_close(a);
        expect_lock(x, path, 1, "after closing that arena (the caller never unlocked)");
    } else {
        snap_take(&after, path, fd, 1);
        snap_diff(x, call, &before, &after);
    }
    close(fd);
    return 0;
}

static int case_lock_held(ctx *x)
{
    return held_lock_case(x, O_RDWR, NULL, EWOULDBLOCK, NO_SECOND, "an O_RDWR fd");
}

static int case_lock_held_rdonly(ctx *x)
{
    return held_lock_case(x, O_RDONLY, NULL, DA_EINVAL, NO_SECOND, "an O_RDONLY fd");
}

static int case_lock_held_badcfg(ctx *x)
{
    da_config bad = {0, NULL, 0x40u}; /* an unknown flag */
    return held_lock_case(x, O_RDWR, &bad, DA_EINVAL, EWOULDBLOCK, "bad config, an O_RDWR fd");
}

/* open_fd twice on one descriptor: one handle per file, so EWOULDBLOCK. */
static int case_fd_twice(ctx *x)
{
    char path[4200];
    path_in(path, sizeof path, x, "twice.bin");
    size_t size = 4096 * (1 + st_below(&x->rng, 4));
    if (make_file(x, path, size, 0x7))
        return 0;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    da_arena *a = NULL, *b = NULL;
    if (!expect(x, "first da_arena_open_fd", da_arena_open_fd(&a, fd, NULL), 0))
        return 0;
    int e = da_arena_open_fd(&b, fd, NULL);
    expect(x, "second da_arena_open_fd on the same fd", e, EWOULDBLOCK);
    if (e == 0) {
        expect(x, "da_arena_close of the second arena", da_arena_close(b), 0);
        expect_lock(x, path, 1, "after closing the second arena, the first still open");
    }
    expect_lock(x, path, 1, "while the first arena is open");
    void *p;
    if (expect(x, "da_alloc in the first arena", da_alloc(a, 5000, 64, &p), 0)) {
        st_fill(p, 5000, x->seed, 0);
        file_holds(x, path, (size_t)((unsigned char *)p - (unsigned char *)da_arena_base(a)), 5000,
                   x->seed, 0, "first arena's block");
    }
    expect(x, "da_arena_close of the first arena", da_arena_close(a), 0);
    close(fd);
    return 0;
}

/* O_APPEND: the arena must work as on any O_RDWR fd, including blocks past
 * alignment gaps (on ramfs, the zero-fill fallback must not append). */
typedef struct blk {
    size_t off, size;
    uint64_t seed;
} blk;

static void alloc_and_store(ctx *x, da_arena *a, blk *b, size_t size, size_t align, int k)
{
    void *p;
    char call[96];
    snprintf(call, sizeof call, "da_alloc(%zu bytes, align %zu)", size, align);
    b->size = 0;
    if (!expect(x, call, da_alloc(a, size, align, &p), 0))
        return;
    b->off = (size_t)((unsigned char *)p - (unsigned char *)da_arena_base(a));
    b->size = size;
    b->seed = x->seed ^ (0xb10cull + (uint64_t)k);
    x->sh->progress = 0;
    store_all(x, p, size, b->seed);
}

static int case_fd_append(ctx *x)
{
    char path[4200];
    path_in(path, sizeof path, x, "append.bin");
    size_t head = 1 + st_below(&x->rng, 6000);
    if (make_file(x, path, head, 0xa99))
        return 0;
    int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
    int fl = fcntl(fd, F_GETFL);
    da_arena *a = NULL;
    if (!expect(x, "da_arena_open_fd(O_RDWR|O_APPEND fd)", da_arena_open_fd(&a, fd, NULL), 0)) {
        close(fd);
        return 0;
    }
    expect_lock(x, path, 1, "while the arena is open");
    if (fcntl(fd, F_GETFL) != fl)
        viol(x, "open_fd changed the caller's status flags %#x -> %#x", (unsigned)fl,
             (unsigned)fcntl(fd, F_GETFL));
    if (da_arena_size(a) != head)
        viol(x, "da_arena_size %zu of a %zu-byte file", da_arena_size(a), head);
    blk b[6];
    int n = 0;
    alloc_and_store(x, a, &b[n], 1 + st_below(&x->rng, 3000), 1, n);
    for (n = 1; n < 5; n++) /* gaps: alignments of 8 KiB .. 1 MiB */
        alloc_and_store(x, a, &b[n], 1 + st_below(&x->rng, 20000),
                        (size_t)8192 << st_below(&x->rng, 8), n);
    size_t grow = da_arena_size(a) + 4096 * (1 + st_below(&x->rng, 8));
    if (expect(x, "da_arena_resize (growth)", da_arena_resize(a, grow), 0)) {
        b[n] = (blk){da_arena_size(a) - 4096, 4096, x->seed ^ 0xe0full};
        store_all(x, (unsigned char *)da_arena_base(a) + b[n].off, 4096, b[n].seed);
        n++;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (size_t)st.st_size != da_arena_size(a))
        viol(x, "the file has %lld bytes, da_arena_size says %zu", (long long)st.st_size,
             da_arena_size(a));
    for (int k = 0; k < n; k++)
        if (b[k].size)
            file_holds(x, path, b[k].off, b[k].size, b[k].seed, 0, "a block after an alignment gap");
    file_holds(x, path, 0, head, x->seed ^ 0xa99, 0, "the file's own bytes");
    expect(x, "da_arena_close", da_arena_close(a), 0);
    expect_lock(x, path, 0, "after da_arena_close");
    if (fcntl(fd, F_GETFL) != fl)
        viol(x, "the caller's descriptor changed after close");
    close(fd);
    return 0;
}

/* ---- C10: paths that are not regular files, given to da_vec_open -------------- */

/* da_vec_open(path) must fail with want and create, remove or change nothing. */
static void path_refused(ctx *x, const char *what, const char *path, int want)
{
    snap before, after;
    snap_take(&before, path, -1, 0);
    long entries = dir_entries(x->dir);
    da_vec v;
    int e = da_vec_open(&v, path, x->elem, NULL);
    char call[160];
    snprintf(call, sizeof call, "da_vec_open(%s)", what);
    expect(x, call, e, want);
    if (e == 0)
        da_vec_close(&v);
    snap_take(&after, path, -1, 0);
    snap_diff(x, call, &before, &after);
    if (dir_entries(x->dir) != entries)
        viol(x, "%s: the directory went from %ld to %ld entries", call, entries,
             dir_entries(x->dir));
}

static int case_path_fifo(ctx *x)
{
    char path[4200];
    path_in(path, sizeof path, x, "fifo.vec");
    if (mkfifo(path, 0640) != 0)
        viol(x, "setup: mkfifo: %s", strerror(errno));
    else
        path_refused(x, "a FIFO", path, DA_EBADFILE);
    return 0;
}

static int case_path_dir(ctx *x)
{
    char path[4200];
    path_in(path, sizeof path, x, "dir.vec");
    if (mkdir(path, 0750) != 0)
        viol(x, "setup: mkdir: %s", strerror(errno));
    else
        path_refused(x, "a directory", path, DA_EBADFILE);
    return 0;
}

static int case_path_devnull(ctx *x)
{
    path_refused(x, "/dev/null", "/dev/null", DA_EBADFILE);
    return 0;
}

static int case_path_pty(ctx *x)
{
    const char *slave = NULL;
    int m = new_session_pty(x, &slave);
    if (m < 0)
        return m == -2 ? FE_SKIP_EXIT : 0;
    path_refused(x, "a pty slave's path", slave, DA_EBADFILE);
    expect_no_ctty(x, m, "da_vec_open of a pty slave");
    close(m);
    return 0;
}

static int case_path_socket(ctx *x)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/sock.vec", x->dir);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (n >= (int)sizeof sa.sun_path || fd < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        printf("SKIP: %s: cannot bind a unix socket at %s: %s\n", x->c->name, sa.sun_path,
               n >= (int)sizeof sa.sun_path ? "path too long" : strerror(errno));
        return FE_SKIP_EXIT;
    }
    path_refused(x, "a unix socket", sa.sun_path, DA_EBADFILE);
    close(fd);
    return 0;
}

/* O_NOFOLLOW: a symlink is refused with ELOOP, dangling or not; its target is
 * neither created nor touched. */
static int case_path_symlink(ctx *x)
{
    char link1[4200], link2[4200], target[4200], missing[4200];
    path_in(link1, sizeof link1, x, "dangling.vec");
    path_in(link2, sizeof link2, x, "link.vec");
    path_in(target, sizeof target, x, "target.vec");
    path_in(missing, sizeof missing, x, "missing.vec");
    size_t off;
    if (make_vec(x, target, 100 + st_below(&x->rng, 1000), 0, &off))
        return 0;
    if (symlink("missing.vec", link1) != 0 || symlink("target.vec", link2) != 0) {
        viol(x, "setup: symlink: %s", strerror(errno));
        return 0;
    }
    snap t0, t1, m0, m1;
    snap_take(&t0, target, -1, 0);
    snap_take(&m0, missing, -1, 0);
    path_refused(x, "a dangling symlink", link1, ELOOP);
    path_refused(x, "a symlink to a vector file", link2, ELOOP);
    snap_take(&t1, target, -1, 0);
    snap_take(&m1, missing, -1, 0);
    snap_diff(x, "the symlink's target", &t0, &t1);
    snap_diff(x, "the dangling symlink's target", &m0, &m1);
    return 0;
}

/* ---- C4: arenas and vectors inherited across fork ------------------------------ */

typedef struct job {
    ctx *x;
    const char *path;
    da_vec *v;
    da_arena *a;
    void *p;
    size_t size;
} job;

static int push_pattern(ctx *x, da_vec *v, size_t n)
{
    unsigned char buf[MAX_ELEM_BYTES];
    for (size_t i = 0; i < n; i++) {
        st_fill(buf, v->elem_size, elem_seed(x), v->len * v->elem_size);
        int e = i % 2 ? da_vec_push_fast(v, buf) : da_vec_push(v, buf);
        x->s->ops++;
        if (e) {
            viol(x, "push %zu of %zu: %s", i, n, st_errname(e));
            return e;
        }
    }
    return 0;
}

static uint64_t hash_mem(const void *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ull;
    return h;
}

/* In a forked child every call that could change something is DA_EFORKED and
 * changes nothing, not even the child's copy (compared with *was, the state
 * before this call, which then follows the copy so one change is one report). */
static void forked(ctx *x, const da_vec *v, da_vec *was, const char *call, int e, int alt)
{
    char c[200];
    snprintf(c, sizeof c, "in a forked child, %s", call);
    expect2(x, c, e, DA_EFORKED, alt);
    if (v && (v->len != was->len || v->cap != was->cap || v->data != was->data))
        viol(x, "%s changed the child's vector: len %zu->%zu cap %zu->%zu", c, was->len, v->len,
             was->cap, v->cap);
    if (v)
        *was = *v;
}
#define FORKED(call) forked(x, v, &was, #call, (call), NO_SECOND)

static int child_writes(void *arg)
{
    job *j = arg;
    ctx *x = j->x;
    da_vec *v = j->v, was = *j->v;
    unsigned char elem[MAX_ELEM_BYTES] = {1}, out[MAX_ELEM_BYTES];
    size_t bad = st_check(v->data, v->len * v->elem_size, elem_seed(x), 0);
    if (bad != SIZE_MAX)
        viol(x, "in a forked child, the inherited vector's byte %zu is not its pattern", bad);
    FORKED(da_vec_push(v, elem));
    FORKED(da_vec_push_fast(v, elem));
    FORKED(da_vec_extend(v, elem, 1));
    FORKED(da_vec_pop(v, out));
    FORKED(da_vec_try_reserve(v, v->cap * 2));
    FORKED(da_vec_try_reserve_exact(v, v->cap + 1));
    FORKED(da_vec_sync(v));
    FORKED(da_vec_shrink_to_fit(v));
    void *p = NULL;
    /* a vector's own arena refuses foreign blocks anyway (C1): either code */
    forked(x, v, &was, "da_alloc(da_vec_arena(v))", da_alloc(da_vec_arena(v), 4096, 8, &p),
           DA_EINVAL);
    return 0;
}

static int child_closes(void *arg)
{
    job *j = arg;
    expect(j->x, "da_vec_close in a forked child", da_vec_close(j->v), 0);
    return 0;
}

static int child_second_open(void *arg)
{
    job *j = arg;
    da_vec v;
    int e = da_vec_open(&v, j->path, j->x->elem, NULL);
    expect(j->x, "da_vec_open from another process while the parent holds the file", e,
           EWOULDBLOCK);
    return 0; /* a wrongly opened vector is dropped unsynced with the process */
}

/* The parent's persistent vector after its child: file untouched, still
 * locked, still working. */
static int fork_persistent(ctx *x, int (*child)(void *), const char *what)
{
    char path[4200];
    path_in(path, sizeof path, x, "fork.vec");
    da_vec v;
    if (!expect(x, "da_vec_open", da_vec_open(&v, path, x->elem, NULL), 0))
        return 0;
    size_t n = 100 + st_below(&x->rng, 3000), m = 1 + st_below(&x->rng, 100);
    if (push_pattern(x, &v, n) || !expect(x, "da_vec_sync", da_vec_sync(&v), 0) ||
        push_pattern(x, &v, m) || /* unsynced: a child's sync would publish them */
        !expect(x, "da_vec_try_reserve", da_vec_try_reserve(&v, 1 + v.cap - v.len), 0))
        return 0;
    snap before, after;
    snap_take(&before, path, -1, 0);
    job j = {x, path, &v, NULL, NULL, 0};
    int st = fe_run_child(child, &j);
    if (st != 0)
        viol(x, "the forked child (%s) ended with %s", what, fe_status_str(st));
    snap_take(&after, path, -1, 0);
    snap_diff(x, what, &before, &after);
    expect_lock(x, path, 1, what);
    fe_run_child(child_second_open, &j);
    size_t k = 1 + st_below(&x->rng, 2000);
    if (push_pattern(x, &v, k))
        return 0;
    expect(x, "the parent's da_vec_sync after the child", da_vec_sync(&v), 0);
    expect(x, "the parent's da_vec_close", da_vec_close(&v), 0);
    vec_holds(x, path, n + m + k, elem_seed(x), "the parent's vector after the child");
    return 0;
}

static int case_fork_close(ctx *x) { return fork_persistent(x, child_closes, "after a child closed its copy"); }
static int case_fork_writes(ctx *x) { return fork_persistent(x, child_writes, "after a child wrote to its copy"); }

static int child_temp(void *arg)
{
    job *j = arg;
    child_writes(arg);
    expect(j->x, "da_vec_close of a temp vector in a forked child", da_vec_close(j->v), 0);
    return 0;
}

static int case_fork_temp(ctx *x)
{
    da_config cfg = {0, x->dir, 0};
    da_vec v;
    if (!expect(x, "da_vec_init", da_vec_init(&v, x->elem, &cfg), 0))
        return 0;
    size_t n = 100 + st_below(&x->rng, 3000);
    if (push_pattern(x, &v, n) ||
        !expect(x, "da_vec_try_reserve", da_vec_try_reserve(&v, 1 + v.cap - v.len), 0))
        return 0;
    size_t len = v.len, cap = v.cap;
    uint64_t h = hash_mem(v.data, v.cap * v.elem_size);
    job j = {x, NULL, &v, NULL, NULL, 0};
    int st = fe_run_child(child_temp, &j);
    if (st != 0)
        viol(x, "the forked child ended with %s", fe_status_str(st));
    if (v.len != len || v.cap != cap || hash_mem(v.data, v.cap * v.elem_size) != h)
        viol(x, "the parent's temp vector (len %zu, cap %zu) changed under its child's calls: "
             "the bytes of its capacity differ", len, cap);
    if (push_pattern(x, &v, v.cap - v.len + 1 + st_below(&x->rng, 5000)) == 0) {
        size_t bad = st_check(v.data, v.len * v.elem_size, elem_seed(x), 0);
        if (bad != SIZE_MAX)
            viol(x, "the parent's temp vector after the child: byte %zu lost its pattern", bad);
    }
    expect(x, "the parent's da_vec_close", da_vec_close(&v), 0);
    return 0;
}

static int child_arena(void *arg)
{
    job *j = arg;
    ctx *x = j->x;
    da_arena *a = j->a;
    const da_vec *v = NULL;
    da_vec was;
    void *p = j->p, *q = NULL;
    size_t size = da_arena_size(a);
    FORKED(da_alloc(a, 4096, 16, &q));
    FORKED(da_grow(a, &p, j->size, j->size + 8192, 16));
    FORKED(da_shrink(a, &p, j->size, j->size / 2, 16));
    FORKED(da_arena_resize(a, size + 4096));
    FORKED(da_arena_sync(a));
    if (p != j->p || q != NULL || da_arena_size(a) != size)
        viol(x, "in a forked child, the calls moved a block or resized the arena (%zu -> %zu)",
             size, da_arena_size(a));
    size = da_arena_size(a);
    da_free(a, j->p, j->size); /* a no-op in the child */
    x->s->ops += 6;
    if (da_arena_size(a) != size)
        viol(x, "in a forked child, da_free changed da_arena_size %zu -> %zu", size,
             da_arena_size(a));
    expect(x, "da_arena_close in a forked child", da_arena_close(a), 0);
    return 0;
}

static int case_fork_arena(ctx *x)
{
    char path[4200];
    path_in(path, sizeof path, x, "fork.bin");
    if (make_file(x, path, 1 + st_below(&x->rng, 9000), 0xf0))
        return 0;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    job j = {x, path, NULL, NULL, NULL, 1 + st_below(&x->rng, 50000)};
    if (!expect(x, "da_arena_open_fd", da_arena_open_fd(&j.a, fd, NULL), 0))
        return 0;
    close(fd); /* the arena keeps its own */
    if (!expect(x, "da_alloc", da_alloc(j.a, j.size, 64, &j.p), 0))
        return 0;
    st_fill(j.p, j.size, x->seed ^ 0xa7e, 0);
    snap before, after;
    snap_take(&before, path, -1, 0);
    int st = fe_run_child(child_arena, &j);
    if (st != 0)
        viol(x, "the forked child ended with %s", fe_status_str(st));
    snap_take(&after, path, -1, 0);
    snap_diff(x, "after a child used and closed its copy of the arena", &before, &after);
    expect_lock(x, path, 1, "after a child closed its copy of the arena");
    size_t bad = st_check(j.p, j.size, x->seed ^ 0xa7e, 0);
    if (bad != SIZE_MAX)
        viol(x, "the parent's block lost byte %zu after the child", bad);
    blk b;
    alloc_and_store(x, j.a, &b, 1 + st_below(&x->rng, 9000), 4096, 9);
    if (b.size)
        file_holds(x, path, b.off, b.size, b.seed, 0, "the parent's block allocated after the child");
    expect(x, "the parent's da_arena_close", da_arena_close(j.a), 0);
    expect_lock(x, path, 0, "after the parent's da_arena_close");
    return 0;
}

/* ---- ramfs: no fallocate -------------------------------------------------------- */

/* A persistent vector where growth must write zeros: every element below cap
 * takes a store, and the vector reopens intact. */
static int case_ramfs_vec(ctx *x)
{
    char path[4200];
    path_in(path, sizeof path, x, "ramfs.vec");
    size_t n = 1000 + st_below(&x->rng, 100000) / x->elem, off;
    if (make_vec(x, path, n, 1 + st_below(&x->rng, 70000) / x->elem, &off))
        return 0;
    da_vec v;
    if (!expect(x, "da_vec_open (reopen)", da_vec_open(&v, path, x->elem, NULL), 0))
        return 0;
    expect_lock(x, path, 1, "while the vector is open");
    if (push_pattern(x, &v, v.cap - v.len) == 0 && push_pattern(x, &v, 1 + st_below(&x->rng, 9000)) == 0) {
        size_t len = v.len;
        expect(x, "da_vec_close", da_vec_close(&v), 0);
        vec_holds(x, path, len, elem_seed(x), "the vector grown on ramfs");
    }
    return 0;
}

/* ---- the cases and the runner ------------------------------------------------- */

static const fcase cases[] = {
    {"sparse-copy", IN_TMPFS, "C2", case_sparse_copy},
    {"punched-vec", IN_TMPFS, "C2", case_punched},
    {"holes-arena", IN_TMPFS, "C2", case_holes_arena},
    {"fd-append-disk", IN_DIR, "C3", case_fd_append},
    {"fd-append-tmpfs", IN_TMPFS, "C3", case_fd_append},
    {"fd-append-ramfs", IN_RAMFS, "C3", case_fd_append},
    {"fd-rdonly", IN_DIR, "C3", case_fd_rdonly},
    {"fd-wronly", IN_DIR, "C3", case_fd_wronly},
    {"fd-opath", IN_DIR, "C3", case_fd_opath},
    {"fd-closed", IN_DIR, "C3", case_fd_closed},
    {"fd-fifo", IN_DIR, "C3", case_fd_fifo},
    {"fd-dir", IN_DIR, "C3", case_fd_dir},
    {"fd-devnull", IN_DIR, "C3", case_fd_devnull},
    {"fd-pty", IN_DIR, "C3", case_fd_pty},
    {"fd-socket", IN_DIR, "C3", case_fd_socket},
    {"lock-held", IN_DIR, "C3", case_lock_held},
    {"lock-held-rdonly", IN_DIR, "C3", case_lock_held_rdonly},
    {"lock-held-badcfg", IN_DIR, "C3", case_lock_held_badcfg},
    {"fd-twice", IN_DIR, "C3", case_fd_twice},
    {"path-fifo", IN_DIR, "C10", case_path_fifo},
    {"path-dir", IN_DIR, "C10", case_path_dir},
    {"path-devnull", IN_DIR, "C10", case_path_devnull},
    {"path-pty", IN_DIR, "C10", case_path_pty},
    {"path-socket", IN_DIR, "C10", case_path_socket},
    {"path-symlink", IN_DIR, "C10", case_path_symlink},
    {"fork-close", IN_DIR, "C4", case_fork_close},
    {"fork-writes", IN_DIR, "C4", case_fork_writes},
    {"fork-temp", IN_DIR, "C4", case_fork_temp},
    {"fork-arena", IN_DIR, "C4", case_fork_arena},
    {"ramfs-vec", IN_RAMFS, "C2", case_ramfs_vec},
};
#define NCASES (sizeof cases / sizeof *cases)

static int case_child(void *arg)
{
    ctx *x = arg;
    alarm(CASE_ALARM); /* a call that blocks (a FIFO, a tty) ends as SIGALRM: a crash */
    return x->c->fn(x);
}

static int in_sandbox(const char *dir, void *arg)
{
    ctx *x = arg;
    static char sub[4200];
    x->dir = dir;
    if (x->c->where == IN_RAMFS) {
        snprintf(sub, sizeof sub, "%s/ramfs", dir);
        if (mkdir(sub, 0700) != 0 || mount("diskalloc-ramfs", sub, "ramfs", MS_NOSUID | MS_NODEV,
                                           "mode=0700") != 0) {
            printf("SKIP: %s: cannot mount ramfs (a file system without fallocate) in the "
                   "sandbox: %s\n", x->c->name, strerror(errno));
            return FE_SKIP_EXIT;
        }
        x->dir = sub;
    }
    return case_child(x);
}

/* One level deep: what the cases leave in their directory. */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            unlinkat(dirfd(d), e->d_name, 0) != 0)
            unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
    if (d)
        closedir(d);
    rmdir(dir);
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
    return h;
}

typedef struct tally {
    unsigned passed, failed, skipped;
} tally;

/* Run one case of the round with seed `seed`; prints its line (always when
 * loud, else only when it did not pass). */
static void run_case(shared *sh, const fcase *c, uint64_t seed, const char *base,
                     const char *argv0, const char *dir_opt, int loud, tally *t)
{
    st_stats *s = &sh->s;
    ctx x = {.sh = sh, .s = s, .seed = seed, .fs = c->where == IN_DIR ? "disk" : c->where == IN_TMPFS ? "tmpfs" : "ramfs", .c = c};
    st_rng_seed(&x.rng, seed ^ name_hash(c->name));
    x.elem = elem_sizes[st_below(&x.rng, sizeof elem_sizes / sizeof *elem_sizes)];
    snprintf(s->replay, sizeof s->replay, "%s --seed %llu --case %s%s%s", argv0,
             (unsigned long long)seed, c->name, dir_opt ? " --dir " : "", dir_opt ? dir_opt : "");
    uint64_t v0 = s->violations, k0 = s->crashes;
    sh->progress = 0;
    int st;
    if (c->where == IN_DIR) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/da-files-XXXXXX", base);
        if (!mkdtemp(dir)) {
            printf("SKIP: %s: mkdtemp(%s): %s\n", c->name, dir, strerror(errno));
            st = FE_SKIP_EXIT;
        } else {
            x.dir = dir;
            st = fe_run_child(case_child, &x);
            remove_tree(dir);
        }
    } else {
        st = fe_sandbox_run(SANDBOX_BYTES, in_sandbox, &x);
        if (st == FE_NOSANDBOX) {
            printf("SKIP: %s: no tmpfs sandbox here: %s\n", c->name, fe_why());
            st = FE_SKIP_EXIT;
        }
    }
    if (st != 0 && st != FE_SKIP_EXIT) {
        char where[96] = "";
        if (sh->progress)
            snprintf(where, sizeof where, "; its last store loop had stored %zu bytes",
                     sh->progress);
        printf("CRASH: %s: the case ended with %s (elem size %zu, %s%s)\nreplay: %s\n", c->name,
               fe_status_str(st), x.elem, x.fs, where, s->replay);
        s->crashes++;
    }
    const char *verdict = "pass";
    if (s->crashes != k0 || s->violations != v0)
        verdict = s->crashes != k0 ? "CRASH" : "VIOLATION", t->failed++;
    else if (st == FE_SKIP_EXIT)
        verdict = "SKIP", t->skipped++;
    else
        t->passed++;
    if (loud || strcmp(verdict, "pass"))
        printf("case %-17s %-3s %-5s elem %-2zu %s", c->name, c->contract, x.fs, x.elem, verdict);
    if (s->violations != v0 && (loud || strcmp(verdict, "pass")))
        printf(" (%llu violations)", (unsigned long long)(s->violations - v0));
    if (loud || strcmp(verdict, "pass"))
        printf("\n");
    fflush(stdout);
}

/* Under ASan a SIGBUS would become a report and exit 1; the cases want the
 * real signal, reported as the crash it is. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "handle_sigbus=0"; }

int main(int argc, char **argv)
{
    st_opts o;
    st_parse(&o, argc, argv, 5.0);
    const char *only = NULL, *dir_opt = NULL;
    for (int i = 1; i < o.argc; i++) {
        if (!strcmp(o.argv[i], "--case") && i + 1 < o.argc)
            only = o.argv[++i];
        else if (!strcmp(o.argv[i], "--dir") && i + 1 < o.argc)
            dir_opt = o.argv[++i];
        else if (!strcmp(o.argv[i], "--list")) {
            for (size_t k = 0; k < NCASES; k++)
                printf("%-17s %-3s %s\n", cases[k].name, cases[k].contract,
                       cases[k].where == IN_DIR ? "disk" : cases[k].where == IN_TMPFS ? "tmpfs" : "ramfs");
            free(o.argv);
            return 0;
        } else {
            fprintf(stderr, "usage: %s [--seed N] [--seconds S] [--ops N] [--quick] [--case NAME] "
                            "[--dir DIR] [--list]\n", argv[0]);
            free(o.argv);
            return 2;
        }
    }
    size_t ci = 0;
    while (only && ci < NCASES && strcmp(cases[ci].name, only))
        ci++;
    if (only && ci == NCASES) {
        fprintf(stderr, "%s: no case %s (--list shows them)\n", argv[0], only);
        free(o.argv);
        return 2;
    }
    const char *tmp = getenv("TMPDIR");
    const char *base = dir_opt ? dir_opt : tmp && *tmp ? tmp : "/var/tmp";
    shared *sh = fe_shared_alloc(sizeof *sh);
    if (!sh)
        return 2;
    st_begin(&sh->s, "files", &o, argc, argv);
    tally t = {0, 0, 0};
    double end = st_now() + o.seconds;
    unsigned rounds = 0;
    do {
        uint64_t seed = rounds == 0 ? o.seed : st_pattern(o.seed, rounds);
        for (size_t k = only ? ci : 0; k < (only ? ci + 1 : NCASES); k++)
            run_case(sh, &cases[k], seed, base, argv[0], dir_opt, rounds == 0, &t);
        rounds++;
    } while (!o.quick && !only && st_now() < end && (!o.ops || sh->s.ops < o.ops));
    printf("files: %u rounds of %zu cases in %s: %u passed, %u failed, %u skipped\n", rounds,
           only ? (size_t)1 : NCASES, base, t.passed, t.failed, t.skipped);
    free(o.argv);
    int rc = st_summary(&sh->s, NULL);
    return rc == 0 && t.passed == 0 && t.skipped ? FE_SKIP_EXIT : rc;
}
