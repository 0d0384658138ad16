/* exhaust — the address space runs out, for real.
 *   exhaust  open 512 GiB arenas (each used: resized and written) until the
 *            open fails; it must fail with ENOMEM (~255 fit in 47 bits) and
 *            da_strerror must name the exhaustion and the count; closing one
 *            lets exactly one more open; closing all restores the process's
 *            mappings and descriptors to their baseline; every arena's bytes
 *            are intact until it is closed.
 *   rlimit   the same in a child under RLIMIT_AS sized so that the Kth
 *            reservation fails (K small, from the seed).
 *   bound    arenas with a small reservation, side by side: growth past the
 *            reservation is DA_ECAPACITY and changes nothing, and a neighbour's
 *            bytes are never touched.
 * Options: --reserve SIZE_GIB (default 512). */
#define _GNU_SOURCE
#include "common.h"
#include "diskalloc.h"
#include "env.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_ARENAS 4096 /* far above 255: a runaway is a violation, not a hang */

typedef struct run {
    st_stats *s; /* shared with the children */
    st_rng rng;
    uint64_t seed;
    size_t reserve;
    size_t page;
    da_arena *a[MAX_ARENAS];
    unsigned char filled[MAX_ARENAS + 1]; /* holds its pattern page */
} run;

static uint64_t arena_seed(const run *r, int i) { return r->seed ^ ((uint64_t)i << 40); }

static int open_one(run *r, int i, da_arena **out)
{
    da_config cfg = {r->reserve, NULL, 0};
    int e = da_arena_open(out, &cfg);
    r->s->ops++;
    if (e)
        return e;
    /* use it: a few resizes (a leaked mapping per resize shows in the maps
     * count), then a page of pattern at its start */
    size_t pages = 1 + (size_t)st_below(&r->rng, 3);
    for (size_t p = 1; p <= pages && e == 0; p++)
        e = da_arena_resize(*out, p * r->page);
    if (e == 0)
        e = da_arena_resize(*out, r->page);
    r->filled[i] = e == 0;
    if (e) {
        st_violation(r->s, "arena %d: resize to a few pages: %s", i, da_strerror(e));
        return 0;
    }
    st_fill(da_arena_base(*out), r->page, arena_seed(r, i), 0);
    return 0;
}

static void check_arena(run *r, int i)
{
    if (r->a[i] && r->filled[i] && st_check(da_arena_base(r->a[i]), r->page, arena_seed(r, i), 0) != SIZE_MAX)
        st_violation(r->s, "arena %d: its first page lost its pattern", i);
}

static void close_one(run *r, int i)
{
    check_arena(r, i);
    int e = da_arena_close(r->a[i]);
    r->a[i] = NULL;
    r->s->ops++;
    if (e)
        st_violation(r->s, "arena %d: close: %s", i, da_strerror(e));
}

/* The failed open: ENOMEM, and a message that says what ran out and how
 * many arenas this process holds. */
static void check_enomem(run *r, int e, int held, const char *what)
{
    if (e != ENOMEM) {
        st_violation(r->s, "%s: open #%d failed with %d (%s); expected ENOMEM", what, held + 1,
                     e, da_strerror(e));
        return;
    }
    r->s->clean_errors++;
    const char *msg = da_strerror(e);
    char count[32];
    snprintf(count, sizeof count, "%d arenas", held);
    if (!strstr(msg, "address space") || !strstr(msg, count))
        st_violation(r->s, "%s: da_strerror(ENOMEM) should name the exhausted address space "
                           "and \"%s\": \"%s\"", what, count, msg);
}

/* Open until failure; returns how many are open, -1 after a violation. */
static int open_until_full(run *r, int limit, int *err)
{
    int n = 0;
    for (; n < limit; n++) {
        int e = open_one(r, n, &r->a[n]);
        if (e) {
            *err = e;
            return n;
        }
    }
    st_violation(r->s, "opened %d arenas of %zu GiB without running out of address space", n,
                 r->reserve >> 30);
    return -1;
}

static int exhaust_child(void *arg)
{
    run *r = arg;
    long maps0 = fe_count_maps(), big0 = fe_count_maps_min(r->reserve), fds0 = fe_count_fds();
    int e = 0, n = open_until_full(r, MAX_ARENAS, &e);
    if (n < 0)
        n = MAX_ARENAS;
    else
        check_enomem(r, e, n, "exhaust");
    printf("exhaust: %d arenas of %zu GiB open when the reservation failed with %s\n", n,
           r->reserve >> 30, e ? da_strerror(e) : "-");
    if (n > 0 && e == ENOMEM) {
        int i = (int)st_below(&r->rng, (uint64_t)n);
        close_one(r, i);
        e = open_one(r, i, &r->a[i]);
        if (e)
            st_violation(r->s, "exhaust: closing arena %d of %d did not make room for one more: "
                               "%s", i, n, da_strerror(e));
        da_arena *extra = NULL;
        e = open_one(r, n, &extra);
        if (e == 0) {
            st_violation(r->s, "exhaust: an open succeeded again at the limit (%d arenas)", n);
            da_arena_close(extra);
        } else {
            check_enomem(r, e, n, "exhaust, again at the limit");
        }
    }
    for (int i = 0; i < n; i++)
        check_arena(r, i);
    for (int i = 0; i < n; i++)
        if (r->a[i])
            close_one(r, i);
    /* reservation-sized mappings must all be gone; the total may move with
     * the heap (a sanitizer's allocator maps more), so it is only shown */
    long maps1 = fe_count_maps(), big1 = fe_count_maps_min(r->reserve), fds1 = fe_count_fds();
    if (big1 != big0)
        st_violation(r->s, "exhaust: %ld mappings of >= %zu GiB after closing all, %ld before "
                           "(/proc/self/maps: %ld lines, %ld before)",
                     big1, r->reserve >> 30, big0, maps1, maps0);
    if (fds1 != fds0)
        st_violation(r->s, "exhaust: %ld descriptors open after closing all, %ld before", fds1,
                     fds0);
    return 0;
}

static int rlimit_k;

static int rlimit_child(void *arg)
{
    run *r = arg;
    long fds0 = fe_count_fds();
    int e = 0, n = open_until_full(r, MAX_ARENAS, &e);
    if (n >= 0)
        check_enomem(r, e, n, "rlimit");
    if (n >= 0 && n != rlimit_k - 1)
        st_violation(r->s, "rlimit: RLIMIT_AS left room for %d reservations; %d succeeded",
                     rlimit_k - 1, n);
    printf("rlimit: RLIMIT_AS = VmSize + %.1f x %zu GiB: %d arenas open, open #%d failed (%s)\n",
           rlimit_k - 0.5, r->reserve >> 30, n, n + 1, e == ENOMEM ? "ENOMEM" : da_strerror(e));
    for (int i = 0; i < n; i++)
        close_one(r, i);
    if (fe_count_fds() != fds0)
        st_violation(r->s, "rlimit: %ld descriptors after closing all, %ld before",
                     fe_count_fds(), fds0);
    return 0;
}

/* Each small arena holds its own pattern; growth past the reservation must
 * fail with DA_ECAPACITY and leave everything, neighbours included, intact. */
static int bound_child(void *arg)
{
    run *r = arg;
    enum { N = 4 };
    da_config cfg = {r->page * (1 + st_below(&r->rng, 16)), NULL, 0};
    da_arena *a[N] = {0};
    da_vec v[N];
    for (int i = 0; i < N; i++) {
        int e = da_arena_open(&a[i], &cfg);
        if (!e)
            e = da_vec_init_in(&v[i], 8, a[i]);
        if (e) {
            st_violation(r->s, "bound: open a %zu-byte arena: %s", cfg.reserve, da_strerror(e));
            return 0; /* counted; a non-zero exit means a crash */
        }
    }
    size_t res = da_arena_reserved(a[0]);
    for (int i = 0; i < N; i++) {
        uint64_t x;
        int e = 0;
        while (e == 0 && v[i].len * 8 <= res) {
            x = st_pattern(arena_seed(r, i), v[i].len);
            e = da_vec_push(&v[i], &x);
            r->s->ops++;
        }
        if (e != DA_ECAPACITY)
            st_violation(r->s, "bound: vector %d pushed to %zu bytes in a %zu-byte reservation "
                               "(%s); expected DA_ECAPACITY",
                         i, v[i].len * 8, res, e ? da_strerror(e) : "no error");
        else
            r->s->clean_errors++;
        size_t size = da_arena_size(a[i]);
        e = da_arena_resize(a[i], res + r->page * (1 + st_below(&r->rng, 4)));
        r->s->ops++;
        if (e != DA_ECAPACITY || da_arena_size(a[i]) != size)
            st_violation(r->s, "bound: resize past the %zu-byte reservation returned %s, file "
                               "%zu -> %zu bytes",
                         res, e ? da_strerror(e) : "success", size, da_arena_size(a[i]));
        void *p = NULL;
        e = da_alloc(a[i], res + 1, 8, &p);
        if (e != DA_ECAPACITY || p != NULL)
            st_violation(r->s, "bound: da_alloc beyond the reservation returned %s",
                         e ? da_strerror(e) : "success");
    }
    for (int i = 0; i < N; i++) {
        for (size_t k = 0; k < v[i].len; k++)
            if (*(uint64_t *)da_vec_at(&v[i], k) != st_pattern(arena_seed(r, i), k)) {
                st_violation(r->s, "bound: arena %d element %zu was overwritten", i, k);
                break;
            }
        da_vec_close(&v[i]);
        da_arena_close(a[i]);
    }
    return 0;
}

static void crash(run *r, const char *phase, int status)
{
    printf("CRASH: phase %s died with %s\nreplay: %s\n", phase, fe_status_str(status),
           r->s->replay);
    fflush(stdout);
    r->s->crashes++;
}

int main(int argc, char **argv)
{
    st_opts o;
    st_parse(&o, argc, argv, 10.0);
    size_t gib = 512;
    for (int i = 1; i < o.argc; i++) {
        if (!strcmp(o.argv[i], "--reserve") && i + 1 < o.argc)
            gib = (size_t)strtoull(o.argv[++i], NULL, 0);
        else
            gib = 0;
    }
    if (gib == 0) {
        fprintf(stderr, "usage: %s [--seed N] [--seconds S] [--quick] [--reserve GIB]\n",
                argv[0]);
        return 2;
    }
    /* each arena holds a descriptor: let the address space, not the fd
     * limit, run out first */
    struct rlimit nf;
    if (getrlimit(RLIMIT_NOFILE, &nf) == 0 && nf.rlim_cur < nf.rlim_max) {
        nf.rlim_cur = nf.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nf);
    }
    static run r; /* MAX_ARENAS pointers: not on the stack */
    r.s = fe_shared_alloc(sizeof *r.s);
    if (!r.s)
        return 2;
    st_begin(r.s, "exhaust", &o, argc, argv);
    st_rng_seed(&r.rng, o.seed);
    r.reserve = gib << 30;
    r.page = (size_t)sysconf(_SC_PAGESIZE);
    double end = st_now() + o.seconds;
    int rounds = 0;
    do {
        r.seed = st_rand(&r.rng);
        int st = fe_run_child(bound_child, &r);
        if (st != 0) /* a signal, or a sanitizer's exit after one */
            crash(&r, "bound", st);
        st_rand(&r.rng);
        rlimit_k = 1 + (int)st_below(&r.rng, 4);
        st = fe_run_as_limited((unsigned)rlimit_k, r.reserve, rlimit_child, &r);
        if (st == FE_SKIP_EXIT)
            printf("note: rlimit phase skipped: RLIMIT_AS could not be set\n");
        else if (st != 0)
            crash(&r, "rlimit", st);
        st_rand(&r.rng);
        st = fe_run_child(exhaust_child, &r);
        if (st != 0)
            crash(&r, "exhaust", st);
        rounds++;
    } while (!o.quick && st_now() < end && (!o.ops || r.s->ops < o.ops));
    printf("exhaust: %d rounds\n", rounds);
    free(o.argv);
    return st_summary(r.s, NULL);
}
