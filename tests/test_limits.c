/* Real limits, no fail points: RLIMIT_FSIZE gives EFBIG (and the core never
 * lets the kernel raise SIGXFSZ, which kills by default); a full tmpfs gives
 * ENOSPC from the growing call, never SIGBUS on a later store, and the vector
 * grows again once space is freed; address space runs out after ~255
 * reservations of 512 GiB (ENOMEM, explained by da_strerror), and under
 * RLIMIT_AS after a few. */
#include "common.h"
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define GIB ((size_t)1 << 30)

static size_t page;

static uint64_t value(uint64_t i) { return i * 0x9E3779B97F4A7C15ull ^ 0xabcdef; }

static int values_intact(const da_vec *v, size_t from)
{
    for (size_t i = from; i < v->len; i++)
        if (((const uint64_t *)v->data)[i] != value(i)) {
            fprintf(stderr, "element %zu of %zu lost its value\n", i, v->len);
            return 0;
        }
    return 1;
}

/* Push until the first error; the growing call that failed changed nothing
 * (checked cheaply at every growth: len, cap, arena size, file size). */
static int push_until_error(da_vec *v, int *err)
{
    for (;;) {
        uint64_t x = value(v->len);
        if (v->len < v->cap) {
            C_CHECK(da_vec_push_fast(v, &x) == 0);
            continue;
        }
        t_snap s;
        t_snap_take(&s, da_vec_arena(v), v);
        *err = da_vec_push(v, &x);
        if (*err) {
            char why[1024];
            if (t_snap_diff(&s, da_vec_arena(v), v, why, sizeof why)) {
                fprintf(stderr, "failed push (%d) changed: %s\n", *err, why);
                return 1;
            }
            return 0;
        }
    }
}

/* ---- RLIMIT_FSIZE ------------------------------------------------------------------ */

static int fsize_child(void *arg)
{
    void (*disposition)(int) = arg == NULL ? SIG_DFL : SIG_IGN;
    struct rlimit rl = {(rlim_t)1 << 20, (rlim_t)1 << 20};
    C_CHECK(signal(SIGXFSZ, disposition) != SIG_ERR);
    C_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    da_vec v;
    int e;
    C_CHECK(da_vec_init(&v, 8, NULL) == 0);
    C_CHECK(push_until_error(&v, &e) == 0);
    C_CHECK(e == EFBIG);
    C_CHECK(v.cap * 8 <= rl.rlim_cur);
    C_CHECK(v.len == v.cap); /* every byte up to the limit was usable */
    C_CHECK(values_intact(&v, 0));
    C_CHECK(da_arena_size(da_vec_arena(&v)) == v.cap * 8);
    C_CHECK(da_vec_try_reserve_exact(&v, 1) == EFBIG);
    C_CHECK(values_intact(&v, 0));
    C_CHECK(da_vec_close(&v) == 0);
    /* a raw arena (a vector's own arena takes no other blocks) */
    da_arena *a;
    void *p;
    C_CHECK(da_arena_open(&a, NULL) == 0);
    C_CHECK(da_arena_resize(a, (1 << 20) + 1) == EFBIG);
    C_CHECK(da_arena_size(a) == 0);
    C_CHECK(da_alloc(a, (1 << 20) + 1, 1, &p) == EFBIG);
    C_CHECK(da_arena_resize(a, 1 << 20) == 0); /* exactly the limit is allowed */
    C_CHECK(da_arena_close(a) == 0);

    /* through the zero-writing fallback too */
    t_fail_always("diskalloc/fallocate", EOPNOTSUPP);
    C_CHECK(da_vec_init(&v, 8, NULL) == 0);
    C_CHECK(push_until_error(&v, &e) == 0);
    C_CHECK(e == EFBIG);
    C_CHECK(values_intact(&v, 0));
    C_CHECK(da_vec_close(&v) == 0);
    return 0;
}

static void fsize_limit_default_sigxfsz(void **state)
{
    (void)state;
    t_assert_child_ok(t_child(fsize_child, NULL), "RLIMIT_FSIZE with SIGXFSZ at SIG_DFL");
}

static void fsize_limit_ignored_sigxfsz(void **state)
{
    (void)state;
    t_assert_child_ok(t_child(fsize_child, (void *)1), "RLIMIT_FSIZE with SIGXFSZ ignored");
}

/* ---- a full file system ----------------------------------------------------------------- */

static int fill_then_free(const char *dir, void *arg)
{
    int ballast_mode = arg != NULL;
    char ballast[PATH_MAX + 16];
    snprintf(ballast, sizeof ballast, "%s/ballast", dir);
    if (ballast_mode) {
        static char chunk[1 << 16];
        int fd = open(ballast, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        C_CHECK(fd >= 0);
        for (int i = 0; i < 16; i++)
            C_CHECK(write(fd, chunk, sizeof chunk) == (ssize_t)sizeof chunk);
        close(fd);
    }
    da_config c = t_config(0, dir);
    da_vec v;
    int e;
    C_CHECK(da_vec_init(&v, 8, &c) == 0);
    C_CHECK(push_until_error(&v, &e) == 0);
    C_CHECK(e == ENOSPC);
    C_CHECK(v.len > 100000); /* most of the 4 MiB (minus ballast) was used */
    size_t full = v.len;
    /* every store into capacity succeeded; every byte reads back */
    C_CHECK(values_intact(&v, 0));

    /* more requests on the full disk: errors, and still nothing changes */
    t_snap s;
    char why[1024];
    uint64_t x = value(v.len);
    t_snap_take(&s, da_vec_arena(&v), &v);
    C_CHECK(da_vec_try_reserve(&v, 1000) == ENOSPC);
    C_CHECK(da_vec_try_reserve_exact(&v, 1) == ENOSPC);
    C_CHECK(da_vec_extend(&v, v.data, 1000) == ENOSPC);
    C_CHECK(da_vec_push(&v, &x) == ENOSPC);
    C_CHECK(t_snap_diff(&s, da_vec_arena(&v), &v, why, sizeof why) == 0);
    C_CHECK(da_arena_error(da_vec_arena(&v)) == 0); /* not an I/O error: not sticky */

    /* free space; the same vector grows again */
    if (ballast_mode) {
        C_CHECK(unlink(ballast) == 0);
    } else {
        da_vec_truncate(&v, full / 2);
        C_CHECK(da_vec_shrink_to_fit(&v) == 0);
    }
    size_t from = v.len;
    for (uint64_t i = 0; i < 50000; i++) {
        x = value(v.len);
        C_CHECK(da_vec_push(&v, &x) == 0);
    }
    C_CHECK(values_intact(&v, 0));
    C_CHECK(v.len == from + 50000);
    C_CHECK(da_vec_close(&v) == 0);
    return 0;
}

static void run_in_tmpfs(const char *opts, int (*fn)(const char *, void *), void *arg,
                         const char *what)
{
    char why[256];
    int status = t_tmpfs_run(opts, 0, fn, arg, why, sizeof why);
    if (status == -1)
        T_SKIP("no private tmpfs to fill (%s): %s", what, why);
    t_assert_child_ok(status, what);
}

static void enospc_then_shrink_grows_again(void **state)
{
    (void)state;
    run_in_tmpfs("size=4m", fill_then_free, NULL, "ENOSPC on a 4 MiB tmpfs, then shrink");
}

static void enospc_then_ballast_freed(void **state)
{
    (void)state;
    run_in_tmpfs("size=4m", fill_then_free, (void *)1, "ENOSPC, then a ballast file deleted");
}

/* The sandbox is really full: DA_SPARSE (the seed crate's behaviour) gets its
 * reserve "granted" and the process dies of SIGBUS on a store.  This is what
 * the default mode's ENOSPC above replaces. */
static int sparse_store_dies(const char *dir, void *arg)
{
    (void)arg;
    da_config c = {(size_t)16 << 20, dir, DA_SPARSE}; /* valgrind scans a dying process */
    da_vec v;
    C_CHECK(da_vec_init(&v, 8, &c) == 0);
    C_CHECK(da_vec_try_reserve_exact(&v, (size_t)1 << 20) == 0); /* 8 MiB on 4 MiB */
    for (uint64_t i = 0; i < ((size_t)1 << 20); i++)
        C_CHECK(da_vec_push_fast(&v, &i) == 0);
    return 0; /* not reached if the store faults */
}

static void sparse_mode_dies_of_sigbus(void **state)
{
    (void)state;
    char why[256];
    int status = t_tmpfs_run("size=4m", 0, sparse_store_dies, NULL, why, sizeof why);
    if (status == -1)
        T_SKIP("no private tmpfs to fill: %s", why);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGBUS)
        fail_msg("DA_SPARSE on a full tmpfs: expected death by SIGBUS, got status %#x", status);
}

/* ---- address space ---------------------------------------------------------------------- */

enum { MAX = 1024 };
static da_arena *arenas[MAX];

/* Whatever failed, give the address space back before the next test. */
static int close_arenas(void **state)
{
    (void)state;
    for (int i = 0; i < MAX; i++) {
        da_arena_close(arenas[i]);
        arenas[i] = NULL;
    }
    return 0;
}

static void address_space_exhaustion(void **state)
{
    (void)state;
    if (t_under_valgrind())
        T_SKIP("valgrind refuses 512 GiB reservations");
    const size_t reserve = (size_t)512 * GIB;
    da_config c = t_config(reserve, NULL);
    int maps = t_maps_count(), fds = t_fd_count(), n = 0, e = 0;
    while (n < MAX && (e = da_arena_open(&arenas[n], &c)) == 0)
        n++;
    printf("# %d arenas of 512 GiB opened before ENOMEM\n", n);
    assert_int_equal(e, ENOMEM);
    assert_true(n >= 8 && n <= 256); /* 47-bit user space: at most 255 */
    assert_int_equal(t_maps_count(), maps + n);
    assert_int_equal(t_fd_count(), fds + n);

    char count[64], bytes[64];
    snprintf(count, sizeof count, "holds %d arenas", n);
    snprintf(bytes, sizeof bytes, "%zu bytes", reserve);
    const char *msg = da_strerror(ENOMEM);
    if (!strstr(msg, count) || !strstr(msg, bytes) || !strstr(msg, "address space"))
        fail_msg("da_strerror(ENOMEM) should say \"%s\", \"%s\": %s", count, bytes, msg);

    /* closing one makes room for exactly one more */
    assert_int_equal(da_arena_close(arenas[n / 2]), 0);
    assert_int_equal(da_arena_open(&arenas[n / 2], &c), 0);
    da_arena *extra;
    assert_int_equal(da_arena_open(&extra, &c), ENOMEM);
    assert_null(extra);
    /* the new arena works */
    assert_int_equal(da_arena_resize(arenas[n / 2], page), 0);
    memset(da_arena_base(arenas[n / 2]), 1, page);

    for (int i = 0; i < n; i++) {
        assert_int_equal(da_arena_close(arenas[i]), 0);
        arenas[i] = NULL;
    }
    assert_int_equal(t_maps_count(), maps);
    assert_int_equal(t_fd_count(), fds);
}

static long vm_size_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

/* With room for 3.5 reservations under RLIMIT_AS, the 4th open fails. */
static int rlimit_as_child(void *arg)
{
    (void)arg;
    const size_t reserve = (size_t)512 * GIB;
    long vm = vm_size_bytes();
    C_CHECK(vm > 0);
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = (rlim_t)vm + (rlim_t)(7 * reserve / 2);
    C_CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    da_config c = t_config(reserve, NULL);
    da_arena *a[8];
    int n = 0, e = 0;
    while (n < 8 && (e = da_arena_open(&a[n], &c)) == 0)
        n++;
    if (n != 3 || e != ENOMEM)
        fprintf(stderr, "opened %d arenas, then error %d (expected 3, then ENOMEM)\n", n, e);
    C_CHECK(n == 3 && e == ENOMEM);
    C_CHECK(strstr(da_strerror(ENOMEM), "holds 3 arenas") != NULL);
    while (n--)
        C_CHECK(da_arena_close(a[n]) == 0);
    return 0;
}

static void rlimit_as_kth_open_fails(void **state)
{
    (void)state;
    if (t_under_valgrind())
        T_SKIP("valgrind refuses 512 GiB reservations");
    t_assert_child_ok(t_child(rlimit_as_child, NULL), "RLIMIT_AS allowing 3 reservations");
}

int main(void)
{
    t_main_init();
    page = (size_t)sysconf(_SC_PAGESIZE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fsize_limit_default_sigxfsz),
        cmocka_unit_test(fsize_limit_ignored_sigxfsz),
        cmocka_unit_test(enospc_then_shrink_grows_again),
        cmocka_unit_test(enospc_then_ballast_freed),
        cmocka_unit_test(sparse_mode_dies_of_sigbus),
        cmocka_unit_test_teardown(address_space_exhaustion, close_arenas),
        cmocka_unit_test(rlimit_as_kth_open_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
