/* The da_vec contenders: the core as shipped, DA_SPARSE, and the variants the
 * bench explores for the push path (madvise advice on the reservation,
 * MADV_POPULATE_WRITE of each new step, capped growth steps).  The variants
 * only call the public API plus madvise on the vector's own pages, so what
 * they measure is what the same change would give inside the core. */
#include "bench.h"
#include "diskalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

typedef struct {
    unsigned flags;  /* da_config.flags */
    int advice;      /* madvise over the whole reservation at open; 0 = none */
    int populate;    /* MADV_POPULATE_WRITE each range a growth adds */
    size_t step_cap; /* 0: the core's policy; else doubling capped at this many bytes */
} variant;

typedef struct {
    da_vec v;
    const variant *var;
    void *home; /* data at open: an own arena's data never moves (no copy) */
} handle;

#define FIRST_STEP ((size_t)64 << 10) /* the core's first step */

static int plain(const handle *d) { return d->var->step_cap == 0 && !d->var->populate; }

/* Room for `additional` more elements, by the variant's growth policy. */
static int grow(handle *d, size_t additional)
{
    da_vec *v = &d->v;
    size_t old = v->cap;
    int e;
    if (d->var->step_cap == 0) {
        e = da_vec_try_reserve(v, additional);
    } else {
        size_t bytes = v->cap * sizeof(uint64_t);
        size_t step = bytes < FIRST_STEP ? FIRST_STEP : bytes;
        step = step < d->var->step_cap ? step : d->var->step_cap;
        size_t want = (bytes + step) / sizeof(uint64_t), need = v->len + additional;
        e = da_vec_try_reserve_exact(v, (want > need ? want : need) - v->len);
    }
    if (e == 0 && d->var->populate && v->cap > old &&
        madvise((uint64_t *)v->data + old, (v->cap - old) * sizeof(uint64_t),
                MADV_POPULATE_WRITE) != 0)
        e = errno;
    return e;
}

static int open_variant(void **h, const char *dir, const variant *var)
{
    handle *d = calloc(1, sizeof *d);
    if (!d)
        return ENOMEM;
    da_config cfg = {0, dir, var->flags};
    int e = da_vec_init(&d->v, sizeof(uint64_t), &cfg);
    da_arena *a = da_vec_arena(&d->v);
    if (e == 0 && var->advice &&
        madvise(da_arena_base(a), da_arena_reserved(a), var->advice) != 0)
        e = errno;
    if (e != 0) {
        da_vec_close(&d->v);
        free(d);
        return e;
    }
    d->var = var;
    d->home = d->v.data;
    *h = d;
    return 0;
}

/* The "no copy ever in an own arena" guarantee, checked after every timed
 * push and extend. */
static int unmoved(const handle *d, int e)
{
    if (e == 0 && d->v.data != d->home) {
        fprintf(stderr, "bench: VIOLATION own-arena data moved from %p to %p\n", d->home,
                d->v.data);
        return EFAULT;
    }
    return e;
}

static int dv_close(void *h)
{
    handle *d = h;
    int e = da_vec_close(&d->v);
    free(d);
    return e;
}

static int dv_push(void *h, size_t n)
{
    handle *d = h;
    int e = 0;
    if (plain(d)) { /* exactly what a user writes */
        for (uint64_t i = 0; i < n && e == 0; i++)
            e = da_vec_push_fast(&d->v, &i);
        return unmoved(d, e);
    }
    for (uint64_t i = 0; i < n && e == 0; i++) {
        if (d->v.len == d->v.cap && (e = grow(d, 1)) != 0)
            break;
        e = da_vec_push_fast(&d->v, &i);
    }
    return unmoved(d, e);
}

static int dv_extend(void *h, const uint64_t *chunk, size_t n)
{
    handle *d = h;
    int e = 0;
    for (size_t done = 0; done < n && e == 0;) {
        size_t k = n - done < BENCH_CHUNK ? n - done : BENCH_CHUNK;
        if (!plain(d) && d->v.cap - d->v.len < k && (e = grow(d, k)) != 0)
            break;
        e = da_vec_extend(&d->v, chunk, k);
        done += k;
    }
    return unmoved(d, e);
}

static int dv_sum(void *h, size_t n, uint64_t *out)
{
    const uint64_t *p = ((handle *)h)->v.data;
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    *out = s;
    return 0;
}

static int dv_rand_read(void *h, size_t n, size_t ops, uint64_t seed, uint64_t *out)
{
    const uint64_t *p = ((handle *)h)->v.data;
    uint64_t s = 0;
    for (size_t i = 0; i < ops; i++)
        s += p[bench_rand(&seed) % n];
    *out = s;
    return 0;
}

static int dv_rand_update(void *h, size_t n, size_t ops, uint64_t seed)
{
    uint64_t *p = ((handle *)h)->v.data;
    for (size_t i = 0; i < ops; i++)
        p[bench_rand(&seed) % n]++;
    return 0;
}

static int dv_reserve(void *h, size_t n)
{
    handle *d = h;
    int e = 0;
    while (e == 0 && d->v.cap < n)
        e = grow(d, d->v.cap - d->v.len + 1); /* the step a push at capacity takes */
    return e;
}

static int dv_shrink(void *h)
{
    handle *d = h;
    da_vec_truncate(&d->v, 0);
    return da_vec_shrink_to_fit(&d->v);
}

static int dv_sync(void *h) { return da_vec_sync(&((handle *)h)->v); }

/* Cold reads of a vector file, reopened so nothing of it is mapped yet:
 * in order when ops is 0, else ops random reads; with the access pattern
 * told through da_vec_advise (ADVISE), or not at all (PLAIN). */
enum { ADVISE, PLAIN };
static int cold_reads(const char *path, size_t n, size_t ops, uint64_t seed, uint64_t *out,
                      int how)
{
    da_vec v;
    int e = da_vec_open(&v, path, sizeof(uint64_t), NULL);
    if (e == 0 && how == ADVISE)
        e = da_vec_advise(&v, ops ? DA_ADVICE_RANDOM : DA_ADVICE_SEQUENTIAL);
    if (e == 0 && v.len < n)
        e = DA_EBADFILE;
    if (e != 0) {
        da_vec_close(&v);
        return e;
    }
    const uint64_t *p = v.data;
    uint64_t s = 0;
    if (ops == 0)
        for (size_t i = 0; i < n; i++)
            s += p[i];
    for (size_t i = 0; i < ops; i++)
        s += p[bench_rand(&seed) % n];
    *out = s;
    return da_vec_close(&v);
}

#define COLD(name, how)                                                                   \
    static int dv_scan_##name(const char *path, size_t n, uint64_t *out)                  \
    {                                                                                     \
        return cold_reads(path, n, 0, 0, out, how);                                       \
    }                                                                                     \
    static int dv_rand_##name(const char *path, size_t n, size_t ops, uint64_t seed,      \
                              uint64_t *out)                                              \
    {                                                                                     \
        return cold_reads(path, n, ops, seed, out, how);                                  \
    }
COLD(advise, ADVISE)
COLD(plain, PLAIN)

#define MiB ((size_t)1 << 20)
static const variant v_default = {0, 0, 0, 0}, v_sparse = {DA_SPARSE, 0, 0, 0},
                     v_huge = {0, MADV_HUGEPAGE, 0, 0}, v_seq = {0, MADV_SEQUENTIAL, 0, 0},
                     v_populate = {0, 0, 1, 0}, v_huge_populate = {0, MADV_HUGEPAGE, 1, 0},
                     v_cap64m = {0, 0, 0, 64 * MiB}, v_cap2m = {0, 0, 0, 2 * MiB},
                     v_huge_cap64m = {0, MADV_HUGEPAGE, 0, 64 * MiB},
                     v_huge_populate_cap64m = {0, MADV_HUGEPAGE, 1, 64 * MiB};

#define OPEN(name, var)                                                                  \
    static int open_##name(void **h, size_t n, const char *dir)                          \
    {                                                                                    \
        (void)n;                                                                         \
        return open_variant(h, dir, &var);                                               \
    }
OPEN(default, v_default)
OPEN(sparse, v_sparse)
OPEN(huge, v_huge)
OPEN(seq, v_seq)
OPEN(populate, v_populate)
OPEN(huge_populate, v_huge_populate)
OPEN(cap64m, v_cap64m)
OPEN(cap2m, v_cap2m)
OPEN(huge_cap64m, v_huge_cap64m)
OPEN(huge_populate_cap64m, v_huge_populate_cap64m)

#define OPS dv_close, dv_push, dv_extend, dv_sum, dv_rand_read, dv_rand_update, dv_reserve, \
            dv_shrink, dv_sync, NULL, NULL
const contender bench_da[] = {
    {"da", "da_vec as shipped (fallocate, doubling to 1 GiB steps)", 1, 0, open_default,
     dv_close, dv_push, dv_extend, dv_sum, dv_rand_read, dv_rand_update, dv_reserve, dv_shrink,
     dv_sync, dv_scan_advise, dv_rand_advise},
    {"da-sparse", "da_vec with DA_SPARSE (ftruncate only; SIGBUS on a full disk)", 1, 0,
     open_sparse, OPS},
    {"da-noadvise", "da, cold reads without da_vec_advise", 1, 0, open_default, dv_close, dv_push,
     dv_extend, dv_sum, dv_rand_read, dv_rand_update, dv_reserve, dv_shrink, dv_sync,
     dv_scan_plain, dv_rand_plain},
    {"da-huge", "da + madvise(MADV_HUGEPAGE) on the reservation", 1, 0, open_huge, OPS},
    {"da-seq", "da + madvise(MADV_SEQUENTIAL) on the reservation", 1, 0, open_seq, OPS},
    {"da-populate", "da + MADV_POPULATE_WRITE of each growth step", 1, 0, open_populate, OPS},
    {"da-huge-populate", "da + MADV_HUGEPAGE + MADV_POPULATE_WRITE of each step", 1, 0,
     open_huge_populate, OPS},
    {"da-cap64m", "da with growth steps capped at 64 MiB (fallocate per 64 MiB)", 1, 0,
     open_cap64m, OPS},
    {"da-cap2m", "da with growth steps capped at 2 MiB (fallocate per 2 MiB)", 1, 0,
     open_cap2m, OPS},
    {"da-huge-cap64m", "da + MADV_HUGEPAGE, steps capped at 64 MiB", 1, 0, open_huge_cap64m,
     OPS},
    {"da-huge-pop64m", "da + MADV_HUGEPAGE + MADV_POPULATE_WRITE, steps capped at 64 MiB", 1, 0,
     open_huge_populate_cap64m, OPS},
};
const size_t bench_n_da = sizeof bench_da / sizeof bench_da[0];
