/* The in-memory contenders: a realloc-based vector (what a C program or a
 * Rust Vec does), and the memory's own limit, memset over prefaulted pages. */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct {
    uint64_t *p;
    size_t len, cap;
    size_t map;   /* mem: bytes mapped and prefaulted */
} handle;

static int vec_open(void **h, size_t n, const char *dir)
{
    (void)n, (void)dir;
    handle *d = calloc(1, sizeof *d);
    *h = d;
    return d ? 0 : ENOMEM;
}

static int vec_close(void *h)
{
    handle *d = h;
    free(d->p);
    free(d);
    return 0;
}

/* Doubling, from 4 elements as Rust's Vec<u64> does. */
static int vec_grow(handle *d, size_t need)
{
    size_t cap = d->cap ? d->cap : 4;
    while (cap < need)
        cap *= 2;
    uint64_t *p = realloc(d->p, cap * sizeof *p);
    if (!p)
        return ENOMEM;
    d->p = p;
    d->cap = cap;
    return 0;
}

static int vec_push(void *h, size_t n)
{
    handle *d = h;
    for (uint64_t i = 0; i < n; i++) {
        if (d->len == d->cap && vec_grow(d, d->len + 1) != 0)
            return ENOMEM;
        d->p[d->len++] = i;
    }
    return 0;
}

static int vec_extend(void *h, const uint64_t *chunk, size_t n)
{
    handle *d = h;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < BENCH_CHUNK ? n - done : BENCH_CHUNK;
        if (d->cap - d->len < k && vec_grow(d, d->len + k) != 0)
            return ENOMEM;
        memcpy(d->p + d->len, chunk, k * sizeof *chunk);
        d->len += k;
        done += k;
    }
    return 0;
}

static int vec_sum(void *h, size_t n, uint64_t *out)
{
    const uint64_t *p = ((handle *)h)->p;
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    *out = s;
    return 0;
}

static int vec_rand_read(void *h, size_t n, size_t ops, uint64_t seed, uint64_t *out)
{
    const uint64_t *p = ((handle *)h)->p;
    uint64_t s = 0;
    for (size_t i = 0; i < ops; i++)
        s += p[bench_rand(&seed) % n];
    *out = s;
    return 0;
}

static int vec_rand_update(void *h, size_t n, size_t ops, uint64_t seed)
{
    uint64_t *p = ((handle *)h)->p;
    for (size_t i = 0; i < ops; i++)
        p[bench_rand(&seed) % n]++;
    return 0;
}

/* shrink_to_fit of an empty Vec frees its buffer. */
static int vec_shrink(void *h)
{
    handle *d = h;
    free(d->p);
    d->p = NULL;
    d->len = d->cap = 0;
    return 0;
}

/* mem: the whole run's memory mapped and faulted in before the clock starts. */
static int mem_open(void **h, size_t n, const char *dir)
{
    (void)dir;
    handle *d = calloc(1, sizeof *d);
    if (!d)
        return ENOMEM;
    d->map = n * sizeof(uint64_t);
    if (d->map) {
        void *p = mmap(NULL, d->map, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p == MAP_FAILED) {
            free(d);
            return errno;
        }
        d->p = p;
    }
    d->cap = n;
    *h = d;
    return 0;
}

static int mem_close(void *h)
{
    handle *d = h;
    int e = d->map && munmap(d->p, d->map) != 0 ? errno : 0;
    free(d);
    return e;
}

static int mem_fill(void *h, size_t n)
{
    handle *d = h;
    memset(d->p, 0x5a, n * sizeof *d->p);
    d->len = n;
    return 0;
}

static int mem_extend(void *h, const uint64_t *chunk, size_t n)
{
    (void)chunk;
    return mem_fill(h, n);
}

const contender bench_mem[] = {
    {"realloc", "in-memory vector grown by realloc (doubling), like Vec<u64>", 1, 1, vec_open,
     vec_close, vec_push, vec_extend, vec_sum, vec_rand_read, vec_rand_update, NULL,
     vec_shrink, NULL, NULL, NULL},
    {"mem", "limit: memset / loads over prefaulted anonymous memory", 0, 1, mem_open, mem_close,
     mem_fill, mem_extend, vec_sum, vec_rand_read, vec_rand_update, NULL, NULL, NULL, NULL,
     NULL},
};
const size_t bench_n_mem = sizeof bench_mem / sizeof bench_mem[0];
