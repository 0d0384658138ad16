/* da_vec_shrink_to_fit (contract C5 of issue 9): it never writes a header;
 * a persistent vector's file keeps max(len, last synced length) rounded up
 * to a page; a failed truncation is returned with nothing changed (capacity,
 * file size, the durable header), also at len 0, for temp and persistent
 * vectors alike. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t page;

typedef struct files {
    char dir[PATH_MAX], path[PATH_MAX + 16], saved[PATH_MAX + 16];
    da_vec v; /* closed by the teardown too: a failed check leaves no arena mapped */
} files;

static int setup(void **state)
{
    files *f = calloc(1, sizeof *f);
    t_scratch(f->dir, sizeof f->dir);
    snprintf(f->path, sizeof f->path, "%s/v.davec", f->dir);
    snprintf(f->saved, sizeof f->saved, "%s/crash.davec", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    files *f = *state;
    t_fail_off();
    da_vec_close(&f->v);
    t_rm_rf(f->dir);
    free(f);
    return 0;
}

static uint64_t value(uint64_t i) { return i * 0x9E3779B97F4A7C15ull + 7; }

static void push_range(da_vec *v, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++) {
        uint64_t x = value(i);
        assert_int_equal(da_vec_push(v, &x), 0);
    }
}

/* Reopen path: its length and each element; the length, or -1 when the
 * open fails (reported). */
static long long reopen_len(const char *path)
{
    da_vec v;
    int e = da_vec_open(&v, path, 8, NULL);
    if (e != 0) {
        print_error("reopen of %s: %d (%s)\n", path, e, da_strerror(e));
        return -1;
    }
    long long len = (long long)v.len;
    for (size_t i = 0; i < v.len; i++)
        if (*(uint64_t *)da_vec_at(&v, i) != value(i))
            fail_msg("%s: element %zu of %zu does not hold its value", path, i, v.len);
    assert_int_equal(da_vec_close(&v), 0);
    return len;
}

static size_t data_off(const da_vec *v)
{
    return (size_t)((char *)v->data - (char *)da_arena_base(da_vec_arena(v)));
}

static uint64_t head_hash(const da_vec *v)
{
    return t_hash(da_arena_base(da_vec_arena(v)), data_off(v));
}

/* Whichever call the core shrinks a file with, it fails. */
static void fail_truncation(void)
{
    t_fail_always("diskalloc/ftruncate", EIO);
    t_fail_always("diskalloc/fallocate", EIO);
}

/* 2000 synced elements, truncated to 10: shrink_to_fit's truncation fails.
 * The call reports it, changes nothing, and the file a crash leaves
 * reopens with the 2000 synced elements. */
static void persistent_failed_shrink_changes_nothing(void **state)
{
    files *f = *state;
    da_vec *v = &f->v;
    assert_int_equal(da_vec_open(v, f->path, 8, NULL), 0);
    push_range(v, 0, 2000);
    assert_int_equal(da_vec_sync(v), 0);
    da_vec_truncate(v, 10);
    t_snap s;
    t_snap_take(&s, da_vec_arena(v), v);

    fail_truncation();
    int e = da_vec_shrink_to_fit(v);
    t_fail_off();
    /* the file as a kill right now leaves it: SIGKILL keeps the page cache,
     * which is what the copy reads */
    t_copy_file(f->path, f->saved);
    long long len = reopen_len(f->saved);

    if (e != EIO)
        fail_msg("shrink_to_fit with its truncation failing returned %d, want EIO", e);
    if (len != 2000)
        fail_msg("after the failed shrink_to_fit the file reopens with %lld elements, not the "
                 "2000 synced",
                 len);
    t_snap_same(&s, da_vec_arena(v), v);
    assert_int_equal(da_vec_close(v), 0);
    assert_int_equal(reopen_len(f->path), 10); /* close syncs the length it has */
}

/* A shrink that succeeds writes no header: the file keeps what the last
 * sync covers, and a crash reopens with that sync; after a sync of the
 * shorter length the next shrink releases the rest. */
static void persistent_shrink_writes_no_header(void **state)
{
    files *f = *state;
    da_vec *v = &f->v;
    assert_int_equal(da_vec_open(v, f->path, 8, NULL), 0);
    push_range(v, 0, 2000);
    assert_int_equal(da_vec_sync(v), 0);
    uint64_t head = head_hash(v);
    da_vec_truncate(v, 10);
    assert_int_equal(da_vec_shrink_to_fit(v), 0);
    if (head_hash(v) != head)
        fail_msg("shrink_to_fit wrote a header (contract C5: it never does)");
    size_t keep = data_off(v) + (2000 * 8 + page - 1) / page * page;
    if (t_path_size(f->path) != (long long)keep)
        fail_msg("file of %lld bytes after shrink_to_fit, want %zu (data offset + the synced "
                 "2000 elements, rounded up to a page)",
                 t_path_size(f->path), keep);
    assert_true(v->cap >= 2000);
    t_copy_file(f->path, f->saved);
    assert_int_equal(reopen_len(f->saved), 2000);

    assert_int_equal(da_vec_sync(v), 0);
    assert_int_equal(da_vec_shrink_to_fit(v), 0);
    assert_int_equal(t_path_size(f->path), (long long)(data_off(v) + page));
    assert_int_equal(da_vec_close(v), 0);
    assert_int_equal(reopen_len(f->path), 10);
}

/* The truncation of an empty vector's file fails: reported (EIO), nothing
 * changed; without the failure the retry releases the whole block. */
static void len0_shrink_fails_then_works(da_vec *v, const char *what)
{
    assert_int_equal(v->len, 0);
    t_snap s;
    t_snap_take(&s, da_vec_arena(v), v);
    fail_truncation();
    int e = da_vec_shrink_to_fit(v);
    t_fail_off();
    if (e != EIO)
        fail_msg("%s, len 0: shrink_to_fit with its truncation failing returned %d, want EIO",
                 what, e);
    t_snap_same(&s, da_vec_arena(v), v);
    assert_int_equal(da_vec_shrink_to_fit(v), 0);
    assert_int_equal(v->cap, 0);
}

/* len 0: the truncation to nothing fails; it is reported, nothing changed,
 * and a retry once the failure is gone releases the space. */
static void temp_len0_failed_shrink_reported(void **state)
{
    files *f = *state;
    da_config c = t_config((size_t)64 << 20, NULL);
    da_vec *v = &f->v;
    assert_int_equal(da_vec_init(v, 8, &c), 0);
    push_range(v, 0, 1000);
    da_vec_truncate(v, 0);
    len0_shrink_fails_then_works(v, "temp vector");
    assert_int_equal(da_arena_size(da_vec_arena(v)), 0);
    push_range(v, 0, 10); /* and it still grows */
    assert_int_equal(da_vec_close(v), 0);
}

static void persistent_len0_failed_shrink_reported(void **state)
{
    files *f = *state;
    da_vec *v = &f->v;
    assert_int_equal(da_vec_open(v, f->path, 8, NULL), 0);
    push_range(v, 0, 1000);
    assert_int_equal(da_vec_sync(v), 0);
    da_vec_truncate(v, 0);
    assert_int_equal(da_vec_sync(v), 0); /* durable length 0: all data may go */
    len0_shrink_fails_then_works(v, "persistent vector");
    assert_int_equal(t_path_size(f->path), (long long)data_off(v));
    assert_int_equal(da_vec_close(v), 0);
    assert_int_equal(reopen_len(f->path), 0);
}

int main(void)
{
    t_main_init();
    page = (size_t)sysconf(_SC_PAGESIZE);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(persistent_failed_shrink_changes_nothing),
        T(persistent_shrink_writes_no_header),
        T(temp_len0_failed_shrink_reported),
        T(persistent_len0_failed_shrink_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
