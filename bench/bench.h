/* bench/: the containers under test and the workloads run on them.
 *
 * A contender is a table of operations on an opaque handle; a NULL operation
 * means it sits that workload out.  Every operation returns 0 or an error
 * code (errno, or a DA_E* code from the core).  Elements are u64. */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_CHUNK 8192 /* elements per bulk extend: 64 KiB */
#define BENCH_IO ((size_t)1 << 20) /* bytes per write(2)/read(2) for the file contenders */

typedef struct contender {
    const char *name;
    const char *what;  /* one line for the legend */
    int exact;         /* stores the real values (not a memset bound): results are verified */
    int in_memory;     /* cannot hold more than RAM */
    /* n: the elements the run will reach, for contenders that prefault */
    int (*open)(void **h, size_t n, const char *dir);
    int (*close)(void *h);
    int (*push)(void *h, size_t n);             /* push 0, 1, ..., n-1 one at a time */
    int (*extend)(void *h, const uint64_t *chunk, size_t n); /* n elements from chunk, repeated */
    int (*sum)(void *h, size_t n, uint64_t *out); /* sequential read of the n elements */
    int (*rand_read)(void *h, size_t n, size_t ops, uint64_t seed, uint64_t *out);
    int (*rand_update)(void *h, size_t n, size_t ops, uint64_t seed);
    int (*reserve)(void *h, size_t n);          /* grow capacity to n as pushes would */
    int (*shrink)(void *h);                     /* drop all elements and give back the space */
    int (*sync)(void *h);                       /* make written data durable */
    /* cold reads of an existing vector file at path (made by da_vec_open,
     * n u64 elements), opened by the call: its pages are not in memory */
    int (*scan_file)(const char *path, size_t n, uint64_t *out);
    int (*rand_file)(const char *path, size_t n, size_t ops, uint64_t seed, uint64_t *out);
} contender;

extern const contender bench_da[], bench_mem[], bench_file[];
extern const size_t bench_n_da, bench_n_mem, bench_n_file;

/** The contender called name, or NULL. */
const contender *bench_contender(const char *name);

/* xorshift64*: the same index sequence for every contender. */
static inline uint64_t bench_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* Consumes its result so the compiler keeps the loop that produced it. */
static inline void bench_keep(uint64_t x) { __asm__ volatile("" : : "r"(x) : "memory"); }

#endif
