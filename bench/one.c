/* One measurement in a fresh process: open the contender, prepare its data
 * (untimed), time the workload, check the result, print one RESULT line:
 *   RESULT,workload,size_bytes,contender,seconds,elements,minflt,majflt,maxrss_kib
 * Faults are counted over the timed part only; peak RSS is the process's. */
#include "one.h"

#include "bench.h"
#include "diskalloc.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define RANDOM_OPS ((size_t)1 << 20)
#define OPENCLOSE_OPS 1000
#define SEED 0x9e3779b97f4a7c15ull
#define VERIFY_MAX ((size_t)8 << 20) /* elements: re-reading more costs too much time */

const contender *bench_contender(const char *name)
{
    const contender *sets[] = {bench_da, bench_mem, bench_file};
    const size_t counts[] = {bench_n_da, bench_n_mem, bench_n_file};
    for (size_t s = 0; s < 3; s++)
        for (size_t i = 0; i < counts[s]; i++)
            if (strcmp(sets[s][i].name, name) == 0)
                return &sets[s][i];
    return NULL;
}

static uint64_t chunk[BENCH_CHUNK];

/* Sum of n elements laid down by extend: chunk[] = 0..BENCH_CHUNK-1, repeated. */
static uint64_t chunk_sum(size_t n)
{
    uint64_t full = n / BENCH_CHUNK, rest = n % BENCH_CHUNK;
    return full * (BENCH_CHUNK * (uint64_t)(BENCH_CHUNK - 1) / 2) + rest * (rest - 1) / 2;
}

static uint64_t rand_sum(size_t n)
{
    uint64_t seed = SEED, s = 0;
    for (size_t i = 0; i < RANDOM_OPS; i++)
        s += bench_rand(&seed) % n % BENCH_CHUNK;
    return s;
}

enum { PUSH, EXTEND, READ, RREAD, RUPDATE, GROW, SHRINK, CLOSE, SYNC, OPENCLOSE, NWORK };
static const char *const names[NWORK] = {"push",   "extend", "read",  "rread", "rupdate",
                                         "grow",   "shrink", "close", "sync",  "openclose"};

int bench_workload(const char *name)
{
    for (int w = 0; w < NWORK; w++)
        if (strcmp(names[w], name) == 0)
            return w;
    return -1;
}

const char *bench_workload_name(int w) { return w >= 0 && w < NWORK ? names[w] : NULL; }

int bench_applies(int w, const contender *c)
{
    switch (w) {
    case PUSH: return c->push != NULL;
    case EXTEND: return c->extend != NULL;
    case READ: return c->sum != NULL;
    case RREAD: return c->rand_read != NULL;
    case RUPDATE: return c->rand_update != NULL;
    case GROW: return c->reserve != NULL;
    case SHRINK: return c->shrink != NULL;
    case CLOSE: return c->close != NULL;
    case SYNC: return c->sync != NULL;
    case OPENCLOSE: return c->open != NULL;
    }
    return 0;
}

size_t bench_elements(int w, size_t size)
{
    if (w == RREAD || w == RUPDATE)
        return RANDOM_OPS;
    if (w == OPENCLOSE)
        return OPENCLOSE_OPS;
    return size / sizeof(uint64_t);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int fail(const char *what, const contender *c, int e)
{
    fprintf(stderr, "bench: %s %s: %s\n", c->name, what, da_strerror(e));
    return 1;
}

/* After the timed part: the contender really holds what it was asked to. */
static int verify(int w, const contender *c, void *h, size_t n, uint64_t got)
{
    uint64_t want = 0, s = 0;
    int read_back = w == PUSH || w == EXTEND || w == RUPDATE;
    if (!c->exact || (read_back && (n > VERIFY_MAX || !c->sum)))
        return 0;
    if (w == READ)
        s = got, want = chunk_sum(n);
    else if (w == RREAD)
        s = got, want = rand_sum(n);
    else if (read_back) {
        int e = c->sum(h, n, &s);
        if (e)
            return fail("read back", c, e);
        want = w == PUSH ? (uint64_t)n * (n - 1) / 2 : chunk_sum(n) + (w == RUPDATE) * RANDOM_OPS;
    } else
        return 0;
    if (s == want)
        return 0;
    fprintf(stderr, "bench: VIOLATION %s %s n=%zu: checksum %llu, want %llu\n", names[w],
            c->name, n, (unsigned long long)s, (unsigned long long)want);
    return 1;
}

static int timed(int w, const contender *c, void **h, size_t n, const char *dir,
                 uint64_t *got)
{
    switch (w) {
    case PUSH: return c->push(*h, n);
    case EXTEND: return c->extend(*h, chunk, n);
    case READ: return c->sum(*h, n, got);
    case RREAD: return c->rand_read(*h, n, RANDOM_OPS, SEED, got);
    case RUPDATE: return c->rand_update(*h, n, RANDOM_OPS, SEED);
    case GROW: return c->reserve(*h, n);
    case SHRINK: return c->shrink(*h);
    case SYNC: return c->sync(*h);
    case CLOSE: {
        int e = c->close(*h);
        *h = NULL;
        return e;
    }
    case OPENCLOSE:
        for (int i = 0; i < OPENCLOSE_OPS; i++) {
            void *t;
            int e = c->open(&t, 0, dir);
            if (e || (e = c->close(t)) != 0)
                return e;
        }
        return 0;
    }
    return -1;
}

int bench_one(int w, const contender *c, size_t size, const char *dir)
{
    size_t n = size / sizeof(uint64_t);
    for (size_t i = 0; i < BENCH_CHUNK; i++)
        chunk[i] = i;
    if (!bench_applies(w, c) || (n == 0 && w != OPENCLOSE)) {
        fprintf(stderr, "bench: %s does not run %s at %zu bytes\n", c->name, names[w], size);
        return 2;
    }
    void *h = NULL;
    int e = c->open(&h, n, dir);
    if (e)
        return fail("open", c, e);
    int prefill = w == READ || w == RREAD || w == RUPDATE || w == SHRINK || w == CLOSE ||
                  w == SYNC;
    if (prefill && (e = c->extend(h, chunk, n)) != 0) {
        c->close(h);
        return fail("fill", c, e);
    }
    uint64_t got = 0;
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double t0 = now();
    e = timed(w, c, &h, n, dir, &got);
    double t1 = now();
    getrusage(RUSAGE_SELF, &r1);
    bench_keep(got);
    int bad = e ? fail(names[w], c, e) : verify(w, c, h, n, got);
    if (h && (e = c->close(h)) != 0)
        bad = fail("close", c, e);
    if (bad)
        return 1;
    printf("RESULT,%s,%zu,%s,%.9f,%zu,%ld,%ld,%ld\n", names[w], size, c->name, t1 - t0,
           bench_elements(w, size), r1.ru_minflt - r0.ru_minflt, r1.ru_majflt - r0.ru_majflt,
           r1.ru_maxrss);
    return 0;
}
