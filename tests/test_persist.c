/* Persistent vectors: create and reopen; a process killed at any moment
 * reopens with the length and bytes of its last successful sync; two header
 * copies (a corrupt one loses to the other); DA_EBADFILE for files of another
 * element size, garbage, truncated data, non-regular files; one handle at a
 * time (EWOULDBLOCK in this and in another process); symlinks refused with
 * ELOOP; mode 0600. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t page;

typedef struct files {
    char dir[PATH_MAX], path[PATH_MAX + 16], other[PATH_MAX + 16], saved[PATH_MAX + 16];
} files;

static int setup(void **state)
{
    files *f = calloc(1, sizeof *f);
    t_scratch(f->dir, sizeof f->dir);
    snprintf(f->path, sizeof f->path, "%s/v.davec", f->dir);
    snprintf(f->other, sizeof f->other, "%s/w.davec", f->dir);
    snprintf(f->saved, sizeof f->saved, "%s/saved.davec", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    files *f = *state;
    t_rm_rf(f->dir);
    free(f);
    return 0;
}

static uint64_t value(uint64_t i) { return i * 0x9E3779B97F4A7C15ull + 1; }

/* Push values [from, to); in a child too, so it returns an error code. */
static int push_range(da_vec *v, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++) {
        uint64_t x = value(i);
        int e = da_vec_push(v, &x);
        if (e)
            return e;
    }
    return 0;
}

static void assert_values(const da_vec *v, size_t len)
{
    assert_int_equal(v->len, len);
    for (size_t i = 0; i < len; i++)
        if (*(uint64_t *)da_vec_at(v, i) != value(i))
            fail_msg("element %zu of %zu does not hold its value", i, len);
}

static void reopen_expect(const char *path, size_t len)
{
    da_vec v;
    assert_int_equal(da_vec_open(&v, path, 8, NULL), 0);
    assert_values(&v, len);
    assert_int_equal(da_vec_close(&v), 0);
}

static void create_and_reopen(void **state)
{
    files *f = *state;
    da_vec v;
    mode_t old = umask(0);
    int e = da_vec_open(&v, f->path, 8, NULL);
    umask(old);
    assert_int_equal(e, 0);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(v.len, 0);
    assert_int_equal((uintptr_t)v.data % page, 0); /* page-aligned data after the header */
    assert_ptr_not_equal(v.data, da_arena_base(da_vec_arena(&v)));
    assert_int_equal(push_range(&v, 0, 5000), 0);
    assert_int_equal(da_vec_sync(&v), 0);
    assert_int_equal(da_vec_close(&v), 0);
    reopen_expect(f->path, 5000);

    /* close syncs: what was pushed after the last explicit sync is kept */
    assert_int_equal(da_vec_open(&v, f->path, 8, NULL), 0);
    assert_true(v.cap >= v.len);
    assert_int_equal(push_range(&v, 5000, 5001), 0);
    assert_int_equal(da_vec_close(&v), 0);
    reopen_expect(f->path, 5001);
}

/* A file whose creation was cut short (all zeros) starts afresh. */
static void zero_file_starts_afresh(void **state)
{
    files *f = *state;
    static const char zeros[100];
    t_write_file(f->path, zeros, sizeof zeros);
    reopen_expect(f->path, 0);
    t_write_file(f->path, zeros, 0);
    reopen_expect(f->path, 0);
}

struct kill_plan { const char *path; uint64_t synced, unsynced; int shrink_to, sync_first; };

/* Push, sync at plan->synced, push more, optionally truncate + shrink, die. */
static int push_sync_die(void *arg)
{
    const struct kill_plan *p = arg;
    da_config c = t_config((size_t)1 << 20, NULL); /* valgrind scans a dying process */
    da_vec v;
    C_CHECK(da_vec_open(&v, p->path, 8, &c) == 0);
    C_CHECK(push_range(&v, v.len, p->synced) == 0);
    C_CHECK(da_vec_sync(&v) == 0);
    C_CHECK(push_range(&v, p->synced, p->synced + p->unsynced) == 0);
    if (p->shrink_to >= 0) {
        da_vec_truncate(&v, (size_t)p->shrink_to);
        if (p->sync_first)
            C_CHECK(da_vec_sync(&v) == 0);
        C_CHECK(da_vec_shrink_to_fit(&v) == 0);
    }
    raise(SIGKILL);
    return 1;
}

static void killed_reopens_at_last_sync(void **state)
{
    files *f = *state;
    struct kill_plan plans[] = {
        {f->path, 0, 700, -1, 0},     /* killed before anything was synced */
        {f->path, 1000, 0, -1, 0},    /* right after a sync */
        {f->path, 3000, 2500, -1, 0}, /* with unsynced appends in flight */
    };
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++) {
        int status = t_child(push_sync_die, &plans[i]);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        reopen_expect(f->path, plans[i].synced);
    }
}

/* shrink_to_fit writes no header (issue 9, C5): below the synced length it
 * keeps what the last sync covers, so the durable header never claims more
 * than the file holds, and a kill reopens at that sync. */
static void killed_after_shrink(void **state)
{
    files *f = *state;
    struct kill_plan p = {f->path, 10000, 0, 10, 0};
    int status = t_child(push_sync_die, &p);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_true(t_path_size(f->path) >= (long long)(10000 * 8));
    reopen_expect(f->path, 10000);
    unlink(f->path);
    struct kill_plan q = {f->path, 10000, 0, 10, 1};
    status = t_child(push_sync_die, &q);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_true(t_path_size(f->path) <= (long long)(2 * page + 8192));
    reopen_expect(f->path, 10);
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

static size_t reopen_len(const char *path, int *err)
{
    da_vec v;
    *err = da_vec_open(&v, path, 8, NULL);
    size_t len = v.len;
    if (*err == 0) {
        assert_values(&v, len);
        assert_int_equal(da_vec_close(&v), 0);
    }
    return len;
}

/* The header is written in two copies, alternately: at 0 and 512 in format 1,
 * at 0 and 4096 in format 2 (issue 9, C11).  A file whose copies hold
 * lengths 10 and 20: each copy alone opens at its length; both corrupt is
 * DA_EBADFILE. */
static void two_header_copies(void **state)
{
    files *f = *state;
    da_vec v;
    assert_int_equal(da_vec_open(&v, f->path, 8, NULL), 0);
    assert_int_equal(push_range(&v, 0, 10), 0);
    assert_int_equal(da_vec_sync(&v), 0);
    assert_int_equal(push_range(&v, 10, 20), 0);
    assert_int_equal(da_vec_sync(&v), 0);
    t_copy_file(f->path, f->saved); /* the state of two syncs, before close writes a third */
    assert_int_equal(da_vec_close(&v), 0);

    uint32_t version;
    int fd = open(f->saved, O_RDONLY | O_CLOEXEC);
    assert_int_equal(pread(fd, &version, 4, 8), 4);
    close(fd);
    off_t slot_b = version == 1 ? 512 : 4096;

    int e;
    t_copy_file(f->saved, f->other);
    assert_int_equal(reopen_len(f->other, &e), 20);
    assert_int_equal(e, 0);
    size_t len[2];
    for (int slot = 0; slot < 2; slot++) {
        t_copy_file(f->saved, f->other);
        flip_byte(f->other, slot * slot_b + 24);
        len[slot] = reopen_len(f->other, &e);
        assert_int_equal(e, 0);
    }
    if (!((len[0] == 10 && len[1] == 20) || (len[0] == 20 && len[1] == 10)))
        fail_msg("with one copy corrupt the file opened at %zu and %zu, not 10 and 20", len[0],
                 len[1]);

    t_copy_file(f->saved, f->other);
    flip_byte(f->other, 24);
    flip_byte(f->other, slot_b + 24);
    uint64_t h = t_path_hash(f->other);
    t_snap s;
    t_snap_take(&s, NULL, NULL);
    reopen_len(f->other, &e);
    assert_int_equal(e, DA_EBADFILE);
    t_snap_same(&s, NULL, NULL);
    assert_true(t_path_hash(f->other) == h); /* a refused file is not touched */
}

static void expect_badfile(const char *path, size_t elem_size)
{
    da_vec v;
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    uint64_t h = S_ISREG(st.st_mode) ? t_path_hash(path) : 0; /* a FIFO's open would block */
    long long size = t_path_size(path);
    t_snap s;
    t_snap_take(&s, NULL, NULL);
    assert_int_equal(da_vec_open(&v, path, elem_size, NULL), DA_EBADFILE);
    assert_null(v.data);
    assert_null(da_vec_arena(&v));
    t_snap_same(&s, NULL, NULL);
    assert_true(!S_ISREG(st.st_mode) || t_path_hash(path) == h);
    assert_int_equal(t_path_size(path), size);
}

static void bad_files(void **state)
{
    files *f = *state;
    da_vec v;
    assert_int_equal(da_vec_open(&v, f->path, 8, NULL), 0);
    assert_int_equal(push_range(&v, 0, 10000), 0);
    assert_int_equal(da_vec_close(&v), 0);
    expect_badfile(f->path, 4);  /* another element size */
    expect_badfile(f->path, 16);
    reopen_expect(f->path, 10000); /* and the file is still good */

    /* data shorter than the header's length */
    assert_int_equal(truncate(f->path, (off_t)(page + 8 * 100)), 0);
    expect_badfile(f->path, 8);

    unsigned char junk[3 * 4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 7 + (i >> 5));
    t_write_file(f->path, junk, sizeof junk); /* garbage */
    expect_badfile(f->path, 8);
    t_write_file(f->path, "hello", 5); /* short, not zeros */
    expect_badfile(f->path, 8);

    assert_int_equal(mkfifo(f->other, 0600), 0); /* not a regular file */
    expect_badfile(f->other, 8);
}

static void larger_than_reserve(void **state)
{
    files *f = *state;
    da_vec v;
    assert_int_equal(da_vec_open(&v, f->path, 8, NULL), 0);
    assert_int_equal(push_range(&v, 0, 3 * page / 8), 0);
    assert_int_equal(da_vec_close(&v), 0);
    da_config c = t_config(2 * page, NULL);
    t_snap s;
    t_snap_take(&s, NULL, NULL);
    assert_int_equal(da_vec_open(&v, f->path, 8, &c), DA_ECAPACITY);
    t_snap_same(&s, NULL, NULL);
    reopen_expect(f->path, 3 * page / 8);
}

static int open_expect(void *arg)
{
    const char *path = ((const char **)arg)[0], *want = ((const char **)arg)[1];
    da_vec v;
    int e = da_vec_open(&v, path, 8, NULL);
    if (e == 0)
        C_CHECK(da_vec_close(&v) == 0);
    C_CHECK(e == atoi(want));
    return 0;
}

static void one_handle_at_a_time(void **state)
{
    files *f = *state;
    da_vec v, w;
    /* small: the children inherit this mapping, and valgrind scans it at their exit */
    da_config small = t_config((size_t)1 << 20, NULL);
    assert_int_equal(da_vec_open(&v, f->path, 8, &small), 0);
    assert_int_equal(push_range(&v, 0, 100), 0);
    t_snap s;
    t_snap_take(&s, da_vec_arena(&v), &v);
    assert_int_equal(da_vec_open(&w, f->path, 8, NULL), EWOULDBLOCK);
    assert_null(da_vec_arena(&w));
    /* nor through a descriptor of the caller's */
    int fd = open(f->path, O_RDWR | O_CLOEXEC);
    da_arena *a;
    assert_int_equal(da_arena_open_fd(&a, fd, NULL), EWOULDBLOCK);
    close(fd);
    t_snap_same(&s, da_vec_arena(&v), &v);

    char code[16];
    snprintf(code, sizeof code, "%d", EWOULDBLOCK);
    const char *args[2] = {f->path, code};
    t_assert_child_ok(t_child(open_expect, args), "second open from another process");

    assert_int_equal(push_range(&v, 100, 200), 0); /* the holder is unaffected */
    assert_int_equal(da_vec_close(&v), 0);
    args[1] = "0";
    t_assert_child_ok(t_child(open_expect, args), "open after the holder closed");
    reopen_expect(f->path, 200);
}

static void symlink_refused(void **state)
{
    files *f = *state;
    da_vec v;
    assert_int_equal(da_vec_open(&v, f->path, 8, NULL), 0);
    assert_int_equal(push_range(&v, 0, 10), 0);
    assert_int_equal(da_vec_close(&v), 0);
    assert_int_equal(symlink(f->path, f->other), 0);
    uint64_t h = t_path_hash(f->path);
    t_snap s;
    t_snap_take(&s, NULL, NULL);
    assert_int_equal(da_vec_open(&v, f->other, 8, NULL), ELOOP);
    t_snap_same(&s, NULL, NULL);
    assert_true(t_path_hash(f->path) == h);
    /* a dangling link is not followed to create its target either */
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(da_vec_open(&v, f->other, 8, NULL), ELOOP);
    assert_int_equal(t_path_size(f->path), -1);
}

int main(void)
{
    t_main_init();
    page = (size_t)sysconf(_SC_PAGESIZE);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(create_and_reopen),
        T(zero_file_starts_afresh),
        T(killed_reopens_at_last_sync),
        T(killed_after_shrink),
        T(two_header_copies),
        T(bad_files),
        T(larger_than_reserve),
        T(one_handle_at_a_time),
        T(symlink_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
