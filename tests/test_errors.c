/* Errors: da_strerror for every code of both kinds, DA_EINVAL from every
 * call, and the system errors of the open calls produced for real (missing,
 * unwritable, read-only and over-long directories, descriptor and address
 * space limits).  Errors of growth (ENOSPC, EFBIG, ENOMEM exhaustion) are in
 * test_limits, sync errors in test_sync, persistent-file errors in
 * test_persist, and every fail point in test_failpoints. */
#include "common.h"
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* The text names the code, then says more: what happened and what to do. */
static void assert_cause_and_remedy(const char *msg, const char *name)
{
    assert_non_null(msg);
    const char *at = strstr(msg, name);
    if (!at)
        fail_msg("da_strerror text does not name %s: \"%s\"", name, msg);
    const char *rest = at + strlen(name);
    rest += strspn(rest, ")/:;, ");
    if (strlen(rest) < 16 || !strchr(rest, '.'))
        fail_msg("da_strerror(%s) says nothing after naming the code: \"%s\"", name, msg);
}

static void strerror_own_codes(void **state)
{
    (void)state;
    static const struct { int code; const char *name; } own[] = {
        {DA_ECAPACITY, "DA_ECAPACITY"}, {DA_EOVERFLOW, "DA_EOVERFLOW"},
        {DA_EBADFILE, "DA_EBADFILE"},   {DA_EPOISONED, "DA_EPOISONED"},
        {DA_EEMPTY, "DA_EEMPTY"},       {DA_EINVAL, "DA_EINVAL"},
    };
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        assert_true(own[i].code < 0);
        assert_cause_and_remedy(da_strerror(own[i].code), own[i].name);
        for (size_t j = 0; j < i; j++) /* one text per code */
            assert_string_not_equal(da_strerror(own[i].code), da_strerror(own[j].code));
    }
    assert_string_equal(da_strerror(0), "success");
    assert_non_null(strstr(da_strerror(-1), "unknown diskalloc error"));
    assert_non_null(strstr(da_strerror(INT_MIN), "unknown diskalloc error"));
}

static void strerror_system_codes(void **state)
{
    (void)state;
    static const struct { int code; const char *name; } sys[] = {
        {ENOSPC, "ENOSPC"}, {EDQUOT, "EDQUOT"}, {EFBIG, "EFBIG"},   {EIO, "EIO"},
        {EWOULDBLOCK, "EWOULDBLOCK"}, {EINTR, "EINTR"}, {EACCES, "EACCES"}, {EPERM, "EPERM"},
        {EROFS, "EROFS"},   {ENOENT, "ENOENT"}, {ENOTDIR, "ENOTDIR"}, {ELOOP, "ELOOP"},
        {EMFILE, "EMFILE"}, {ENFILE, "ENFILE"}, {EINVAL, "EINVAL"}, {EOPNOTSUPP, "EOPNOTSUPP"},
        {ENAMETOOLONG, "ENAMETOOLONG"}, {ENOMEM, "ENOMEM"},
    };
    for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
        assert_cause_and_remedy(da_strerror(sys[i].code), sys[i].name);
    /* others pass through to strerror's text, which stays valid until the
     * next da_strerror call even if strerror is called in between
     * (regression: glibc frees its "Unknown error" buffer on the next call) */
    char want[128];
    snprintf(want, sizeof want, "%s", strerror(4000));
    const char *msg = da_strerror(4000);
    assert_non_null(strerror(4001));
    assert_string_equal(msg, want);
    snprintf(want, sizeof want, "%s", strerror(EXDEV));
    assert_string_equal(da_strerror(EXDEV), want);
}

/* A reservation no address space can hold: mmap's ENOMEM, for real. */
static void enomem_names_count_and_bytes(void **state)
{
    (void)state;
    if (t_under_valgrind()) /* its address-space manager takes minutes over 2^62 bytes */
        T_SKIP("valgrind cannot try a 2^62-byte reservation in reasonable time");
    const size_t huge = (size_t)1 << 62;
    da_config big = t_config(huge, NULL);
    da_arena *held, *a = (da_arena *)&a;
    t_snap s;
    assert_int_equal(da_arena_open(&held, NULL), 0);
    t_snap_take(&s, NULL, NULL);
    assert_int_equal(da_arena_open(&a, &big), ENOMEM);
    assert_null(a);
    t_snap_same(&s, NULL, NULL);
    const char *msg = da_strerror(ENOMEM);
    assert_non_null(strstr(msg, "address space exhausted"));
    assert_non_null(strstr(msg, "4611686018427387904 bytes"));
    assert_non_null(strstr(msg, "holds 1 arenas"));
    assert_cause_and_remedy(msg, "ENOMEM");

    /* the persistent and fd opens say the same */
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v", dir);
    da_vec v;
    assert_int_equal(da_vec_open(&v, path, 8, &big), ENOMEM);
    assert_null(v.data);
    assert_non_null(strstr(da_strerror(ENOMEM), "4611686018427387904 bytes"));
    assert_int_equal(t_path_size(path), -1); /* the failed open removed what it created (C6) */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(da_arena_open_fd(&a, fd, &big), ENOMEM);
    close(fd);
    t_snap_same(&s, NULL, NULL);

    /* a later successful open forgets the failed reservation */
    da_arena *b;
    assert_int_equal(da_arena_open(&b, NULL), 0);
    assert_null(strstr(da_strerror(ENOMEM), "address space exhausted"));
    assert_int_equal(da_arena_close(b), 0);
    assert_int_equal(da_arena_close(held), 0);
    t_rm_rf(dir);
}

static void einval_arena_calls(void **state)
{
    (void)state;
    da_arena *a = (da_arena *)&a;
    da_config bad_flags = {0, NULL, 0x80};
    t_snap s;
    t_snap_take(&s, NULL, NULL);
    assert_int_equal(da_arena_open(NULL, NULL), DA_EINVAL);
    assert_int_equal(da_arena_open(&a, &bad_flags), DA_EINVAL);
    assert_null(a);
    assert_int_equal(da_arena_open_fd(NULL, 0, NULL), DA_EINVAL);
    assert_int_equal(da_arena_open_fd(&a, -1, NULL), DA_EINVAL);   /* EBADF */
    assert_int_equal(da_arena_open_fd(&a, 1000, NULL), DA_EINVAL); /* EBADF */
    int dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), p[2];
    assert_int_equal(pipe(p), 0);
    t_snap_take(&s, NULL, NULL);
    assert_int_equal(da_arena_open_fd(&a, dfd, NULL), DA_EINVAL); /* not a regular file */
    assert_int_equal(da_arena_open_fd(&a, p[0], NULL), DA_EINVAL);
    t_snap_same(&s, NULL, NULL);
    close(dfd), close(p[0]), close(p[1]);

    assert_int_equal(da_arena_resize(NULL, 0), DA_EINVAL);
    assert_int_equal(da_arena_sync(NULL), DA_EINVAL);
    assert_int_equal(da_arena_error(NULL), DA_EINVAL);
    assert_int_equal(da_arena_close(NULL), 0);
    assert_null(da_arena_base(NULL));
    assert_int_equal(da_arena_size(NULL), 0);
    assert_int_equal(da_arena_reserved(NULL), 0);
}

static void einval_reserve_env(void **state)
{
    (void)state;
    static const char *bad[] = {"abc", "-1", "0", "12X", "1G2", "1Gx", "G",
                                "99999999999999999999", "16777216T", " -1", "+1G"};
    const char *old = getenv("DISKALLOC_RESERVE");
    char saved[64] = "";
    if (old)
        snprintf(saved, sizeof saved, "%s", old);
    da_arena *a;
    int got[sizeof bad / sizeof bad[0]];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        a = (da_arena *)&a;
        setenv("DISKALLOC_RESERVE", bad[i], 1);
        got[i] = da_arena_open(&a, NULL);
        if (got[i] == 0)
            da_arena_close(a);
        else if (a != NULL)
            got[i] = 1; /* *out not cleared */
    }
    if (*saved)
        setenv("DISKALLOC_RESERVE", saved, 1);
    else
        unsetenv("DISKALLOC_RESERVE");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (got[i] != DA_EINVAL)
            fail_msg("DISKALLOC_RESERVE=\"%s\" gave %d, not DA_EINVAL", bad[i], got[i]);
    /* an explicit reserve does not read the variable */
    da_config c = t_config((size_t)1 << 20, NULL);
    assert_int_equal(da_arena_open(&a, &c), 0);
    assert_int_equal(da_arena_reserved(a), (size_t)1 << 20);
    assert_int_equal(da_arena_close(a), 0);
    /* a reserve that cannot be rounded to a page */
    c.reserve = SIZE_MAX;
    assert_int_equal(da_arena_open(&a, &c), DA_EOVERFLOW);
    assert_null(a);
}

static void einval_allocator_calls(void **state)
{
    (void)state;
    da_arena *a;
    void *p, *q = NULL, *outside = &p;
    assert_int_equal(da_arena_open(&a, NULL), 0);
    assert_int_equal(da_alloc(a, 100, 8, &p), 0);
    t_snap s;
    t_snap_take(&s, a, NULL);
    assert_int_equal(da_alloc(NULL, 1, 1, &q), DA_EINVAL);
    assert_int_equal(da_alloc_zeroed(NULL, 1, 1, &q), DA_EINVAL);
    assert_int_equal(da_alloc(a, 1, 1, NULL), DA_EINVAL);
    assert_int_equal(da_alloc_zeroed(a, 1, 1, NULL), DA_EINVAL);
    static const size_t bad_align[] = {0, 3, 6, 100, ((size_t)1 << 40) + 1};
    for (size_t i = 0; i < sizeof bad_align / sizeof bad_align[0]; i++) {
        assert_int_equal(da_alloc(a, 1, bad_align[i], &q), DA_EINVAL);
        assert_int_equal(da_alloc_zeroed(a, 1, bad_align[i], &q), DA_EINVAL);
        assert_int_equal(da_grow(a, &p, 100, 200, bad_align[i]), DA_EINVAL);
        assert_int_equal(da_shrink(a, &p, 100, 50, bad_align[i]), DA_EINVAL);
    }
    assert_null(q);
    void *p0 = p;
    assert_int_equal(da_grow(NULL, &p, 100, 200, 8), DA_EINVAL);
    assert_int_equal(da_grow_zeroed(NULL, &p, 100, 200, 8), DA_EINVAL);
    assert_int_equal(da_grow(a, NULL, 100, 200, 8), DA_EINVAL);
    assert_int_equal(da_grow(a, &p, 100, 99, 8), DA_EINVAL);        /* not a growth */
    assert_int_equal(da_grow_zeroed(a, &p, 100, 99, 8), DA_EINVAL);
    assert_int_equal(da_shrink(a, &p, 100, 101, 8), DA_EINVAL);     /* not a shrink */
    assert_int_equal(da_shrink(NULL, &p, 100, 50, 8), DA_EINVAL);
    assert_int_equal(da_shrink(a, NULL, 100, 50, 8), DA_EINVAL);
    /* blocks this arena did not hand out */
    assert_int_equal(da_grow(a, &outside, 8, 16, 8), DA_EINVAL);
    assert_int_equal(da_shrink(a, &outside, 8, 4, 8), DA_EINVAL);
    assert_int_equal(da_grow(a, &p, 200, 300, 8), DA_EINVAL);       /* larger than handed out */
    void *inside = (char *)p + 50;
    assert_int_equal(da_grow(a, &inside, 100, 200, 8), DA_EINVAL);  /* runs past the end */
    void *past = (char *)p + 4096;
    assert_int_equal(da_shrink(a, &past, 8, 4, 8), DA_EINVAL);
    da_free(a, outside, 8);   /* ignored, like every foreign pointer */
    da_free(a, past, 8);
    da_free(NULL, p, 100);
    assert_ptr_equal(p, p0);
    t_snap_same(&s, a, NULL);
    assert_int_equal(da_arena_close(a), 0);
}

static void einval_vector_calls(void **state)
{
    (void)state;
    da_vec v, z;
    da_arena *a;
    long x = 1;
    memset(&v, 0xff, sizeof v);
    assert_int_equal(da_vec_init(NULL, 8, NULL), DA_EINVAL);
    assert_int_equal(da_vec_init(&v, 0, NULL), DA_EINVAL);
    assert_null(v.data); /* zeroed on failure */
    assert_int_equal(v.len, 0);
    assert_int_equal(da_vec_close(&v), 0);
    assert_int_equal(da_arena_open(&a, NULL), 0);
    assert_int_equal(da_vec_init_in(NULL, 8, a), DA_EINVAL);
    assert_int_equal(da_vec_init_in(&v, 0, a), DA_EINVAL);
    assert_int_equal(da_vec_init_in(&v, 8, NULL), DA_EINVAL);
    assert_int_equal(da_vec_open(NULL, "x", 8, NULL), DA_EINVAL);
    assert_int_equal(da_vec_open(&v, NULL, 8, NULL), DA_EINVAL);
    assert_int_equal(da_vec_open(&v, "/var/tmp/never-created-by-da", 0, NULL), DA_EINVAL);
    assert_int_equal(t_path_size("/var/tmp/never-created-by-da"), -1);

    /* every call on a closed (zeroed) vector or with NULL */
    memset(&z, 0, sizeof z);
    assert_int_equal(da_vec_try_reserve(&z, 1), DA_EINVAL);
    assert_int_equal(da_vec_try_reserve_exact(&z, 1), DA_EINVAL);
    assert_int_equal(da_vec_push(&z, &x), DA_EINVAL);
    assert_int_equal(da_vec_push_fast(&z, &x), DA_EINVAL);
    assert_int_equal(da_vec_extend(&z, &x, 1), DA_EINVAL);
    assert_int_equal(da_vec_pop(&z, &x), DA_EINVAL);
    assert_int_equal(da_vec_shrink_to_fit(&z), DA_EINVAL);
    assert_int_equal(da_vec_sync(&z), DA_EINVAL);
    assert_int_equal(da_vec_try_reserve(NULL, 1), DA_EINVAL);
    assert_int_equal(da_vec_pop(NULL, NULL), DA_EINVAL);
    assert_int_equal(da_vec_sync(NULL), DA_EINVAL);
    assert_int_equal(da_vec_shrink_to_fit(NULL), DA_EINVAL);
    assert_int_equal(da_vec_close(NULL), 0);
    assert_int_equal(da_vec_close(&z), 0);
    assert_null(da_vec_at(&z, 0));
    assert_null(da_vec_at(NULL, 0));
    assert_null(da_vec_arena(&z));
    assert_null(da_vec_arena(NULL));
    da_vec_truncate(NULL, 0);

    /* NULL elements on a live vector */
    assert_int_equal(da_vec_init_in(&v, sizeof x, a), 0);
    assert_int_equal(da_vec_push(&v, &x), 0);
    t_snap s;
    t_snap_take(&s, a, &v);
    assert_int_equal(da_vec_push(&v, NULL), DA_EINVAL);
    assert_int_equal(da_vec_extend(&v, NULL, 1), DA_EINVAL);
    assert_int_equal(da_vec_extend(&v, NULL, 0), 0); /* nothing to copy */
    t_snap_same(&s, a, &v);
    assert_int_equal(da_vec_close(&v), 0);
    assert_int_equal(da_arena_close(a), 0);
}

/* ENOENT, ENOTDIR, ENAMETOOLONG from the kernel, for both opens; a directory is not a vector file. */
static void open_path_errors(void **state)
{
    (void)state;
    char dir[PATH_MAX], file[PATH_MAX + 16], sub[PATH_MAX + 32];
    static char longdir[PATH_MAX + 64];
    t_scratch(dir, sizeof dir);
    snprintf(file, sizeof file, "%s/plain", dir);
    t_write_file(file, "x", 1);
    snprintf(sub, sizeof sub, "%s/x", file);
    memset(longdir, 'd', sizeof longdir - 1);
    longdir[0] = '/';

    struct { const char *dir; int err; } cases[] = {
        {"/nonexistent-da-dir", ENOENT}, {file, ENOTDIR}, {longdir, ENAMETOOLONG}};
    t_snap s;
    t_snap_take(&s, NULL, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        da_config c = t_config(0, cases[i].dir);
        da_arena *a;
        da_vec v;
        assert_int_equal(da_arena_open(&a, &c), cases[i].err);
        assert_null(a);
        assert_int_equal(da_vec_init(&v, 8, &c), cases[i].err);
        assert_null(v.arena_);
    }
    da_vec v;
    assert_int_equal(da_vec_open(&v, "/nonexistent-da-dir/v", 8, NULL), ENOENT);
    assert_int_equal(da_vec_open(&v, sub, 8, NULL), ENOTDIR);
    assert_int_equal(da_vec_open(&v, dir, 8, NULL), DA_EBADFILE); /* not a regular file (C10) */
    assert_int_equal(da_vec_open(&v, longdir, 8, NULL), ENAMETOOLONG);
    t_snap_same(&s, NULL, NULL);
    assert_int_equal(t_dir_entries(dir), 1);
    t_rm_rf(dir);
}

/* EMFILE: the descriptor limit at the lowest free descriptor. */
static void open_emfile(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int next = dup(0);
    assert_true(next > fd);
    close(next);
    t_snap s;
    t_snap_take(&s, NULL, NULL);
    low = old;
    low.rlim_cur = (rlim_t)next;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    da_arena *a = NULL;
    da_vec v;
    int e_open = da_arena_open(&a, NULL), e_fd = da_arena_open_fd(&a, fd, NULL);
    int e_vec = da_vec_open(&v, path, 8, NULL);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_int_equal(e_open, EMFILE);
    assert_int_equal(e_fd, EMFILE);
    assert_int_equal(e_vec, EMFILE);
    assert_null(a);
    t_snap_same(&s, NULL, NULL);
    assert_cause_and_remedy(da_strerror(EMFILE), "EMFILE");
    close(fd);
    t_rm_rf(dir);
}

/* A descriptor open read-only cannot carry a writable shared mapping (DA_EINVAL);
 * a directory this user may not write cannot hold the temp file. */
static void open_eacces_readonly_fd(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/data", dir);
    t_write_file(path, "caller's bytes", 14);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    t_snap s;
    t_snap_take(&s, NULL, NULL);
    da_arena *a;
    assert_int_equal(da_arena_open_fd(&a, fd, NULL), DA_EINVAL); /* read-only: not mappable */
    assert_null(a);
    t_snap_same(&s, NULL, NULL);
    assert_int_equal(t_path_size(path), 14);
    /* the failed open left no lock behind on the caller's open file */
    int other = open(path, O_RDWR | O_CLOEXEC);
    assert_true(other >= 0);
    assert_int_equal(flock(other, LOCK_EX | LOCK_NB), 0);
    close(other);
    close(fd);
    t_rm_rf(dir);
}

/* In a child: a temp arena in dir and a persistent vector there both fail. */
static int both_opens_fail(const char *dir, int err)
{
    char path[PATH_MAX + 16];
    da_config c = t_config(0, dir);
    da_arena *a;
    da_vec v;
    snprintf(path, sizeof path, "%s/v", dir);
    C_CHECK(da_arena_open(&a, &c) == err);
    C_CHECK(da_vec_open(&v, path, 8, NULL) == err);
    return 0;
}

static int unwritable_dir_child(void *arg)
{
    const char *dir = arg;
    if (geteuid() == 0) { /* root writes anywhere: become nobody */
        C_CHECK(setgid(65534) == 0);
        C_CHECK(setuid(65534) == 0);
    } else {
        C_CHECK(chmod(dir, 0500) == 0);
    }
    return both_opens_fail(dir, EACCES);
}

static void open_eacces_dir(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    t_scratch(dir, sizeof dir); /* mode 0700, owned by us */
    t_assert_child_ok(t_child(unwritable_dir_child, dir), "EACCES in a 0700 directory");
    assert_int_equal(t_dir_entries(dir), 0);
    t_rm_rf(dir);
}

static int readonly_fs_child(const char *dir, void *arg)
{
    (void)arg;
    return both_opens_fail(dir, EROFS);
}

static void open_erofs(void **state)
{
    (void)state;
    char why[256];
    int st = t_tmpfs_run("size=1m", MS_RDONLY, readonly_fs_child, NULL, why, sizeof why);
    if (st == -1)
        T_SKIP("no read-only tmpfs for EROFS: %s", why);
    t_assert_child_ok(st, "EROFS on a read-only tmpfs");
}

int main(void)
{
    t_main_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strerror_own_codes),
        cmocka_unit_test(strerror_system_codes),
        cmocka_unit_test(enomem_names_count_and_bytes),
        cmocka_unit_test(einval_arena_calls),
        cmocka_unit_test(einval_reserve_env),
        cmocka_unit_test(einval_allocator_calls),
        cmocka_unit_test(einval_vector_calls),
        cmocka_unit_test(open_path_errors),
        cmocka_unit_test(open_emfile),
        cmocka_unit_test(open_eacces_readonly_fd),
        cmocka_unit_test(open_eacces_dir),
        cmocka_unit_test(open_erofs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
