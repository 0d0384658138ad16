/* The edges of the contract that the other concerns don't reach: where the
 * configuration comes from (DISKALLOC_RESERVE, TMPDIR), a fail point armed
 * without an errno, close after a sticky error, blocks that are not the
 * arena's, the largest alignment, and every field of the
 * persistent header that can make a file DA_EBADFILE. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t page;

/* ---- configuration --------------------------------------------------------------- */

static size_t reserved_with_env(const char *value)
{
    if (value)
        setenv("DISKALLOC_RESERVE", value, 1);
    else
        unsetenv("DISKALLOC_RESERVE");
    da_arena *a;
    int e = da_arena_open(&a, NULL);
    size_t r = e == 0 ? da_arena_reserved(a) : 0;
    if (e == 0)
        assert_int_equal(da_arena_close(a), 0);
    return r;
}

static void reserve_from_env_or_default(void **state)
{
    (void)state;
    const char *saved = getenv("DISKALLOC_RESERVE");
    char keep[64] = "";
    if (saved)
        snprintf(keep, sizeof keep, "%s", saved);
    assert_int_equal(reserved_with_env("64M"), (size_t)64 << 20);
    assert_int_equal(reserved_with_env("2GiB"), (size_t)2 << 30);
    if (!t_under_valgrind()) { /* valgrind refuses a 512 GiB mapping */
        assert_int_equal(reserved_with_env(""), DA_DEFAULT_RESERVE);
        assert_int_equal(reserved_with_env(NULL), DA_DEFAULT_RESERVE);
    }
    /* what a user can mistype is DA_EINVAL, never a surprising size */
    const char *bad[] = {"x", " 1G", "-1", "1Q", "99999999999999999999", "0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("DISKALLOC_RESERVE", bad[i], 1);
        da_arena *a = (da_arena *)&page;
        assert_int_equal(da_arena_open(&a, NULL), DA_EINVAL);
        assert_null(a);
    }
    /* an explicit reserve wins over the environment */
    setenv("DISKALLOC_RESERVE", "x", 1);
    da_config c = {4 * page, NULL, 0};
    da_arena *a;
    assert_int_equal(da_arena_open(&a, &c), 0);
    assert_int_equal(da_arena_reserved(a), 4 * page);
    assert_int_equal(da_arena_close(a), 0);
    if (saved)
        setenv("DISKALLOC_RESERVE", keep, 1);
    else
        unsetenv("DISKALLOC_RESERVE");
}

/* The directory the arena's unnamed file lives in, from /proc/self/fd. */
static void arena_dir(const da_arena *a, char *out, size_t n)
{
    int fd;
    assert_int_equal(t_arena_fds(a, &fd, 1), 1);
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, target, sizeof target - 1);
    assert_true(len > 0);
    target[len] = '\0';
    *strrchr(target, '/') = '\0';
    snprintf(out, n, "%s", target);
}

static void temp_dir_from_config_tmpdir_or_var_tmp(void **state)
{
    (void)state;
    char dir[PATH_MAX], got[PATH_MAX], keep[PATH_MAX] = "";
    const char *saved = getenv("TMPDIR");
    if (saved)
        snprintf(keep, sizeof keep, "%s", saved);
    t_scratch(dir, sizeof dir);
    da_config c = t_config(4 * page, NULL);
    da_arena *a;

    setenv("TMPDIR", dir, 1);
    assert_int_equal(da_arena_open(&a, &c), 0);
    arena_dir(a, got, sizeof got);
    assert_string_equal(got, dir);
    assert_int_equal(da_arena_close(a), 0);

    const char *var_tmp[] = {"", NULL}; /* empty or unset: /var/tmp, as the crate */
    for (int i = 0; i < 2; i++) {
        if (var_tmp[i])
            setenv("TMPDIR", var_tmp[i], 1);
        else
            unsetenv("TMPDIR");
        assert_int_equal(da_arena_open(&a, &c), 0);
        arena_dir(a, got, sizeof got);
        assert_string_equal(got, "/var/tmp");
        assert_int_equal(da_arena_close(a), 0);
    }

    c.dir = dir; /* the config wins over TMPDIR */
    setenv("TMPDIR", "/nonexistent", 1);
    assert_int_equal(da_arena_open(&a, &c), 0);
    arena_dir(a, got, sizeof got);
    assert_string_equal(got, dir);
    assert_int_equal(da_arena_close(a), 0);

    if (saved)
        setenv("TMPDIR", keep, 1);
    else
        unsetenv("TMPDIR");
    assert_int_equal(t_dir_entries(dir), 0);
    t_rm_rf(dir);
}

/* Without O_TMPFILE the name is built from the directory: one too long for a
 * path is ENAMETOOLONG, not a truncated name somewhere else. */
static void fallback_name_too_long(void **state)
{
    (void)state;
    static char dir[PATH_MAX + 8];
    memset(dir, 'd', sizeof dir - 1);
    dir[0] = '/';
    dir[sizeof dir - 1] = '\0';
    da_config c = t_config(4 * page, dir);
    t_snap s;
    t_snap_take(&s, NULL, NULL);
    t_fail_once("diskalloc/open", EOPNOTSUPP);
    da_arena *a;
    assert_int_equal(da_arena_open(&a, &c), ENAMETOOLONG);
    t_fail_off();
    t_snap_same(&s, NULL, NULL);
    assert_non_null(strstr(da_strerror(ENAMETOOLONG), "too long"));
}

/* ---- fail points and sticky errors ---------------------------------------------- */

/* libfiu armed without failinfo: the call still fails, with EIO. */
static void fail_point_without_errno_is_eio(void **state)
{
    (void)state;
    da_config c = t_config(16 * page, t_fast_dir());
    da_arena *a;
    assert_int_equal(da_arena_open(&a, &c), 0);
    assert_int_equal(da_arena_resize(a, 2 * page), 0);
    t_fail_once("diskalloc/ftruncate", 0);
    assert_int_equal(da_arena_resize(a, page), EIO);
    t_fail_off();
    assert_int_equal(da_arena_size(a), 2 * page);
    assert_int_equal(da_arena_close(a), 0);
}

/* Close reports the first error: the sticky sync error over munmap's own. */
static void close_reports_first_error(void **state)
{
    (void)state;
    da_config c = t_config(16 * page, t_fast_dir());
    da_arena *a;
    assert_int_equal(da_arena_open(&a, &c), 0);
    assert_int_equal(da_arena_resize(a, page), 0);
    t_fail_once("diskalloc/msync", EIO);
    assert_int_equal(da_arena_sync(a), EIO);
    t_fail_off();
    assert_int_equal(da_arena_resize(a, 2 * page), DA_EPOISONED);
    assert_int_equal(da_arena_size(a), page);
    int maps = t_maps_count();
    t_fail_once("diskalloc/munmap", EINVAL);
    assert_int_equal(da_arena_close(a), EIO);
    t_fail_off();
    /* the injected munmap failure leaves the reservation mapped: the
     * documented cost of a failed munmap */
    assert_int_equal(t_maps_count(), maps);

    assert_int_equal(da_arena_open(&a, &c), 0);
    t_fail_once("diskalloc/munmap", EINVAL);
    assert_int_equal(da_arena_close(a), EINVAL);
    t_fail_off();
}

/* ---- the allocator's own checks ---------------------------------------------------- */

static void foreign_blocks_are_einval(void **state)
{
    (void)state;
    da_config c = t_config(64 * page, t_fast_dir());
    da_arena *a;
    assert_int_equal(da_arena_open(&a, &c), 0);
    void *p;
    assert_int_equal(da_alloc(a, 100, 8, &p), 0);

    char *heap = malloc(64), on_stack[64];
    void *below = heap, *above = on_stack, *inside = p;
    uintptr_t base = (uintptr_t)da_arena_base(a);
    /* pointers on both sides of the reservation, and a block longer than
     * what was allocated */
    void *outside[] = {(uintptr_t)below < base ? below : above,
                       (uintptr_t)above > base ? above : below};
    for (int i = 0; i < 2; i++) {
        void *q = outside[i];
        assert_int_equal(da_grow(a, &q, 8, 16, 8), DA_EINVAL);
        assert_ptr_equal(q, outside[i]);
        assert_int_equal(da_shrink(a, &q, 8, 4, 8), DA_EINVAL);
    }
    assert_int_equal(da_grow(a, &inside, 200, 400, 8), DA_EINVAL);
    assert_ptr_equal(inside, p);
    da_free(a, heap, 64); /* ignored: not the arena's */
    assert_int_equal(da_arena_size(a), page);
    free(heap);

    /* the largest alignment there is: no address in the reservation has it */
    void *q = NULL;
    assert_int_equal(da_alloc(a, 8, (size_t)1 << (sizeof(size_t) * 8 - 1), &q), DA_ECAPACITY);
    assert_null(q);
    assert_int_equal(da_arena_close(a), 0);
}

static void vector_argument_edges(void **state)
{
    (void)state;
    da_config c = t_config(64 * page, t_fast_dir());
    da_vec v;
    assert_int_equal(da_vec_init(&v, 8, &c), 0);
    assert_int_equal(da_vec_extend(&v, NULL, 0), 0); /* nothing from nowhere is fine */
    assert_int_equal(da_vec_extend(&v, NULL, 1), DA_EINVAL);
    assert_int_equal(da_vec_extend(NULL, &v, 1), DA_EINVAL);
    assert_int_equal(v.len, 0);
    assert_null(da_vec_at(NULL, 0));
    assert_null(da_vec_at(&v, 0));
    assert_int_equal(da_vec_close(&v), 0);
}

/* ---- the persistent header ------------------------------------------------------------ */

/* The on-disk header (core/diskalloc.c): written here field by field so that
 * each check the core makes on it is exercised with a valid checksum. */
typedef t_vec_header header;

static void write_vector_file(const char *path, header h, size_t file_size)
{
    h.sum = t_header_sum(&h);
    static unsigned char buf[1 << 16];
    memset(buf, 0, sizeof buf);
    memcpy(buf, &h, sizeof h);
    assert_true(file_size <= sizeof buf);
    t_write_file(path, buf, file_size);
}

static void header_fields_checked(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v.davec", dir);
    const header good = {{'D', 'A', 'V', 'E', 'C', 0, 1, 0}, 1, sizeof(header), 8, 100, 4096, 1, 0};

    da_vec v;
    write_vector_file(path, good, 4096 + 100 * 8);
    assert_int_equal(da_vec_open(&v, path, 8, NULL), 0); /* the format as written here */
    assert_int_equal(v.len, 100);
    assert_int_equal(da_vec_close(&v), 0);

    struct {
        const char *why;
        header h;
        size_t size;
    } bad[] = {
        {"another version", good, 8192},
        {"data inside the header page", good, 8192},
        {"data not page-aligned", good, 16384},
        {"data beyond the end of the file", good, 4096},
        {"a length the data does not hold", good, 4096 + 99 * 8},
    };
    bad[0].h.version = 2;
    bad[1].h.data_off = 1024;
    bad[2].h.data_off = 4096 + 512;
    bad[3].h.data_off = 8192;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_vector_file(path, bad[i].h, bad[i].size);
        long long size = t_path_size(path);
        uint64_t hash = t_path_hash(path);
        if (da_vec_open(&v, path, 8, NULL) != DA_EBADFILE)
            fail_msg("%s: not DA_EBADFILE", bad[i].why);
        assert_int_equal(t_path_size(path), size); /* a refused file is left alone */
        assert_true(t_path_hash(path) == hash);
    }
    t_rm_rf(dir);
}

int main(void)
{
    t_main_init();
    page = (size_t)sysconf(_SC_PAGESIZE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reserve_from_env_or_default),
        cmocka_unit_test(temp_dir_from_config_tmpdir_or_var_tmp),
        cmocka_unit_test(fallback_name_too_long),
        cmocka_unit_test(fail_point_without_errno_is_eio),
        cmocka_unit_test(close_reports_first_error),
        cmocka_unit_test(foreign_blocks_are_einval),
        cmocka_unit_test(vector_argument_edges),
        cmocka_unit_test(header_fields_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
