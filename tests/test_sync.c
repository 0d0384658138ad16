/* Sync errors are sticky (the lesson of PostgreSQL's fsync failures): after
 * a failed msync or fsync every later sync and close report the first error,
 * and every write through the API is refused with DA_EPOISONED, changing
 * nothing.  A failed data sync never publishes the length that covers it. */
#include "common.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t page;

/* Every write through the API, on a poisoned arena: DA_EPOISONED and no
 * change (v may share the arena with the block at *blk of blk_size).  A
 * vector's own arena refuses the allocator calls before anything else. */
static void assert_writes_refused(da_arena *a, da_vec *v, void *blk, size_t blk_size, int own)
{
    int arena_err = own ? DA_EINVAL : DA_EPOISONED;
    uint64_t x = 1, out = 0;
    void *p = blk, *q = NULL;
    t_snap s;
    t_snap_take(&s, a, v);
    assert_true(v->len < v->cap); /* so that push_fast has its fast path available */
    assert_int_equal(da_vec_push(v, &x), DA_EPOISONED);
    assert_int_equal(da_vec_push_fast(v, &x), DA_EPOISONED);
    assert_int_equal(da_vec_extend(v, &x, 1), DA_EPOISONED);
    assert_int_equal(da_vec_extend(v, v->data, 1), DA_EPOISONED);
    assert_int_equal(da_vec_try_reserve(v, 1), DA_EPOISONED);
    assert_int_equal(da_vec_try_reserve_exact(v, 1 << 20), DA_EPOISONED);
    assert_int_equal(da_vec_pop(v, &out), DA_EPOISONED);
    assert_int_equal(da_vec_shrink_to_fit(v), DA_EPOISONED);
    assert_int_equal(da_arena_resize(a, da_arena_size(a) + page), arena_err);
    assert_int_equal(da_arena_resize(a, 0), arena_err);
    assert_int_equal(da_alloc(a, 10, 8, &q), arena_err);
    assert_int_equal(da_alloc(a, 0, 8, &q), arena_err);
    assert_int_equal(da_alloc_zeroed(a, 10, 8, &q), arena_err);
    if (blk) {
        assert_int_equal(da_grow(a, &p, blk_size, 2 * blk_size, 8), arena_err);
        assert_int_equal(da_grow_zeroed(a, &p, blk_size, 2 * blk_size, 8), arena_err);
        assert_int_equal(da_shrink(a, &p, blk_size, 1, 8), arena_err);
        assert_ptr_equal(p, blk);
    }
    assert_null(q);
    assert_int_equal(out, 0);
    t_snap_same(&s, a, v);
}

static void msync_failure_is_sticky(void **state)
{
    (void)state;
    da_vec v;
    int fds = t_fd_count(), maps = t_maps_count();
    assert_int_equal(da_vec_init(&v, 8, NULL), 0);
    for (uint64_t i = 0; i < 1000; i++)
        assert_int_equal(da_vec_push(&v, &i), 0);
    da_arena *a = da_vec_arena(&v);
    assert_int_equal(da_vec_sync(&v), 0);

    t_fail_once("diskalloc/msync", EIO);
    assert_int_equal(da_vec_sync(&v), EIO);
    assert_int_equal(da_arena_error(a), EIO);
    /* the fail point is spent: the system would succeed now, the error stays */
    assert_int_equal(da_vec_sync(&v), EIO);
    assert_int_equal(da_arena_sync(a), EIO);
    assert_writes_refused(a, &v, NULL, 0, 1);
    /* reads still work */
    for (uint64_t i = 0; i < 1000; i++)
        assert_int_equal(*(uint64_t *)da_vec_at(&v, i), i);
    assert_int_equal(da_vec_close(&v), EIO);
    assert_null(v.data);
    assert_int_equal(t_fd_count(), fds); /* gone anyway */
    assert_int_equal(t_maps_count(), maps);
}

/* fsync's errno passes through unchanged, and the first error is the one kept. */
static void fsync_failure_keeps_first_error(void **state)
{
    (void)state;
    da_arena *a;
    void *blk;
    da_vec v;
    assert_int_equal(da_arena_open(&a, NULL), 0);
    assert_int_equal(da_vec_init_in(&v, 8, a), 0);
    assert_int_equal(da_vec_try_reserve(&v, 10), 0);
    assert_int_equal(da_alloc(a, 100, 8, &blk), 0);
    t_fail_once("diskalloc/fsync", ENOSPC);
    assert_int_equal(da_arena_sync(a), ENOSPC);
    t_fail_once("diskalloc/msync", EIO); /* not even reached: nothing is retried */
    assert_int_equal(da_arena_sync(a), ENOSPC);
    assert_int_equal(da_vec_sync(&v), ENOSPC);
    t_fail_off();
    assert_int_equal(da_arena_error(a), ENOSPC);
    assert_writes_refused(a, &v, blk, 100, 0);
    assert_int_equal(da_vec_close(&v), 0); /* frees its block; the arena holds the error */
    assert_int_equal(da_arena_close(a), ENOSPC);
}

/* Persistent: a data sync that fails does not write the header. */
static void failed_persistent_sync_publishes_nothing(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v", dir);
    da_vec v;
    assert_int_equal(da_vec_open(&v, path, 8, NULL), 0);
    for (uint64_t i = 0; i < 100; i++)
        assert_int_equal(da_vec_push(&v, &i), 0);
    assert_int_equal(da_vec_sync(&v), 0);
    for (uint64_t i = 100; i < 200; i++)
        assert_int_equal(da_vec_push(&v, &i), 0);
    t_fail_once("diskalloc/msync", EIO);
    assert_int_equal(da_vec_sync(&v), EIO);
    assert_int_equal(da_arena_error(da_vec_arena(&v)), EIO);
    assert_writes_refused(da_vec_arena(&v), &v, NULL, 0, 1);
    assert_int_equal(da_vec_close(&v), EIO);

    assert_int_equal(da_vec_open(&v, path, 8, NULL), 0);
    assert_int_equal(v.len, 100); /* the last successful sync */
    for (uint64_t i = 0; i < 100; i++)
        assert_int_equal(*(uint64_t *)da_vec_at(&v, i), i);
    assert_int_equal(da_arena_error(da_vec_arena(&v)), 0); /* a new handle starts clean */
    assert_int_equal(da_vec_close(&v), 0);

    /* the header's own flush failing is reported and sticky the same way */
    assert_int_equal(da_vec_open(&v, path, 8, NULL), 0);
    uint64_t x = 7;
    assert_int_equal(da_vec_push(&v, &x), 0);
    t_fail_nth("diskalloc/msync", EIO, 2); /* 1: the data, 2: the header */
    assert_int_equal(da_vec_sync(&v), EIO);
    t_fail_off();
    assert_int_equal(t_reached("diskalloc/msync"), 2);
    assert_int_equal(da_vec_push(&v, &x), DA_EPOISONED);
    assert_int_equal(da_vec_close(&v), EIO);
    t_rm_rf(dir);
}

int main(void)
{
    t_main_init();
    page = (size_t)sysconf(_SC_PAGESIZE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(msync_failure_is_sticky),
        cmocka_unit_test(fsync_failure_keeps_first_error),
        cmocka_unit_test(failed_persistent_sync_publishes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
