/* What an open may do to the world besides returning (contracts C6, C7, C8,
 * C10 of issue 9): a failed da_vec_open leaves nothing it created (bad
 * flags, bad reserve, any later failing step); an existing file is never
 * removed or changed by a failed open; paths that are not regular files
 * (FIFO, directory, socket, /dev/null, a pty) are DA_EBADFILE with no side
 * effect, a pty never becoming the controlling terminal; every malformed
 * DISKALLOC_RESERVE is DA_EINVAL from every open; da_vec_push_fast with a
 * NULL vector or element is DA_EINVAL, not a crash. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <fiu-control.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t page;

typedef struct files {
    char dir[PATH_MAX], path[PATH_MAX + 16], other[PATH_MAX + 16];
    char env[64]; /* DISKALLOC_RESERVE as the test found it */
    int had_env;
} files;

static int setup(void **state)
{
    files *f = calloc(1, sizeof *f);
    t_scratch(f->dir, sizeof f->dir);
    snprintf(f->path, sizeof f->path, "%s/v.davec", f->dir);
    snprintf(f->other, sizeof f->other, "%s/other", f->dir);
    const char *env = getenv("DISKALLOC_RESERVE");
    f->had_env = env != NULL;
    if (env)
        snprintf(f->env, sizeof f->env, "%s", env);
    t_soft_reset();
    *state = f;
    return 0;
}

/* DISKALLOC_RESERVE back as the test found it (valgrind runs set it). */
static void restore_env(const files *f)
{
    if (f->had_env)
        setenv("DISKALLOC_RESERVE", f->env, 1);
    else
        unsetenv("DISKALLOC_RESERVE");
}

static int teardown(void **state)
{
    files *f = *state;
    t_fail_off();
    restore_env(f);
    t_rm_rf(f->dir);
    free(f);
    return 0;
}

static uint64_t value(uint64_t i) { return i * 0x9E3779B97F4A7C15ull + 5; }

static void make_vector_file(const char *path, size_t n)
{
    da_vec v;
    assert_int_equal(da_vec_open(&v, path, 8, NULL), 0);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t x = value(i);
        assert_int_equal(da_vec_push(&v, &x), 0);
    }
    assert_int_equal(da_vec_close(&v), 0);
}

static void reopen_expect(const char *path, size_t n)
{
    da_vec v;
    assert_int_equal(da_vec_open(&v, path, 8, NULL), 0);
    assert_int_equal(v.len, n);
    for (size_t i = 0; i < n; i++)
        assert_true(*(uint64_t *)da_vec_at(&v, i) == value(i));
    assert_int_equal(da_vec_close(&v), 0);
}

/* ---- C6: a failed open leaves nothing it created --------------------------------- */

/* da_vec_open of a path that does not exist fails with want: the directory
 * is as empty as before, no descriptor or mapping is left. */
static void open_new_expect(files *f, const da_config *cfg, int want, const char *why)
{
    t_snap s;
    t_snap_take(&s, NULL, NULL);
    da_vec v;
    int e = da_vec_open(&v, f->path, 8, cfg);
    if (e == 0)
        assert_int_equal(da_vec_close(&v), 0);
    if (e != want)
        T_SOFT_FAIL("%s: da_vec_open returned %d, want %d", why, e, want);
    if (t_path_size(f->path) != -1) {
        T_SOFT_FAIL("%s: the failed open left %s behind (%lld bytes)", why, f->path,
                  t_path_size(f->path));
        assert_int_equal(unlink(f->path), 0);
    }
    t_snap_same(&s, NULL, NULL);
}

static void bad_config_creates_nothing(void **state)
{
    files *f = *state;
    da_config flags = t_config(0, NULL);
    flags.flags = 0x100;
    open_new_expect(f, &flags, DA_EINVAL, "unknown flag 0x100");
    da_config huge = t_config(SIZE_MAX, NULL);
    open_new_expect(f, &huge, DA_EOVERFLOW, "reserve SIZE_MAX");
    setenv("DISKALLOC_RESERVE", "1x", 1);
    open_new_expect(f, NULL, DA_EINVAL, "DISKALLOC_RESERVE=1x");
    assert_int_equal(t_dir_entries(f->dir), 0);
    t_soft_end();
}

/* The first header's fsync fails: the open reports it and the new file is gone. */
static void first_header_fsync_fails(void **state)
{
    files *f = *state;
    t_fail_once("diskalloc/fsync", EIO);
    open_new_expect(f, NULL, EIO, "first header's fsync fails");
    t_fail_off();
    t_soft_end();
}

/* Count-down over every fail point: the nth reach of each point fails,
 * for n = 1, 2, ... until the open completes without reaching it. */
static void every_failing_step_creates_nothing(void **state)
{
    files *f = *state;
    for (const char *const *p = da_failpoint_names(); *p; p++) {
        for (unsigned n = 1; n < 64; n++) {
            t_snap s;
            t_snap_take(&s, NULL, NULL);
            t_fail_nth(*p, EIO, n);
            da_vec v;
            int e = da_vec_open(&v, f->path, 8, NULL);
            unsigned reached = t_reached(*p);
            t_fail_off();
            if (reached < n) { /* completed before the nth reach */
                if (e != 0)
                    T_SOFT_FAIL("%s not reached %u times, yet the open failed with %d", *p, n, e);
                else
                    assert_int_equal(da_vec_close(&v), 0);
                if (t_path_size(f->path) >= 0)
                    assert_int_equal(unlink(f->path), 0);
                break;
            }
            if (e == 0) { /* the core absorbed the failure */
                assert_int_equal(da_vec_close(&v), 0);
                assert_int_equal(unlink(f->path), 0);
                continue;
            }
            t_snap_same(&s, NULL, NULL);
            if (t_path_size(f->path) != -1) {
                T_SOFT_FAIL("%s failing at reach %u: open returned %d and left the new file "
                          "(%lld bytes)",
                          *p, n, e, t_path_size(f->path));
                assert_int_equal(unlink(f->path), 0);
            }
        }
    }
    assert_int_equal(t_dir_entries(f->dir), 0);
    t_soft_end();
}

/* An existing file, a vector or an empty one (a creation cut short): a
 * failed open neither removes nor changes it, and leaves it unlocked. */
static void existing_file_survives_failed_opens(void **state)
{
    files *f = *state;
    for (int empty = 0; empty < 2; empty++) {
        if (empty)
            t_write_file(f->path, "", 0);
        else
            make_vector_file(f->path, 100);
        long long size = t_path_size(f->path);
        uint64_t hash = t_path_hash(f->path);
        const char *what = empty ? "an empty existing file" : "an existing vector file";

        da_config flags = t_config(0, NULL);
        flags.flags = 0x100;
        da_vec v;
        assert_int_equal(da_vec_open(&v, f->path, 8, &flags), DA_EINVAL);
        setenv("DISKALLOC_RESERVE", "1x", 1);
        assert_int_equal(da_vec_open(&v, f->path, 8, NULL), DA_EINVAL);
        restore_env(f);
        if (t_path_size(f->path) != size || t_path_hash(f->path) != hash)
            T_SOFT_FAIL("%s: changed by an open with a bad config", what);

        for (const char *const *p = da_failpoint_names(); *p; p++) {
            for (unsigned n = 1; n < 64; n++) {
                t_fail_nth(*p, EIO, n);
                int e = da_vec_open(&v, f->path, 8, NULL);
                unsigned reached = t_reached(*p);
                t_fail_off();
                if (e == 0) {
                    /* a successful open and close writes a header: the next
                     * case starts from the file as it is now (empty again) */
                    assert_int_equal(da_vec_close(&v), 0);
                    if (empty)
                        t_write_file(f->path, "", 0);
                    size = t_path_size(f->path);
                    hash = t_path_hash(f->path);
                }
                if (reached < n)
                    break;
                if (e == 0)
                    continue;
                long long now = t_path_size(f->path);
                if (now == -1) {
                    T_SOFT_FAIL("%s failing at reach %u: open returned %d and REMOVED %s", *p, n,
                              e, what);
                    if (empty)
                        t_write_file(f->path, "", 0);
                    else
                        fail_msg("the vector file is gone; cannot go on");
                } else if (!empty && (now != size || t_path_hash(f->path) != hash)) {
                    T_SOFT_FAIL("%s failing at reach %u: open returned %d and changed %s", *p, n,
                              e, what);
                } else if (empty) {
                    /* the header written and rolled back may leave zeros: still a
                     * creation cut short, which the next open starts afresh */
                    static unsigned char buf[1 << 16];
                    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
                    ssize_t r = read(fd, buf, sizeof buf);
                    close(fd);
                    for (ssize_t i = 0; i < r; i++)
                        if (buf[i]) {
                            T_SOFT_FAIL("%s failing at reach %u: open returned %d and left a "
                                      "nonzero byte at %zd of %s",
                                      *p, n, e, (size_t)i, what);
                            t_write_file(f->path, "", 0);
                            break;
                        }
                }
            }
        }
        /* not left locked: a later open works */
        if (empty) {
            da_vec w;
            assert_int_equal(da_vec_open(&w, f->path, 8, NULL), 0);
            assert_int_equal(w.len, 0);
            assert_int_equal(da_vec_close(&w), 0);
        } else {
            reopen_expect(f->path, 100);
        }
    }
    t_soft_end();
}

/* ---- races with other processes, made deterministic (t_meanwhile) ------------------- */

/* Nobody holds a lock on path: a flock of our own gets it at once. */
static void expect_unlocked(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    close(fd);
}

static void other_over_path(void *arg)
{
    files *f = arg;
    assert_int_equal(rename(f->other, f->path), 0);
}

static void path_removed(void *arg)
{
    files *f = arg;
    assert_int_equal(unlink(f->path), 0);
}

/* f->other is renamed over f->path at the nth reach of point (which fails
 * with err, or not when 0): the open returns want, leaks nothing, and leaves
 * the newcomer at f->path neither changed nor locked. */
static void open_while_swapped_in(files *f, const char *point, unsigned n, int err, int want)
{
    long long size = t_path_size(f->other);
    uint64_t hash = t_path_hash(f->other);
    t_snap s;
    t_snap_take(&s, NULL, NULL);
    t_meanwhile(point, n, other_over_path, f, err);
    da_vec v;
    int e = da_vec_open(&v, f->path, 8, NULL);
    t_fail_off();
    assert_int_equal(e, want);
    t_snap_same(&s, NULL, NULL);
    assert_int_equal(t_path_size(f->path), size);
    assert_true(t_path_hash(f->path) == hash);
    expect_unlocked(f->path);
}

/* The path is renamed over between the O_PATH probe and the open: the file
 * probed is the one opened (through its O_PATH descriptor, never the
 * newcomer, which could be a FIFO or a tty), and since it lost its name
 * before the lock, the open starts over and takes what the path names now. */
static void replaced_between_probe_and_open(void **state)
{
    files *f = *state;
    make_vector_file(f->path, 10);
    make_vector_file(f->other, 30);
    t_meanwhile("diskalloc/open", 2, other_over_path, f, 0); /* 1: the probe, 2: the open */
    da_vec v;
    int e = da_vec_open(&v, f->path, 8, NULL);
    t_fail_off();
    assert_int_equal(e, 0);
    assert_int_equal(v.len, 30);
    assert_int_equal(da_vec_close(&v), 0);
    reopen_expect(f->path, 30);
}

/* Another process creates the file between the probe (ENOENT) and our
 * O_EXCL create: the open takes the file it finds, which is not ours to
 * remove, even when the open then fails. */
static void created_meanwhile_is_theirs(void **state)
{
    files *f = *state;
    make_vector_file(f->other, 40);
    t_meanwhile("diskalloc/open", 2, other_over_path, f, 0); /* 2: the O_EXCL create */
    da_vec v;
    int e = da_vec_open(&v, f->path, 8, NULL);
    t_fail_off();
    assert_int_equal(e, 0);
    assert_int_equal(v.len, 40);
    assert_int_equal(da_vec_close(&v), 0);

    assert_int_equal(rename(f->path, f->other), 0);
    long long size = t_path_size(f->other);
    uint64_t hash = t_path_hash(f->other);
    t_meanwhile("diskalloc/open", 2, other_over_path, f, 0);
    t_fail_once("diskalloc/mmap", ENOMEM);
    e = da_vec_open(&v, f->path, 8, NULL);
    t_fail_off();
    assert_int_equal(e, ENOMEM);
    assert_int_equal(t_path_size(f->path), size);
    assert_true(t_path_hash(f->path) == hash);
    expect_unlocked(f->path);
}

/* A file the open created is replaced (or removed) by someone else before
 * the open fails: the undo removes only the file it created. */
static void undo_removes_only_its_own_file(void **state)
{
    files *f = *state;
    make_vector_file(f->other, 50);
    open_while_swapped_in(f, "diskalloc/mmap", 1, ENOMEM, ENOMEM);
    assert_int_equal(unlink(f->path), 0);

    t_snap s;
    t_snap_take(&s, NULL, NULL);
    t_meanwhile("diskalloc/mmap", 1, path_removed, f, ENOMEM);
    da_vec v;
    int e = da_vec_open(&v, f->path, 8, NULL);
    t_fail_off();
    assert_int_equal(e, ENOMEM);
    t_snap_same(&s, NULL, NULL);
    assert_int_equal(t_dir_entries(f->dir), 0);
}

/* An existing all-zero file (a creation cut short) whose first header fails
 * to sync is put back, all zeros, even when a truncation of the undo fails:
 * the next open starts afresh. */
static void undo_of_zero_file_keeps_it_zero(void **state)
{
    files *f = *state;
    static const unsigned char zeros[100];
    for (unsigned fail_at = 1; fail_at <= 3; fail_at++) { /* 1: none; 2, 3: the undo's */
        t_write_file(f->path, zeros, sizeof zeros);
        t_fail_once("diskalloc/fsync", EIO);
        if (fail_at > 1)
            t_fail_nth("diskalloc/ftruncate", EIO, fail_at); /* 1: the growth */
        da_vec v;
        int e = da_vec_open(&v, f->path, 8, NULL);
        t_fail_off();
        assert_int_equal(e, EIO);
        long long size = t_path_size(f->path);
        static unsigned char buf[1 << 16];
        int fd = open(f->path, O_RDONLY | O_CLOEXEC);
        ssize_t r = read(fd, buf, sizeof buf);
        close(fd);
        assert_int_equal(r, size);
        for (ssize_t i = 0; i < r; i++)
            if (buf[i])
                fail_msg("undo with truncation %u failing: byte %zd of %lld is %d", fail_at, i,
                         size, buf[i]);
        if (fail_at == 1)
            assert_int_equal(size, (long long)sizeof zeros);
        expect_unlocked(f->path);
        assert_int_equal(da_vec_open(&v, f->path, 8, NULL), 0);
        assert_int_equal(v.len, 0);
        assert_int_equal(da_vec_close(&v), 0);
    }
}

/* A new file's directory is synced whatever the path looks like: "file"
 * (the working directory) and "/file" (the root: in a child, chrooted into
 * the scratch directory, which root may do). */
static int root_file_child(void *arg)
{
    files *f = arg;
    int real_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    C_CHECK(real_root >= 0);
    if (chroot(f->dir) != 0)
        return 77;
    C_CHECK(chdir("/") == 0);
    da_vec v;
    uint64_t x = value(0);
    int e = da_vec_open(&v, "/root.davec", 8, NULL);
    if (e != 0)
        fprintf(stderr, "da_vec_open(\"/root.davec\") in a chroot returned %d\n", e);
    C_CHECK(e == 0);
    C_CHECK(da_vec_push(&v, &x) == 0);
    C_CHECK(da_vec_close(&v) == 0);
    /* back out of the chroot, so the coverage counters reach the build tree */
    C_CHECK(fchdir(real_root) == 0 && chroot(".") == 0);
    return 0;
}

static void new_file_paths(void **state)
{
    files *f = *state;
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->dir), 0);
    da_vec v;
    int e = da_vec_open(&v, "rel.davec", 8, NULL);
    if (e == 0)
        assert_int_equal(da_vec_close(&v), 0);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(e, 0);
    char rel[PATH_MAX + 16];
    snprintf(rel, sizeof rel, "%s/rel.davec", f->dir);
    assert_true(t_path_size(rel) > 0);

    int status = t_child(root_file_child, f);
    char root[PATH_MAX + 16];
    snprintf(root, sizeof root, "%s/root.davec", f->dir);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        T_SKIP("chroot refused (not root): \"/file\" not tried");
    t_assert_child_ok(status, "da_vec_open(\"/root.davec\") in a chroot");
    reopen_expect(root, 1);
}

/* ---- C10: paths that are not regular files ---------------------------------------------- */

/* DA_EBADFILE, with no descriptor, mapping or directory entry left, and the
 * node itself unchanged (its type and size). */
static void expect_not_regular(files *f, const char *path, const char *what)
{
    struct stat before, after;
    assert_int_equal(lstat(path, &before), 0);
    int entries = t_dir_entries(f->dir);
    t_snap s;
    t_snap_take(&s, NULL, NULL);
    da_vec v;
    int e = da_vec_open(&v, path, 8, NULL);
    if (e == 0)
        assert_int_equal(da_vec_close(&v), 0);
    if (e != DA_EBADFILE)
        T_SOFT_FAIL("%s (%s): da_vec_open returned %d, want DA_EBADFILE (%d)", what, path, e,
                  DA_EBADFILE);
    t_snap_same(&s, NULL, NULL);
    assert_int_equal(t_dir_entries(f->dir), entries);
    assert_int_equal(lstat(path, &after), 0);
    assert_int_equal(after.st_mode, before.st_mode);
    assert_int_equal(after.st_rdev, before.st_rdev);
    if (S_ISDIR(before.st_mode) || S_ISFIFO(before.st_mode) || S_ISSOCK(before.st_mode))
        assert_int_equal(after.st_size, before.st_size);
}

static void non_regular_paths_are_badfile(void **state)
{
    files *f = *state;
    char sub[PATH_MAX + 16];
    snprintf(sub, sizeof sub, "%s/sub", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    expect_not_regular(f, sub, "a directory");
    assert_int_equal(t_dir_entries(sub), 0);

    assert_int_equal(mkfifo(f->other, 0600), 0);
    expect_not_regular(f, f->other, "a FIFO");
    assert_int_equal(unlink(f->other), 0);

    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(sock >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(f->other) < sizeof addr.sun_path) {
        memcpy(addr.sun_path, f->other, strlen(f->other) + 1);
        assert_int_equal(bind(sock, (struct sockaddr *)&addr, sizeof addr), 0);
        expect_not_regular(f, f->other, "a socket");
        assert_int_equal(unlink(f->other), 0);
    }
    close(sock);

    expect_not_regular(f, "/dev/null", "/dev/null");
    t_soft_end();
}

/* In a new session without a controlling terminal (as a daemon): opening a
 * pty's slave as a vector is DA_EBADFILE and does not make it the session's
 * controlling terminal. */
static int pty_child(void *arg)
{
    (void)arg;
    C_CHECK(setsid() > 0);
    int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    C_CHECK(tty < 0); /* a new session starts without one */
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        return 77;
    C_CHECK(grantpt(master) == 0 && unlockpt(master) == 0);
    const char *slave = ptsname(master);
    C_CHECK(slave != NULL);
    da_vec v;
    int e = da_vec_open(&v, slave, 8, NULL);
    if (e == 0)
        da_vec_close(&v);
    tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (tty >= 0)
        fprintf(stderr, "da_vec_open(%s) made the pty the controlling terminal\n", slave);
    C_CHECK(tty < 0);
    if (e != DA_EBADFILE)
        fprintf(stderr, "da_vec_open(%s) returned %d, want DA_EBADFILE\n", slave, e);
    C_CHECK(e == DA_EBADFILE);
    close(master);
    return 0;
}

static void pty_is_badfile_without_ctty(void **state)
{
    (void)state;
    int status = t_child(pty_child, NULL);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        T_SKIP("no pseudo-terminals here (posix_openpt failed)");
    t_assert_child_ok(status, "da_vec_open of a pty slave in a session without a terminal");
}

/* ---- C7: DISKALLOC_RESERVE ------------------------------------------------------------ */

static const char *const bad_reserve[] = {
    "1 ", "8 iB", " 1", "1x", "-1", "1KiBB", "99999999999999999999",
};

/* Every kind of open, with the environment as it is.  With a reservation too
 * small for a vector file's header area (tiny), da_vec_open may also be
 * DA_ECAPACITY: the value parsed, the file just does not fit. */
static void every_open_expect(files *f, int want, const char *value, int tiny)
{
    da_arena *a = NULL;
    int e = da_arena_open(&a, NULL);
    if (e == 0)
        assert_int_equal(da_arena_close(a), 0);
    if (e != want)
        T_SOFT_FAIL("DISKALLOC_RESERVE=\"%s\": da_arena_open returned %d, want %d", value, e, want);

    da_vec v;
    e = da_vec_init(&v, 8, NULL);
    if (e == 0)
        assert_int_equal(da_vec_close(&v), 0);
    if (e != want)
        T_SOFT_FAIL("DISKALLOC_RESERVE=\"%s\": da_vec_init returned %d, want %d", value, e, want);

    e = da_vec_open(&v, f->path, 8, NULL);
    if (e == 0)
        assert_int_equal(da_vec_close(&v), 0);
    if (e != want && !(tiny && e == DA_ECAPACITY))
        T_SOFT_FAIL("DISKALLOC_RESERVE=\"%s\": da_vec_open returned %d, want %d", value, e, want);
    if (e != 0 && t_path_size(f->path) != -1)
        T_SOFT_FAIL("DISKALLOC_RESERVE=\"%s\": the failed da_vec_open left its file", value);
    unlink(f->path);

    int fd = open(f->other, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    e = da_arena_open_fd(&a, fd, NULL);
    if (e == 0)
        assert_int_equal(da_arena_close(a), 0);
    close(fd);
    if (e != want)
        T_SOFT_FAIL("DISKALLOC_RESERVE=\"%s\": da_arena_open_fd returned %d, want %d", value, e,
                  want);
}

static void malformed_reserve_is_einval(void **state)
{
    files *f = *state;
    for (size_t i = 0; i < sizeof bad_reserve / sizeof bad_reserve[0]; i++) {
        setenv("DISKALLOC_RESERVE", bad_reserve[i], 1);
        every_open_expect(f, DA_EINVAL, bad_reserve[i], 0);
    }
    t_soft_end();
}

static void valid_reserve_values(void **state)
{
    files *f = *state;
    struct { const char *text; size_t bytes; } ok[] = {
        {"4096", 4096},
        {"1KB", 1024},
        {"512M", (size_t)512 << 20},
        {"2GiB", (size_t)2 << 30},
        {"64G", (size_t)64 << 30},
        {"1T", (size_t)1 << 40},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (t_under_valgrind() && ok[i].bytes > ((size_t)1 << 30))
            continue; /* valgrind refuses large mappings */
        setenv("DISKALLOC_RESERVE", ok[i].text, 1);
        every_open_expect(f, 0, ok[i].text, ok[i].bytes < ((size_t)1 << 20));
        da_arena *a;
        assert_int_equal(da_arena_open(&a, NULL), 0);
        size_t want = (ok[i].bytes + page - 1) / page * page;
        if (da_arena_reserved(a) != want)
            T_SOFT_FAIL("DISKALLOC_RESERVE=\"%s\": reserved %zu, want %zu", ok[i].text,
                      da_arena_reserved(a), want);
        assert_int_equal(da_arena_close(a), 0);
    }
    t_soft_end();
}

/* ---- C8: da_vec_push_fast's arguments ------------------------------------------------- */

/* NULL through a volatile, so that the compiler sees no NULL argument to
 * warn about in the inlined fast path: the check must be at run time. */
static void *volatile no_pointer;

struct fast_case { size_t elem_size; int null_vec; };

static int push_fast_child(void *arg)
{
    const struct fast_case *c = arg;
    da_config cfg = t_config((size_t)1 << 20, NULL);
    da_vec v;
    C_CHECK(da_vec_init(&v, c->elem_size, &cfg) == 0);
    C_CHECK(da_vec_try_reserve(&v, 10) == 0); /* spare capacity: the inline store path */
    unsigned char elem[32] = {1};
    C_CHECK(da_vec_push(&v, elem) == 0);
    int e = c->null_vec ? da_vec_push_fast(no_pointer, elem) : da_vec_push_fast(&v, no_pointer);
    if (e != DA_EINVAL)
        fprintf(stderr, "da_vec_push_fast(%s) returned %d, want DA_EINVAL\n",
                c->null_vec ? "NULL, elem" : "v, NULL", e);
    C_CHECK(e == DA_EINVAL);
    C_CHECK(v.len == 1);
    C_CHECK(da_vec_close(&v) == 0);
    return 0;
}

static void push_fast_null_is_einval(void **state)
{
    (void)state;
    static const size_t sizes[] = {4, 8, 24};
    char what[96];
    for (int null_vec = 0; null_vec < 2; null_vec++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            struct fast_case c = {sizes[i], null_vec};
            int status = t_child(push_fast_child, &c);
            if (T_CHILD_OK(status))
                continue;
            snprintf(what, sizeof what, "da_vec_push_fast(%s), elem_size %zu",
                     null_vec ? "NULL, elem" : "v, NULL", sizes[i]);
            if (WIFSIGNALED(status))
                T_SOFT_FAIL("%s: killed by signal %d (%s)", what, WTERMSIG(status),
                          strsignal(WTERMSIG(status)));
            else
                T_SOFT_FAIL("%s: child exited with %d", what, WEXITSTATUS(status));
        }
    t_soft_end();
}

/* ---- the path changes between the open and the lock -------------------------- */

static void rename_away(void *arg)
{
    const files *f = arg;
    (void)rename(f->path, f->other); /* still linked, no longer at the path */
}

static void hardlink_then_replace(void *arg)
{
    const files *f = arg;
    char keep[PATH_MAX + 32];
    snprintf(keep, sizeof keep, "%s.keep", f->other);
    (void)link(f->path, keep); /* the file keeps a name, elsewhere */
    int fd = open(f->other, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    (void)rename(f->other, f->path); /* an empty newcomer at the path */
}

/* The file the open locked no longer sits at the path (renamed away, or
 * another file renamed over it while it keeps a name elsewhere): the open
 * starts over with what the path names now. */
static void path_changed_before_lock_starts_over(void **state)
{
    files *f = *state;
    void (*moves[])(void *) = {rename_away, hardlink_then_replace};
    for (int i = 0; i < 2; i++) {
        make_vector_file(f->path, 10);
        t_meanwhile("diskalloc/flock", 1, moves[i], f, 0);
        da_vec v;
        int e = da_vec_open(&v, f->path, 8, NULL);
        t_fail_off();
        assert_int_equal(e, 0);
        assert_int_equal(v.len, 0); /* a new or empty file, not the one moved away */
        uint64_t x = 5;
        assert_int_equal(da_vec_push(&v, &x), 0);
        assert_int_equal(da_vec_close(&v), 0);
        reopen_expect(f->path, 1);
        unlink(f->path);
        unlink(f->other);
    }
}

/* A path that keeps changing under every open is busy: EWOULDBLOCK, after a
 * bounded number of attempts, and nothing left of ours. */
static const char *busy_path;
static int unlink_every_time(const char *name, int *failnum, void **failinfo, unsigned *flags)
{
    (void)name, (void)failnum, (void)failinfo, (void)flags;
    (void)unlink(busy_path);
    return 0;
}

static void path_that_keeps_changing_is_busy(void **state)
{
    files *f = *state;
    busy_path = f->path;
    t_fiu_init();
    assert_int_equal(fiu_enable_external("diskalloc/flock", 1, NULL, 0, unlink_every_time), 0);
    da_vec v;
    int e = da_vec_open(&v, f->path, 8, NULL);
    fiu_disable("diskalloc/flock");
    assert_int_equal(e, EWOULDBLOCK);
    assert_null(v.arena_);
    assert_int_equal(t_path_size(f->path), -1);
}

/* Without /proc/thread-self (kernels before 3.17) /proc/self serves; without
 * /proc at all, the probed path is opened again and checked to be the same
 * file.  Simulated by failing those opens with ENOENT. */
static unsigned enoent_from, enoent_to, open_reach, eacces_at;
static int enoent_range(const char *name, int *failnum, void **failinfo, unsigned *flags)
{
    (void)name, (void)flags;
    open_reach++;
    int err = open_reach == eacces_at ? EACCES
              : open_reach >= enoent_from && open_reach <= enoent_to ? ENOENT : 0;
    if (err == 0)
        return 0;
    *failnum = 1;
    *failinfo = (void *)(intptr_t)err;
    return 1;
}

static void without_proc(void **state)
{
    files *f = *state;
    make_vector_file(f->path, 7);
    t_fiu_init();
    /* da_vec_open: 1 the probe, 2 /proc/thread-self, 3 /proc/self, 4 the path */
    struct { unsigned from, to; } cases[] = {{2, 2}, {2, 3}};
    for (size_t i = 0; i < 2; i++) {
        open_reach = 0, enoent_from = cases[i].from, enoent_to = cases[i].to;
        assert_int_equal(fiu_enable_external("diskalloc/open", 1, NULL, 0, enoent_range), 0);
        da_vec v;
        int e = da_vec_open(&v, f->path, 8, NULL);
        fiu_disable("diskalloc/open");
        assert_int_equal(e, 0);
        assert_int_equal(v.len, 7);
        assert_int_equal(da_vec_close(&v), 0);
    }
    /* the open by path fails in its turn: its error, nothing changed */
    open_reach = 0, enoent_from = 2, enoent_to = 3, eacces_at = 4;
    uint64_t h = t_path_hash(f->path);
    assert_int_equal(fiu_enable_external("diskalloc/open", 1, NULL, 0, enoent_range), 0);
    da_vec w;
    int ew = da_vec_open(&w, f->path, 8, NULL);
    fiu_disable("diskalloc/open");
    eacces_at = 0;
    assert_int_equal(ew, EACCES);
    assert_true(t_path_hash(f->path) == h);
    /* da_arena_open_fd: 1 /proc/thread-self, 2 /proc/self */
    int fd = open(f->path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    open_reach = 0, enoent_from = 1, enoent_to = 1;
    assert_int_equal(fiu_enable_external("diskalloc/open", 1, NULL, 0, enoent_range), 0);
    da_arena *a;
    int e = da_arena_open_fd(&a, fd, NULL);
    fiu_disable("diskalloc/open");
    assert_int_equal(e, 0);
    assert_int_equal(da_arena_close(a), 0);
    close(fd);
}

/* Without /proc, a file swapped in at the path between the probe and the
 * open by path is refused, not used. */
static void swap_on_fourth_open(void *arg) { other_over_path(arg); }
static void without_proc_swap_is_refused(void **state)
{
    files *f = *state;
    make_vector_file(f->path, 7);
    make_vector_file(f->other, 9);
    t_fiu_init();
    open_reach = 0, enoent_from = 2, enoent_to = 3;
    assert_int_equal(fiu_enable_external("diskalloc/open", 1, NULL, 0, enoent_range), 0);
    t_meanwhile("diskalloc/fstat", 1, swap_on_fourth_open, f, 0); /* the probe's fstat */
    da_vec v;
    int e = da_vec_open(&v, f->path, 8, NULL);
    t_fail_off();
    assert_int_equal(e, DA_EBADFILE);
    reopen_expect(f->path, 9);
}

int main(void)
{
    t_main_init();
    page = (size_t)sysconf(_SC_PAGESIZE);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(bad_config_creates_nothing),
        T(first_header_fsync_fails),
        T(every_failing_step_creates_nothing),
        T(existing_file_survives_failed_opens),
        T(replaced_between_probe_and_open),
        T(created_meanwhile_is_theirs),
        T(undo_removes_only_its_own_file),
        T(undo_of_zero_file_keeps_it_zero),
        T(new_file_paths),
        T(non_regular_paths_are_badfile),
        T(pty_is_badfile_without_ctty),
        T(malformed_reserve_is_einval),
        T(valid_reserve_values),
        T(push_fast_null_is_einval),
        T(path_changed_before_lock_starts_over),
        T(path_that_keeps_changing_is_busy),
        T(without_proc),
        T(without_proc_swap_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
