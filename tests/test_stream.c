/* The streaming paths of issue 12, checked for correctness at small sizes
 * (the bench times them; this never does): the write-behind with its
 * eviction (DISKALLOC_WRITEBEHIND=256K), its I/O error (sticky, through the
 * msync fail point), the bulk extend by pwrite and its fallback to stores
 * (pwrite fail point), and da_vec_advise. */
#include "common.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* u64s: 8 MiB, 32 write-behind thresholds; STREAM_ELEMS lowers it where every
 * store is slow (valgrind) */
static size_t N = (size_t)1 << 20;
#define CHUNK 8192          /* u64s per extend: 64 KiB, past the pwrite threshold */

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
    assert_non_null(vec);
    assert_int_equal(mincore((void *)p, len, vec), 0);
    for (size_t i = 0; i < n; i++)
        k += vec[i] & 1;
    free(vec);
    return k;
}

static void push_index(da_vec *v, size_t from, size_t n)
{
    for (uint64_t i = from; i < n; i++)
        assert_int_equal(da_vec_push_fast(v, &i), 0);
}

static int setup(void **state)
{
    (void)state;
    setenv("DISKALLOC_WRITEBEHIND", "256K", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unsetenv("DISKALLOC_WRITEBEHIND");
    t_fail_off();
    return 0;
}

/* Past the threshold the pages far behind the end are written and evicted;
 * every element still reads back, and a shrink lets it start over. */
static void write_behind_evicts_and_reads_back(void **state)
{
    (void)state;
    da_vec v;
    assert_int_equal(da_vec_init(&v, sizeof(uint64_t), NULL), 0);
    push_index(&v, 0, N);
    /* evicted page-cache folios (up to 2 MiB each) show only at the full size;
     * valgrind's own page handling keeps them anyway */
    if (!t_under_valgrind() && N >= ((size_t)1 << 20))
        assert_true(resident(v.data, (size_t)1 << 20) < 256);
    assert_true(holds_index(&v, N));
    da_vec_truncate(&v, N / 16);
    assert_int_equal(da_vec_shrink_to_fit(&v), 0);
    push_index(&v, N / 16, N / 2);
    assert_true(holds_index(&v, N / 2));
    assert_int_equal(da_vec_close(&v), 0);
}

/* An I/O error in the write-behind: returned by the growing push, sticky,
 * and that push changed neither length nor capacity. */
static void write_behind_error_is_sticky(void **state)
{
    (void)state;
    for (unsigned n = 1; n <= 2; n++) { /* 1: the writeback start, 2: the wait before eviction */
        da_vec v;
        assert_int_equal(da_vec_init(&v, sizeof(uint64_t), NULL), 0);
        push_index(&v, 0, N / 4);
        t_fail_nth("diskalloc/msync", EIO, n);
        int e = 0;
        size_t len = 0, cap = 0;
        for (uint64_t i = N / 4; i < N && e == 0; i++) {
            len = v.len, cap = v.cap;
            e = da_vec_push_fast(&v, &i);
        }
        t_fail_off();
        assert_int_equal(e, EIO);
        assert_int_equal(v.len, len);
        assert_int_equal(v.cap, cap);
        assert_int_equal(da_arena_error(da_vec_arena(&v)), EIO);
        uint64_t x = 0;
        assert_int_equal(da_vec_push(&v, &x), DA_EPOISONED);
        assert_int_equal(da_vec_close(&v), EIO);
    }
}

/* Bulk extend by pwrite, and by stores when pwrite fails: the contents are
 * right through the mapping, and no error sticks. */
static void bulk_extend_by_pwrite_and_fallback(void **state)
{
    (void)state;
    static uint64_t chunk[CHUNK];
    for (int fail = 0; fail < 2; fail++) {
        da_vec v;
        assert_int_equal(da_vec_init(&v, sizeof(uint64_t), NULL), 0);
        if (fail)
            t_fail_always("diskalloc/pwrite", EIO);
        for (size_t at = 0; at < N / 4; at += CHUNK) {
            for (size_t i = 0; i < CHUNK; i++)
                chunk[i] = at + i;
            assert_int_equal(da_vec_extend(&v, chunk, CHUNK), 0);
        }
        t_fail_off();
        assert_true(holds_index(&v, N / 4));
        assert_int_equal(da_arena_error(da_vec_arena(&v)), 0);
        /* popped and regrown: those pages were stored into, so stores again */
        uint64_t out;
        assert_int_equal(da_vec_pop(&v, &out), 0);
        assert_int_equal(out, N / 4 - 1);
        assert_int_equal(da_vec_extend(&v, chunk + CHUNK - 1, 1), 0);
        assert_true(holds_index(&v, N / 4));
        assert_int_equal(da_vec_close(&v), 0);
    }
}

/* Advice: bits checked, nothing changes, refused in a forked child. */
static void advice(void **state)
{
    (void)state;
    da_vec v;
    assert_int_equal(da_vec_init(&v, sizeof(uint64_t), NULL), 0);
    assert_int_equal(da_vec_advise(&v, DA_ADVICE_SEQUENTIAL), 0); /* capacity 0: a no-op */
    push_index(&v, 0, N / 8);
    assert_int_equal(da_vec_advise(NULL, 0), DA_EINVAL);
    assert_int_equal(da_vec_advise(&v, 16), DA_EINVAL);
    assert_int_equal(da_vec_advise(&v, DA_ADVICE_SEQUENTIAL | DA_ADVICE_RANDOM), DA_EINVAL);
    assert_int_equal(da_vec_advise(&v, DA_ADVICE_WILLNEED | DA_ADVICE_DONTNEED), DA_EINVAL);
    size_t cap = v.cap;
    const unsigned good[] = {DA_ADVICE_SEQUENTIAL | DA_ADVICE_WILLNEED, DA_ADVICE_RANDOM,
                             DA_ADVICE_NORMAL | DA_ADVICE_DONTNEED, DA_ADVICE_NORMAL};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        assert_int_equal(da_vec_advise(&v, good[i]), 0);
        assert_true(holds_index(&v, N / 8));
    }
    assert_int_equal(v.cap, cap);
    assert_int_equal(da_vec_sync(&v), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        t_child_init();
        t_child_exit(da_vec_advise(&v, DA_ADVICE_RANDOM) == DA_EFORKED ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    t_assert_child_ok(status, "da_vec_advise in a forked child");
    assert_int_equal(da_vec_close(&v), 0);
    da_vec z;
    memset(&z, 0, sizeof z);
    assert_int_equal(da_vec_advise(&z, 0), DA_EINVAL);
}

/* DISKALLOC_WRITEBEHIND: "off" and an unparsable value turn it off (no
 * eviction), a size sets it. */
static void writebehind_setting(void **state)
{
    (void)state;
    const char *offs[] = {"off", "1 x"};
    for (int i = 0; i < 2; i++) {
        setenv("DISKALLOC_WRITEBEHIND", offs[i], 1);
        da_vec v;
        assert_int_equal(da_vec_init(&v, sizeof(uint64_t), NULL), 0);
        t_count("diskalloc/msync");
        push_index(&v, 0, N / 2);
        assert_int_equal(t_reached("diskalloc/msync"), 0);
        t_fail_off();
        assert_int_equal(da_vec_close(&v), 0);
    }
}

/* Small steps: a threshold of one page (the lag behind the end is then as
 * long as the vector), and regrowth after a shrink, one page at a time,
 * behind what was evicted before. */
static void write_behind_small_steps(void **state)
{
    (void)state;
    setenv("DISKALLOC_WRITEBEHIND", "4K", 1);
    da_vec v;
    assert_int_equal(da_vec_init(&v, sizeof(uint64_t), NULL), 0);
    assert_int_equal(da_vec_try_reserve_exact(&v, 512), 0); /* one page, full below */
    push_index(&v, 0, 512);
    assert_int_equal(da_vec_try_reserve_exact(&v, 1), 0); /* write-behind of that page */
    push_index(&v, 512, 600);
    assert_int_equal(da_vec_close(&v), 0);

    setenv("DISKALLOC_WRITEBEHIND", "64K", 1);
    assert_int_equal(da_vec_init(&v, sizeof(uint64_t), NULL), 0);
    push_index(&v, 0, 65536);
    da_vec_truncate(&v, 8192);
    assert_int_equal(da_vec_shrink_to_fit(&v), 0);
    for (uint64_t i = 8192; i < 8192 + 4 * 512; i++) {
        if (v.len == v.cap)
            assert_int_equal(da_vec_try_reserve_exact(&v, 1), 0);
        assert_int_equal(da_vec_push(&v, &i), 0);
    }
    assert_true(holds_index(&v, 8192 + 4 * 512));
    assert_int_equal(da_vec_close(&v), 0);
}

/* Bulk extends that must use stores: from the vector's own spare capacity
 * (inside the mapping), and in a shared arena. */
static void bulk_extend_by_stores(void **state)
{
    (void)state;
    da_vec v;
    assert_int_equal(da_vec_init(&v, sizeof(uint64_t), NULL), 0);
    push_index(&v, 0, 10);
    assert_int_equal(da_vec_try_reserve_exact(&v, 3 * CHUNK), 0);
    /* the spare capacity holds zeros: CHUNK of them, read from the mapping */
    assert_int_equal(da_vec_extend(&v, (uint64_t *)v.data + v.len + CHUNK, CHUNK), 0);
    assert_int_equal(v.len, 10 + CHUNK);
    assert_int_equal(*(uint64_t *)da_vec_at(&v, 10 + CHUNK - 1), 0);
    assert_int_equal(da_vec_close(&v), 0);

    static uint64_t chunk[CHUNK];
    for (size_t i = 0; i < CHUNK; i++)
        chunk[i] = i;
    da_arena *a;
    assert_int_equal(da_arena_open(&a, NULL), 0);
    assert_int_equal(da_vec_init_in(&v, sizeof(uint64_t), a), 0);
    assert_int_equal(da_vec_extend(&v, chunk, CHUNK), 0);
    assert_true(holds_index(&v, CHUNK));
    assert_int_equal(da_vec_close(&v), 0);
    assert_int_equal(da_arena_close(a), 0);
}

/* WILLNEED on a vector with capacity but no elements reads nothing in. */
static void willneed_on_empty(void **state)
{
    (void)state;
    da_vec v;
    assert_int_equal(da_vec_init(&v, sizeof(uint64_t), NULL), 0);
    assert_int_equal(da_vec_try_reserve(&v, 100), 0);
    assert_int_equal(da_vec_advise(&v, DA_ADVICE_WILLNEED), 0);
    assert_int_equal(v.len, 0);
    assert_int_equal(da_vec_close(&v), 0);
    setenv("DISKALLOC_WRITEBEHIND", "", 1); /* empty: the default, a quarter of RAM */
    assert_int_equal(da_vec_init(&v, sizeof(uint64_t), NULL), 0);
    push_index(&v, 0, 1000);
    assert_int_equal(da_vec_close(&v), 0);
}

int main(void)
{
    t_main_init();
    const char *elems = getenv("STREAM_ELEMS");
    if (elems && strtoull(elems, NULL, 10) >= ((size_t)1 << 17))
        N = (size_t)strtoull(elems, NULL, 10);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(write_behind_evicts_and_reads_back),
        T(write_behind_error_is_sticky),
        T(bulk_extend_by_pwrite_and_fallback),
        T(advice),
        T(writebehind_setting),
        T(write_behind_small_steps),
        T(bulk_extend_by_stores),
        T(willneed_on_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
