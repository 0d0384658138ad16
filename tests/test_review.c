/* What an outside review of the hardened core found (issue 9's second round):
 * each test is a promise of the README that a user broke from outside, kept
 * here so that it stays kept. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <fiu-control.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t page;

static long long blocks_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_blocks : -1;
}

/* A reservation smaller than a new file's header area is DA_ECAPACITY: the
 * header is never written past the mapping, and nothing is left behind. */
static void tiny_reserve_is_ecapacity(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v", dir);
    da_config c = t_config(page, NULL);
    da_vec v;
    assert_int_equal(da_vec_open(&v, path, 8, &c), DA_ECAPACITY);
    assert_int_equal(t_path_size(path), -1);
    /* an existing empty file is left as it was */
    t_write_file(path, "", 0);
    assert_int_equal(da_vec_open(&v, path, 8, &c), DA_ECAPACITY);
    assert_int_equal(t_path_size(path), 0);
    t_rm_rf(dir);
}

/* The size is read after the lock is taken: an open that waited for the lock
 * sees what the previous holder synced, never the size from before. */
static const char *race_path;
static int race_done;
static int grow_meanwhile(const char *name, int *failnum, void **failinfo, unsigned *flags)
{
    (void)name, (void)failnum, (void)failinfo, (void)flags;
    if (race_done++)
        return 0;
    da_vec w;
    da_config c = t_config((size_t)1 << 30, NULL);
    /* the holder the opener waited for: it grows, syncs and closes */
    if (da_vec_open(&w, race_path, 8, &c) != 0)
        return 0;
    for (uint64_t i = w.len; i < 200000; i++)
        (void)da_vec_push(&w, &i);
    (void)da_vec_close(&w);
    return 0;
}

static int race_fd;
static int grow_by_fd(const char *name, int *failnum, void **failinfo, unsigned *flags)
{
    (void)name, (void)failnum, (void)failinfo, (void)flags;
    struct stat st;
    if (fstat(race_fd, &st) == 0)
        (void)ftruncate(race_fd, st.st_size + 4096);
    return 0;
}

static void size_read_after_lock(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v", dir);
    race_path = path;
    da_config c = t_config((size_t)1 << 30, NULL);
    da_vec v;
    assert_int_equal(da_vec_open(&v, path, 8, &c), 0);
    for (uint64_t i = 0; i < 1000; i++)
        assert_int_equal(da_vec_push(&v, &i), 0);
    assert_int_equal(da_vec_close(&v), 0);

    t_fiu_init();
    race_done = 0;
    assert_int_equal(fiu_enable_external("diskalloc/flock", 1, NULL, 0, grow_meanwhile), 0);
    int e = da_vec_open(&v, path, 8, &c);
    fiu_disable("diskalloc/flock");
    assert_int_equal(e, 0);
    assert_int_equal(v.len, 200000);
    assert_int_equal(da_vec_close(&v), 0);

    /* da_arena_open_fd: the arena's size is the file's under its lock */
    int fd = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    long long before = t_path_size(path);
    race_fd = fd;
    assert_int_equal(fiu_enable_external("diskalloc/flock", 1, NULL, 0, grow_by_fd), 0);
    da_arena *a;
    e = da_arena_open_fd(&a, fd, &c);
    fiu_disable("diskalloc/flock");
    assert_int_equal(e, 0);
    assert_int_equal((long long)da_arena_size(a), before + 4096);
    assert_int_equal(da_arena_close(a), 0);
    close(fd);
    t_rm_rf(dir);
}

/* A growth refused after its blocks were allocated gives them back, also on
 * ext4, which ignores a hole punched past the end of the file. */
static void refused_growth_frees_its_blocks(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v", dir);
    da_vec v;
    assert_int_equal(da_vec_open(&v, path, 8, NULL), 0);
    assert_int_equal(da_vec_try_reserve_exact(&v, 1000), 0);
    assert_int_equal(da_vec_sync(&v), 0);
    long long blocks = blocks_of(path), size = t_path_size(path);
    t_fail_once("diskalloc/ftruncate", EIO); /* fallocate succeeded, publishing the size fails */
    assert_int_equal(da_vec_try_reserve_exact(&v, 64 << 20), EIO);
    t_fail_off();
    assert_int_equal(t_path_size(path), size);
    /* one 4 KiB block of slack: ext4 may keep a block of its extent tree */
    if (blocks_of(path) > blocks + 8)
        fail_msg("a refused growth left %lld blocks allocated past the end (had %lld)",
                 blocks_of(path), blocks);
    assert_int_equal(da_vec_close(&v), 0);
    t_rm_rf(dir);
}

/* The file-size limit is checked before an open fills a sparse file's holes
 * by writing: EFBIG, never SIGXFSZ. */
static int fsize_open_child(void *arg)
{
    const char *path = arg;
    struct rlimit rl = {100000, RLIM_INFINITY};
    C_CHECK(signal(SIGXFSZ, SIG_DFL) != SIG_ERR);
    C_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    t_fail_always("diskalloc/fallocate", EOPNOTSUPP); /* a file system without fallocate */
    int fd = open(path, O_RDWR | O_CLOEXEC);
    C_CHECK(fd >= 0);
    da_arena *a;
    C_CHECK(da_arena_open_fd(&a, fd, NULL) == EFBIG);
    close(fd);
    rl.rlim_cur = RLIM_INFINITY; /* the coverage build writes its counters at exit */
    C_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    return 0;
}

static void open_checks_fsize_before_filling_holes(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/sparse", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 1 << 20), 0); /* all hole */
    close(fd);
    t_assert_child_ok(t_child(fsize_open_child, path), "open_fd of a sparse file over RLIMIT_FSIZE");
    t_rm_rf(dir);
}

/* A failed first open of an existing empty file leaves it empty, however
 * far the initialisation got. */
static void failed_init_of_existing_file_leaves_it(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v", dir);
    const char *points[] = {"diskalloc/ftruncate", "diskalloc/fallocate", "diskalloc/msync",
                            "diskalloc/fsync", "diskalloc/open"};
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        for (unsigned n = 1; n <= 4; n++) {
            t_write_file(path, "", 0);
            t_fail_nth(points[i], EIO, n);
            da_vec v;
            int e = da_vec_open(&v, path, 8, NULL);
            unsigned reached = t_reached(points[i]);
            t_fail_off();
            if (e == 0) {
                assert_int_equal(da_vec_close(&v), 0);
                if (reached >= n)
                    fail_msg("%s failing at reach %u: the open succeeded", points[i], n);
                continue;
            }
            if (t_path_size(path) != 0)
                T_SOFT_FAIL("%s failing at reach %u: open returned %d and left %lld bytes",
                            points[i], n, e, t_path_size(path));
        }
    }
    t_soft_end();
    t_rm_rf(dir);
}

/* A zero-size block's pointer lies outside the arena, whatever the alignment. */
static void zero_size_pointer_outside(void **state)
{
    (void)state;
    if (t_under_valgrind())
        T_SKIP("valgrind refuses a 64 TiB reservation");
    da_config c = t_config((size_t)64 << 40, NULL);
    da_arena *a;
    assert_int_equal(da_arena_open(&a, &c), 0);
    uintptr_t base = (uintptr_t)da_arena_base(a), end = base + da_arena_reserved(a);
    int tried = 0;
    for (size_t align = 1; align != 0 && align <= ((size_t)1 << 62); align <<= 1) {
        void *p = NULL;
        assert_int_equal(da_alloc(a, 0, align, &p), 0);
        assert_non_null(p);
        assert_true(((uintptr_t)p & (align - 1)) == 0);
        tried += align >= base && align < end;
        if ((uintptr_t)p >= base && (uintptr_t)p < end)
            fail_msg("da_alloc(0, align %zu) returned %p inside the arena [%p, %p)", align, p,
                     (void *)base, (void *)end);
    }
    print_message("# %d alignments fell inside the reservation\n", tried);
    assert_int_equal(da_arena_close(a), 0);
}

/* A header is written over the copy NOT in force, whatever its sequence
 * number: the copy in force survives a torn write of the next one. */
static void next_header_spares_the_copy_in_force(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v", dir);
    /* copy A in force with an odd sequence; B empty */
    size_t size = 8192 + 4096;
    unsigned char *file = calloc(1, size);
    assert_non_null(file);
    t_vec_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, "DAVEC\0\1\0", 8);
    h.version = 2;
    h.header_size = sizeof h;
    h.elem_size = 8;
    h.len = 10;
    h.data_off = 8192;
    h.seq = 7;
    h.sum = t_header_sum(&h);
    memcpy(file, &h, sizeof h);
    for (uint64_t i = 0; i < 10; i++)
        memcpy(file + 8192 + i * 8, &i, 8);
    t_write_file(path, file, size);
    da_vec v;
    assert_int_equal(da_vec_open(&v, path, 8, NULL), 0);
    assert_int_equal(v.len, 10);
    uint64_t x = 10;
    assert_int_equal(da_vec_push(&v, &x), 0);
    assert_int_equal(da_vec_sync(&v), 0);
    assert_int_equal(da_vec_close(&v), 0);
    unsigned char now[sizeof h];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_int_equal(pread(fd, now, sizeof now, 0), (ssize_t)sizeof now);
    close(fd);
    /* close synced again: by then A may hold seq 9; what matters is that the
     * first sync (seq 8) went to B, which the file shows as B holding 8 or 10
     * and A still at 7 or 9 */
    t_vec_header a;
    memcpy(&a, now, sizeof a);
    if (a.seq % 2 == 0)
        fail_msg("copy A (seq 7, in force) was overwritten by an even sequence %llu",
                 (unsigned long long)a.seq);
    free(file);
    t_rm_rf(dir);
}

/* A vector's own arena is not closed under the vector. */
static void own_arena_close_refused(void **state)
{
    (void)state;
    da_vec v;
    assert_int_equal(da_vec_init(&v, 8, NULL), 0);
    uint64_t x = 1;
    assert_int_equal(da_vec_push(&v, &x), 0);
    assert_int_equal(da_arena_close(da_vec_arena(&v)), DA_EINVAL);
    assert_int_equal(da_vec_push(&v, &x), 0);
    assert_int_equal(*(uint64_t *)da_vec_at(&v, 1), 1);
    assert_int_equal(da_vec_close(&v), 0);
}

/* An open and a close that change nothing leave the file's bytes as they
 * were (the tool's helper found every close wrote a new header copy). */
static void unchanged_open_close_writes_nothing(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v", dir);
    da_vec v;
    assert_int_equal(da_vec_open(&v, path, 8, NULL), 0);
    for (uint64_t i = 0; i < 100; i++)
        assert_int_equal(da_vec_push(&v, &i), 0);
    assert_int_equal(da_vec_close(&v), 0);
    uint64_t h = t_path_hash(path);
    assert_int_equal(da_vec_open(&v, path, 8, NULL), 0);
    assert_int_equal(da_vec_sync(&v), 0);
    assert_int_equal(da_vec_close(&v), 0);
    assert_true(t_path_hash(path) == h);
    t_rm_rf(dir);
}

/* ---- the second review ------------------------------------------------------ */

struct other { const char *path; int elems; };

/* another handle opens the file, fills it, syncs and closes, meanwhile */
static void other_handle_fills(void *arg)
{
    const struct other *o = arg;
    da_vec w;
    da_config c = t_config((size_t)1 << 30, NULL);
    if (da_vec_open(&w, o->path, 8, &c) != 0)
        return;
    for (uint64_t i = w.len; i < (uint64_t)o->elems; i++)
        (void)da_vec_push(&w, &i);
    (void)da_vec_close(&w);
}

/* A file this call created but another handle set up and synced before our
 * lock is theirs: a failure of ours never removes it. */
static void created_file_used_meanwhile_is_kept(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v", dir);
    struct other o = {path, 1000};
    t_meanwhile("diskalloc/flock", 1, other_handle_fills, &o, 0);
    da_config small = t_config(16 << 10, NULL); /* too small for what the other handle writes */
    da_vec v;
    int e = da_vec_open(&v, path, 8, &small);
    t_fail_off();
    assert_int_equal(e, DA_ECAPACITY);
    assert_true(t_path_size(path) > 0);
    assert_int_equal(da_vec_open(&v, path, 8, NULL), 0);
    assert_int_equal(v.len, 1000);
    assert_int_equal(da_vec_close(&v), 0);
    t_rm_rf(dir);
}

static void unlink_meanwhile(void *arg) { unlink((const char *)arg); }

/* An open never hands back a vector over a file that lost its name before
 * the lock was ours: what it syncs must reopen at the path. */
static void open_never_returns_a_nameless_file(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v", dir);
    t_meanwhile("diskalloc/flock", 1, unlink_meanwhile, path, 0);
    da_vec v;
    int e = da_vec_open(&v, path, 8, NULL);
    t_fail_off();
    if (e == 0) {
        for (uint64_t i = 0; i < 10; i++)
            assert_int_equal(da_vec_push(&v, &i), 0);
        assert_int_equal(da_vec_close(&v), 0);
        assert_int_equal(da_vec_open(&v, path, 8, NULL), 0);
        size_t len = v.len;
        assert_int_equal(da_vec_close(&v), 0);
        if (len != 10)
            fail_msg("the open succeeded over a file that lost its name: reopen shows %zu, not 10",
                     len);
    }
    t_rm_rf(dir);
}

/* Undoing a failed init of an existing all-zero file never grows it past
 * ulimit -f: EFBIG, the file as it was, no SIGXFSZ. */
static int undo_child(void *arg)
{
    const char *path = arg;
    struct rlimit rl = {4096, RLIM_INFINITY};
    C_CHECK(signal(SIGXFSZ, SIG_DFL) != SIG_ERR);
    C_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    da_vec v;
    C_CHECK(da_vec_open(&v, path, 8, NULL) == EFBIG);
    C_CHECK(t_path_size(path) == 5000);
    rl.rlim_cur = RLIM_INFINITY; /* the coverage build writes its counters at exit */
    C_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    return 0;
}

static void undo_respects_fsize(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v", dir);
    static const char zeros[5000];
    t_write_file(path, zeros, sizeof zeros);
    t_assert_child_ok(t_child(undo_child, path), "failed open of a 5000-byte zero file, ulimit -f 4096");
    t_rm_rf(dir);
}

struct swap { const char *path, *fifo; };
static void fifo_over_path(void *arg)
{
    const struct swap *w = arg;
    (void)rename(w->fifo, w->path);
}

/* A FIFO renamed over the path after the probe is still never opened. */
static void swapped_in_fifo_never_opened(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16], fifo[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v", dir);
    snprintf(fifo, sizeof fifo, "%s/f", dir);
    const char *calls[] = {"vec_open", "inspect"};
    for (int k = 0; k < 2; k++) {
        t_write_file(path, "", 0);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        assert_true(in >= 0);
        assert_true(inotify_add_watch(in, fifo, IN_OPEN) >= 0);
        struct swap w = {path, fifo};
        t_meanwhile("diskalloc/fstat", 1, fifo_over_path, &w, 0); /* the probe's fstat */
        da_vec v;
        da_file_info info;
        int e = k == 0 ? da_vec_open(&v, path, 8, NULL) : da_vec_inspect(path, &info);
        t_fail_off();
        if (k == 0 && e == 0)
            assert_int_equal(da_vec_close(&v), 0);
        char ev[4096];
        ssize_t n = read(in, ev, sizeof ev);
        close(in);
        if (n > 0)
            T_SOFT_FAIL("%s: the FIFO swapped in after the probe was opened (returned %d)",
                        calls[k], e);
        unlink(path);
    }
    t_soft_end();
    t_rm_rf(dir);
}

/* A child made by clone() directly (no fork handlers) closing its copy of a
 * persistent vector writes nothing into the parent's file. */
static void clone_child_close_writes_nothing(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v", dir);
    da_config c = t_config((size_t)1 << 20, NULL);
    da_vec v;
    assert_int_equal(da_vec_open(&v, path, 8, &c), 0);
    uint64_t x = 1;
    assert_int_equal(da_vec_push(&v, &x), 0);
    assert_int_equal(da_vec_sync(&v), 0);
    assert_int_equal(da_vec_push(&v, &x), 0); /* unsynced */
    uint64_t h = t_path_hash(path);
    fflush(NULL);
    long pid = syscall(SYS_clone, (unsigned long)SIGCHLD, 0, 0, 0, 0);
    assert_true(pid >= 0);
    if (pid == 0) {
        t_child_init();
        t_child_exit(da_vec_close(&v) == 0 ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid((pid_t)pid, &status, 0), (pid_t)pid);
    t_assert_child_ok(status, "da_vec_close in a raw clone child");
    if (t_path_hash(path) != h)
        fail_msg("a clone child's close changed the parent's file");
    assert_int_equal(da_vec_close(&v), 0);
    t_rm_rf(dir);
}

/* The address-space text only after a reservation: not after an open's ENOMEM. */
static void enomem_text_after_inspect(void **state)
{
    (void)state;
    if (t_under_valgrind())
        T_SKIP("valgrind cannot try a 2^62-byte reservation in reasonable time");
    da_config big = t_config((size_t)1 << 62, NULL);
    da_arena *a;
    assert_int_equal(da_arena_open(&a, &big), ENOMEM);
    assert_non_null(strstr(da_strerror(ENOMEM), "address space"));
    da_file_info info;
    t_fail_once("diskalloc/open", ENOMEM);
    assert_int_equal(da_vec_inspect("/", &info), ENOMEM);
    t_fail_off();
    if (strstr(da_strerror(ENOMEM), "address space"))
        fail_msg("ENOMEM from da_vec_inspect's open is described as: %s", da_strerror(ENOMEM));
}

int main(void)
{
    t_main_init();
    page = (size_t)sysconf(_SC_PAGESIZE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tiny_reserve_is_ecapacity),
        cmocka_unit_test(size_read_after_lock),
        cmocka_unit_test(refused_growth_frees_its_blocks),
        cmocka_unit_test(open_checks_fsize_before_filling_holes),
        cmocka_unit_test(failed_init_of_existing_file_leaves_it),
        cmocka_unit_test(zero_size_pointer_outside),
        cmocka_unit_test(next_header_spares_the_copy_in_force),
        cmocka_unit_test(own_arena_close_refused),
        cmocka_unit_test(unchanged_open_close_writes_nothing),
        cmocka_unit_test(created_file_used_meanwhile_is_kept),
        cmocka_unit_test(open_never_returns_a_nameless_file),
        cmocka_unit_test(undo_respects_fsize),
        cmocka_unit_test(swapped_in_fifo_never_opened),
        cmocka_unit_test(clone_child_close_writes_nothing),
        cmocka_unit_test(enomem_text_after_inspect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
