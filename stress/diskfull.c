/* diskfull — a real full file system, no FUSE, no root: a size-limited tmpfs
 * in a private user+mount namespace (faults/env.h).  Each round, in a fresh
 * sandbox, each phase runs in its own child so that a signal is seen as a
 * crash of that phase:
 *   vec         push until ENOSPC/EDQUOT (never SIGBUS); everything pushed
 *               reads back; free space (delete a ballast file, then truncate +
 *               shrink_to_fit) and the same vector grows again;
 *   shared      vectors and raw blocks in one arena, until the disk is full;
 *   persistent  a persistent vector fills the disk, syncs, reopens intact;
 *   fsize       RLIMIT_FSIZE with SIGXFSZ fatal: EFBIG, never the signal;
 *   sparse      DA_SPARSE: the Rust crate's hazard, a SIGBUS — expected.
 * After a failed call nothing may have changed (length, capacity, data
 * pointer, file size), and the error must be the one the disk gives. */
#define _GNU_SOURCE
#include "common.h"
#include "diskalloc.h"
#include "env.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define MAX_ELEM 64
#define MAX_BATCH 16
#define NVEC 3

typedef struct run {
    st_stats *s;        /* in shared memory: children count into it */
    st_rng rng;
    uint64_t seed;      /* this round's pattern seed */
    size_t fs_bytes;    /* the sandbox's size */
    const char *dir;
    size_t elem;
} run;

static const size_t elem_sizes[] = {1, 4, 8, 24, 64};

static int full_error(int e) { return e == ENOSPC || e == EDQUOT; }

static size_t free_bytes(const char *dir)
{
    struct statvfs sv;
    return statvfs(dir, &sv) == 0 ? (size_t)sv.f_bavail * sv.f_bsize : 0;
}

/* The most a failed push may leave free: what its exact reservation needed. */
static size_t slack(size_t elem) { return ((size_t)64 << 10) + MAX_BATCH * elem; }

static uint64_t vec_seed(const run *r, int k) { return r->seed ^ (0x9e37ull * (uint64_t)(k + 1)); }

static int check_vec(run *r, const da_vec *v, uint64_t pseed, const char *what)
{
    size_t bad = st_check(v->data, v->len * v->elem_size, pseed, 0);
    if (bad == SIZE_MAX)
        return 0;
    st_violation(r->s, "%s: byte %zu of %zu (element %zu) does not hold the pattern", what, bad,
                 v->len * v->elem_size, bad / v->elem_size);
    return 1;
}

/* Append 1..MAX_BATCH pattern elements with a random entry point.  A failed
 * call must leave everything as it was. */
static int push_some(run *r, da_vec *v, uint64_t pseed, const char *what)
{
    unsigned char buf[MAX_BATCH * MAX_ELEM];
    size_t n = st_below(&r->rng, 4) ? 1 : 1 + (size_t)st_below(&r->rng, MAX_BATCH);
    st_fill(buf, n * v->elem_size, pseed, v->len * v->elem_size);
    size_t len = v->len, cap = v->cap, size = da_arena_size(da_vec_arena(v));
    void *data = v->data;
    int how = (int)st_below(&r->rng, 3), e;
    if (n > 1)
        e = da_vec_extend(v, buf, n);
    else
        e = how == 0 ? da_vec_push(v, buf) : how == 1 ? da_vec_push_fast(v, buf)
                                                      : da_vec_extend(v, buf, 1);
    r->s->ops++;
    if (e == 0) {
        if (v->len != len + n)
            st_violation(r->s, "%s: push of %zu succeeded but len went %zu -> %zu", what, n, len,
                         v->len);
        return 0;
    }
    r->s->clean_errors++;
    if (v->len != len || v->cap != cap || v->data != data ||
        da_arena_size(da_vec_arena(v)) != size)
        st_violation(r->s,
                     "%s: failed push (%s) changed the vector: len %zu->%zu cap %zu->%zu data "
                     "%p->%p file %zu->%zu",
                     what, da_strerror(e), len, v->len, cap, v->cap, data, v->data, size,
                     da_arena_size(da_vec_arena(v)));
    return e;
}

/* Push until the first error; returns it.  A disk that never fills is a
 * violation too (the file system's size is known). */
static int fill(run *r, da_vec *v, uint64_t pseed, const char *what)
{
    for (;;) {
        int e = push_some(r, v, pseed, what);
        if (e)
            return e;
        if (v->len * v->elem_size > 2 * r->fs_bytes) {
            st_violation(r->s, "%s: pushed %zu bytes onto a %zu-byte file system", what,
                         v->len * v->elem_size, r->fs_bytes);
            return -1;
        }
    }
}

/* The push that failed must have failed because the disk is full, and the
 * disk must then really be full. */
static void expect_full(run *r, int e, const char *what)
{
    if (e == -1)
        return;
    if (!full_error(e))
        st_violation(r->s, "%s: push on a full disk returned %d (%s); expected ENOSPC/EDQUOT",
                     what, e, da_strerror(e));
    size_t left = free_bytes(r->dir);
    if (left > slack(r->elem))
        st_violation(r->s, "%s: push failed (%s) with %zu bytes still free", what,
                     da_strerror(e), left);
}

static int write_ballast(run *r, const char *path, size_t bytes)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    static char block[1 << 16];
    size_t done = 0;
    while (fd >= 0 && done < bytes) {
        ssize_t w = write(fd, block, bytes - done < sizeof block ? bytes - done : sizeof block);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    if (fd >= 0)
        close(fd);
    if (done < bytes)
        st_violation(r->s, "could not write a %zu-byte ballast file on an empty sandbox", bytes);
    return done == bytes ? 0 : -1;
}

/* ---- phases (each in its own child) ------------------------------------------ */

static int phase_vec(void *arg)
{
    run *r = arg;
    char ballast[4200];
    snprintf(ballast, sizeof ballast, "%s/ballast", r->dir);
    size_t bal = r->fs_bytes / 4 + (size_t)st_below(&r->rng, r->fs_bytes / 4 / 4096) * 4096;
    if (write_ballast(r, ballast, bal))
        return 0; /* counted; a non-zero exit means a crash */
    da_config cfg = {0, r->dir, 0};
    da_vec v;
    uint64_t ps = vec_seed(r, 0);
    int e = da_vec_init(&v, r->elem, &cfg);
    if (e) {
        st_violation(r->s, "vec: da_vec_init on an empty sandbox: %s", da_strerror(e));
        return 0;
    }
    expect_full(r, fill(r, &v, ps, "vec"), "vec");
    check_vec(r, &v, ps, "vec after ENOSPC");
    size_t first = v.len * v.elem_size;

    unlink(ballast); /* free space: the same vector must grow into it */
    expect_full(r, fill(r, &v, ps, "vec after freeing"), "vec after freeing");
    check_vec(r, &v, ps, "vec after growing again");
    size_t second = v.len * v.elem_size;
    if (second + slack(r->elem) < first + bal)
        st_violation(r->s, "vec: after freeing %zu bytes it grew only %zu -> %zu", bal, first,
                     second);

    da_vec_truncate(&v, v.len / (2 + st_below(&r->rng, 4)));
    size_t before = free_bytes(r->dir);
    e = da_vec_shrink_to_fit(&v);
    r->s->ops++;
    if (e)
        st_violation(r->s, "vec: shrink_to_fit on a full disk: %s", da_strerror(e));
    else if (free_bytes(r->dir) <= before)
        st_violation(r->s, "vec: shrink_to_fit freed nothing (%zu bytes free)", before);
    expect_full(r, fill(r, &v, ps, "vec after shrinking"), "vec after shrinking");
    check_vec(r, &v, ps, "vec after shrink and regrowth");
    if (v.len * v.elem_size + slack(r->elem) < second)
        st_violation(r->s, "vec: after shrink_to_fit it regrew only to %zu of %zu bytes",
                     v.len * v.elem_size, second);
    e = da_vec_close(&v);
    if (e)
        st_violation(r->s, "vec: close: %s", da_strerror(e));
    return 0;
}

typedef struct block {
    void *p;
    size_t size;
} block;

/* A raw block's pattern seed depends on its slot, so a block that was moved
 * without its bytes is seen. */
static uint64_t block_seed(const run *r, int i) { return r->seed ^ (0x51ull << 32) ^ (uint64_t)i; }

static void check_blocks(run *r, const block *b, int n, const char *what)
{
    for (int i = 0; i < n; i++) {
        size_t bad = b[i].p ? st_check(b[i].p, b[i].size, block_seed(r, i), 0) : SIZE_MAX;
        if (bad != SIZE_MAX)
            st_violation(r->s, "%s: raw block %d byte %zu of %zu lost its pattern", what, i, bad,
                         b[i].size);
    }
}

/* One op on the raw allocator: a new block, or a grown one (copy or in place). */
static int block_op(run *r, da_arena *a, block *b, int *n)
{
    int fresh = *n == 0 || (*n < 8 && st_below(&r->rng, 2));
    int i = fresh ? (*n)++ : (int)st_below(&r->rng, (uint64_t)*n);
    size_t old = b[i].size, grow = 1 + (size_t)st_below(&r->rng, 20000);
    size_t align = (size_t)1 << st_below(&r->rng, 13);
    void *p = b[i].p;
    size_t size = da_arena_size(a);
    int e = old ? da_grow(a, &p, old, old + grow, align) : da_alloc(a, grow, align, &p);
    r->s->ops++;
    if (e) {
        r->s->clean_errors++;
        if (p != b[i].p || da_arena_size(a) != size)
            st_violation(r->s, "shared: failed %s (%s) moved the block or resized the file",
                         old ? "da_grow" : "da_alloc", da_strerror(e));
        if (fresh)
            (*n)--;
        return e;
    }
    b[i].p = p;
    b[i].size = old + grow;
    st_fill((unsigned char *)p + old, grow, block_seed(r, i), old);
    return 0;
}

static int phase_shared(void *arg)
{
    run *r = arg;
    da_config cfg = {0, r->dir, 0};
    da_arena *a;
    int e = da_arena_open(&a, &cfg);
    if (e) {
        st_violation(r->s, "shared: da_arena_open on an empty sandbox: %s", da_strerror(e));
        return 0;
    }
    da_vec v[NVEC];
    for (int k = 0; k < NVEC; k++)
        da_vec_init_in(&v[k], elem_sizes[st_below(&r->rng, 5)], a);
    block b[8] = {{0}};
    int nb = 0, failed = 0, full = 0;
    /* interleave until every vector and the raw allocator have hit the full disk */
    while (failed != (1 << (NVEC + 1)) - 1) {
        int k = (int)st_below(&r->rng, NVEC + 1);
        while (failed & (1 << k)) /* one ENOSPC each: retrying only burns time */
            k = (k + 1) % (NVEC + 1);
        if (k == NVEC) {
            e = block_op(r, a, b, &nb);
        } else {
            void *data = v[k].data;
            e = push_some(r, &v[k], vec_seed(r, k), "shared");
            if (e == 0 && v[k].data != data) /* moved: a copy must have carried the bytes */
                check_vec(r, &v[k], vec_seed(r, k), "shared vector after it moved");
        }
        if (e) {
            failed |= 1 << k;
            if (!full_error(e))
                st_violation(r->s, "shared: %s on a full disk returned %s; expected ENOSPC",
                             k == NVEC ? "alloc/grow" : "push", da_strerror(e));
            if (!full++)
                for (int j = 0; j < NVEC; j++)
                    check_vec(r, &v[j], vec_seed(r, j), "shared at the first ENOSPC");
        }
        if (r->s->ops > 10 * r->fs_bytes) {
            st_violation(r->s, "shared: the disk never filled");
            break;
        }
    }
    for (int j = 0; j < NVEC; j++)
        check_vec(r, &v[j], vec_seed(r, j), "shared when full");
    check_blocks(r, b, nb, "shared when full");
    /* free everything but the smallest vector; it must grow into the space
     * (moving, with its bytes, if its block is not last) */
    int keep = 0;
    for (int j = 1; j < NVEC; j++)
        if (v[j].len * v[j].elem_size < v[keep].len * v[keep].elem_size)
            keep = j;
    for (int j = 0; j < NVEC; j++)
        if (j != keep)
            da_vec_close(&v[j]);
    for (int i = 0; i < nb; i++)
        da_free(a, b[i].p, b[i].size);
    size_t len = v[keep].len;
    for (int i = 0; i < 64 && push_some(r, &v[keep], vec_seed(r, keep), "shared") == 0; i++)
        ;
    if (v[keep].len == len)
        st_violation(r->s, "shared: nothing could be pushed after freeing the other blocks");
    check_vec(r, &v[keep], vec_seed(r, keep), "shared after freeing the other blocks");
    for (int j = 0; j < NVEC; j++)
        da_vec_close(&v[j]);
    e = da_arena_close(a);
    if (e)
        st_violation(r->s, "shared: da_arena_close: %s", da_strerror(e));
    return 0;
}

static int phase_persistent(void *arg)
{
    run *r = arg;
    char path[4200];
    snprintf(path, sizeof path, "%s/p.davec", r->dir);
    da_config cfg = {0, r->dir, 0};
    uint64_t ps = vec_seed(r, 7);
    da_vec v;
    int e = da_vec_open(&v, path, r->elem, &cfg);
    if (e) {
        st_violation(r->s, "persistent: da_vec_open on an empty sandbox: %s", da_strerror(e));
        return 0;
    }
    expect_full(r, fill(r, &v, ps, "persistent"), "persistent");
    e = da_vec_sync(&v);
    if (e)
        st_violation(r->s, "persistent: sync on a full disk: %s", da_strerror(e));
    size_t len = v.len;
    e = da_vec_close(&v);
    if (e)
        st_violation(r->s, "persistent: close on a full disk: %s", da_strerror(e));
    e = da_vec_open(&v, path, r->elem, &cfg);
    if (e) {
        st_violation(r->s, "persistent: reopen after filling the disk: %s", da_strerror(e));
        return 0;
    }
    if (v.len != len)
        st_violation(r->s, "persistent: reopened with %zu elements, synced %zu", v.len, len);
    check_vec(r, &v, ps, "persistent after reopen");
    e = push_some(r, &v, ps, "persistent reopened on a full disk");
    if (e && !full_error(e))
        st_violation(r->s, "persistent: push after reopen returned %s", da_strerror(e));
    da_vec_truncate(&v, v.len / 2);
    e = da_vec_shrink_to_fit(&v);
    if (e)
        st_violation(r->s, "persistent: shrink_to_fit: %s", da_strerror(e));
    expect_full(r, fill(r, &v, ps, "persistent after shrinking"), "persistent after shrinking");
    len = v.len;
    da_vec_close(&v);
    e = da_vec_open(&v, path, r->elem, &cfg);
    if (e == 0 && v.len != len)
        st_violation(r->s, "persistent: second reopen: %zu elements, closed with %zu", v.len,
                     len);
    if (e == 0)
        check_vec(r, &v, ps, "persistent after the second reopen");
    da_vec_close(&v);
    unlink(path);
    return 0;
}

static int phase_fsize(void *arg)
{
    run *r = arg;
    size_t limit = ((size_t)1 << 20) + (size_t)st_below(&r->rng, 256) * 4096 + 123;
    int e = fe_fsize_limit(limit, FE_SIGXFSZ_DEFAULT); /* the core must never raise it */
    if (e) {
        st_violation(r->s, "fsize: setrlimit: %s", strerror(e));
        return 0;
    }
    da_config cfg = {0, r->dir, 0};
    da_vec v;
    uint64_t ps = vec_seed(r, 9);
    e = da_vec_init(&v, r->elem, &cfg);
    if (e) {
        st_violation(r->s, "fsize: da_vec_init: %s", da_strerror(e));
        return 0;
    }
    e = fill(r, &v, ps, "fsize");
    if (e != EFBIG && e != -1)
        st_violation(r->s, "fsize: growth past RLIMIT_FSIZE=%zu returned %s; expected EFBIG",
                     limit, da_strerror(e));
    if (da_arena_size(da_vec_arena(&v)) > limit)
        st_violation(r->s, "fsize: the file is %zu bytes, over the limit %zu",
                     da_arena_size(da_vec_arena(&v)), limit);
    if (v.len * v.elem_size + (64 << 10) + MAX_BATCH * v.elem_size < limit)
        st_violation(r->s, "fsize: stopped at %zu bytes, well below the limit %zu",
                     v.len * v.elem_size, limit);
    check_vec(r, &v, ps, "fsize after EFBIG");
    da_vec_close(&v);
    return 0;
}

/* DA_SPARSE grows with ftruncate only: on a full disk the store dies. */
static int phase_sparse(void *arg)
{
    run *r = arg;
    da_config cfg = {0, r->dir, DA_SPARSE};
    da_vec v;
    int e = da_vec_init(&v, r->elem, &cfg);
    if (e)
        return 2;
    e = fill(r, &v, vec_seed(r, 3), "sparse");
    printf("note: DA_SPARSE did not die: push returned %s after %zu bytes on a %zu-byte disk\n",
           e == -1 ? "(never failed)" : da_strerror(e), v.len * v.elem_size, r->fs_bytes);
    da_vec_close(&v);
    return 3;
}

/* Under ASan a SIGBUS would become a report and exit 1; the sparse phase
 * wants the real signal.  (Without ASan this function is never called.) */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "handle_sigbus=0"; }

/* ---- orchestration ------------------------------------------------------------- */

static void crash(run *r, const char *phase, int status)
{
    printf("CRASH: phase %s died with %s (elem size %zu, disk %zu bytes)\nreplay: %s\n", phase,
           fe_status_str(status), r->elem, r->fs_bytes, r->s->replay);
    fflush(stdout);
    r->s->crashes++;
}

static int in_sandbox(const char *dir, void *arg)
{
    run *r = arg;
    r->dir = dir;
    static const struct {
        const char *name;
        int (*fn)(void *);
    } phases[] = {{"vec", phase_vec},
                  {"shared", phase_shared},
                  {"persistent", phase_persistent},
                  {"fsize", phase_fsize}};
    for (size_t i = 0; i < sizeof phases / sizeof *phases; i++) {
        r->elem = elem_sizes[st_below(&r->rng, 5)];
        int st = fe_run_child(phases[i].fn, r);
        if (st != 0) /* a signal, or a sanitizer's exit after one */
            crash(r, phases[i].name, st);
        st_rand(&r->rng); /* the child's draws are lost: keep the parent's stream moving */
    }
    r->elem = elem_sizes[st_below(&r->rng, 5)];
    int st = fe_run_child(phase_sparse, r);
    if (st == -SIGBUS)
        printf("expected SIGBUS in DA_SPARSE mode: the seed's hazard reproduced\n");
    else if (st < 0)
        crash(r, "sparse", st);
    else if (st != 3)
        printf("note: DA_SPARSE phase ended with %s\n", fe_status_str(st));
    return 0;
}

int main(int argc, char **argv)
{
    st_opts o;
    st_parse(&o, argc, argv, 10.0);
    size_t fs = o.quick ? (size_t)4 << 20 : (size_t)16 << 20;
    for (int i = 1; i < o.argc; i++) {
        if (!strcmp(o.argv[i], "--size") && i + 1 < o.argc)
            fs = (size_t)strtoull(o.argv[++i], NULL, 0) << 20;
        else
            fs = 0; /* unknown option, --help */
    }
    if (fs < ((size_t)4 << 20)) { /* the fsize phase needs room above its ~1 MiB limit */
        fprintf(stderr, "usage: %s [--seed N] [--seconds S] [--ops N] [--quick] [--size MiB>=4]\n",
                argv[0]);
        return 2;
    }
    st_stats *s = fe_shared_alloc(sizeof *s);
    if (!s)
        return 2;
    st_begin(s, "diskfull", &o, argc, argv);
    run r = {.s = s, .fs_bytes = fs};
    st_rng_seed(&r.rng, o.seed);
    double end = st_now() + o.seconds;
    int rounds = 0;
    do {
        r.seed = st_rand(&r.rng);
        int st = fe_sandbox_run(fs, in_sandbox, &r);
        if (st == FE_NOSANDBOX) {
            printf("SKIP: no disk-full sandbox here: %s\n", fe_why());
            st_summary(s, NULL);
            free(o.argv);
            return FE_SKIP_EXIT;
        }
        if (st != 0)
            crash(&r, "sandbox", st);
        st_rand(&r.rng);
        rounds++;
    } while (!o.quick && st_now() < end && (!o.ops || s->ops < o.ops));
    printf("diskfull: %d rounds on a %zu MiB tmpfs\n", rounds, fs >> 20);
    free(o.argv); /* st_parse's copy */
    return st_summary(s, NULL);
}
