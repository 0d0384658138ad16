/* stream-check: the core's streaming paths that the bench times (issue 12),
 * checked for correctness at small sizes, for `make check` (no timing):
 * write-behind with its eviction (DISKALLOC_WRITEBEHIND=256K), its I/O error
 * (sticky, through the msync fail point), the bulk extend by pwrite and its
 * fallback (pwrite fail point), and da_vec_advise.  Prints one line per check;
 * exits 1 on the first failure. */
#define _GNU_SOURCE
#include "diskalloc.h"

#define FIU_ENABLE 1 /* the real fiu control calls, not fiu-local's no-ops */
#include <errno.h>
#include <fiu-control.h>
#include <fiu.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define N ((size_t)1 << 20) /* u64s: 8 MiB, 32 write-behind thresholds */
#define CHUNK 8192          /* u64s per extend: 64 KiB, past the pwrite threshold */

static int check(int ok, const char *what)
{
    printf("%s - %s\n", ok ? "ok" : "not ok", what);
    if (!ok)
        exit(1);
    return 0;
}

static int holds_index(const da_vec *v, size_t n)
{
    const uint64_t *p = v->data;
    if (v->len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] != i)
            return 0;
    return 1;
}

/* Resident pages of [p, p + len), by mincore. */
static size_t resident(const void *p, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = len / page, k = 0;
    unsigned char *vec = malloc(n);
    if (vec && mincore((void *)p, len, vec) == 0)
        for (size_t i = 0; i < n; i++)
            k += vec[i] & 1;
    free(vec);
    return k;
}

static void push_index(da_vec *v, size_t n)
{
    int e = 0;
    for (uint64_t i = 0; i < n && e == 0; i++)
        e = da_vec_push_fast(v, &i);
    check(e == 0, "push past the write-behind threshold succeeds");
}

int main(void)
{
    setenv("DISKALLOC_WRITEBEHIND", "256K", 1);
    if (fiu_init(0) != 0)
        return fprintf(stderr, "stream-check: fiu_init failed\n"), 1;
    da_vec v;
    check(da_vec_init(&v, sizeof(uint64_t), NULL) == 0, "da_vec_init");
    push_index(&v, N);
    check(resident(v.data, (size_t)1 << 20) < 256, "the first MiB was evicted behind the end");
    check(holds_index(&v, N), "every element reads back after write-behind evicted its pages");
    check(da_vec_close(&v) == 0, "close");

    /* an I/O error in the write-behind: returned by the growing call, sticky */
    check(da_vec_init(&v, sizeof(uint64_t), NULL) == 0, "da_vec_init");
    fiu_enable("diskalloc/msync", 1, (void *)(intptr_t)EIO, 0);
    int e = 0;
    size_t len = 0, cap = 0;
    for (uint64_t i = 0; i < N && e == 0; i++) {
        len = v.len, cap = v.cap;
        e = da_vec_push_fast(&v, &i);
    }
    fiu_disable("diskalloc/msync");
    check(e == EIO, "the push that meets the write-behind's EIO returns it");
    check(v.len == len && v.cap == cap, "that push changed neither length nor capacity");
    check(da_arena_error(da_vec_arena(&v)) == EIO, "the error is the arena's sticky error");
    uint64_t x = 0;
    check(da_vec_push(&v, &x) == DA_EPOISONED && da_vec_extend(&v, &x, 1) == DA_EPOISONED,
          "later writes are refused with DA_EPOISONED");
    check(da_vec_close(&v) == EIO, "close reports it");

    /* bulk extend: by pwrite, and by stores when pwrite fails */
    static uint64_t chunk[CHUNK];
    for (int fail = 0; fail < 2; fail++) {
        check(da_vec_init(&v, sizeof(uint64_t), NULL) == 0, "da_vec_init");
        if (fail)
            fiu_enable("diskalloc/pwrite", 1, (void *)(intptr_t)EIO, 0);
        for (size_t at = 0; at < N && e != -1; at += CHUNK) {
            for (size_t i = 0; i < CHUNK; i++)
                chunk[i] = at + i;
            if (da_vec_extend(&v, chunk, CHUNK) != 0)
                e = -1;
        }
        fiu_disable("diskalloc/pwrite");
        check(e != -1 && holds_index(&v, N),
              fail ? "extend with pwrite failing: stores finish it, contents right"
                   : "extend by pwrite: contents right through the mapping");
        check(da_arena_error(da_vec_arena(&v)) == 0, "no sticky error from the extend");
        check(da_vec_close(&v) == 0, "close");
    }

    /* advice: bits checked, nothing changes */
    check(da_vec_init(&v, sizeof(uint64_t), NULL) == 0, "da_vec_init");
    check(da_vec_advise(&v, DA_ADVICE_SEQUENTIAL) == 0, "advice on capacity 0 is a no-op");
    push_index(&v, N / 8);
    check(da_vec_advise(NULL, 0) == DA_EINVAL && da_vec_advise(&v, 16) == DA_EINVAL &&
              da_vec_advise(&v, DA_ADVICE_SEQUENTIAL | DA_ADVICE_RANDOM) == DA_EINVAL &&
              da_vec_advise(&v, DA_ADVICE_WILLNEED | DA_ADVICE_DONTNEED) == DA_EINVAL,
          "bad advice is DA_EINVAL");
    size_t cap0 = v.cap;
    const unsigned good[] = {DA_ADVICE_SEQUENTIAL | DA_ADVICE_WILLNEED, DA_ADVICE_RANDOM,
                             DA_ADVICE_NORMAL | DA_ADVICE_DONTNEED, DA_ADVICE_NORMAL};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        check(da_vec_advise(&v, good[i]) == 0 && holds_index(&v, N / 8),
              "advice returns 0 and changes no element");
    check(v.cap == cap0 && da_vec_sync(&v) == 0, "capacity kept, sync clean after DONTNEED");
    check(da_vec_close(&v) == 0, "close");
    return 0;
}
