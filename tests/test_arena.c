/* Arenas: one MAP_SHARED|MAP_NORESERVE mapping of `reserved` bytes whose
 * base never moves; resize, sync, close; maps and fds back to baseline after
 * 100k resizes; da_arena_open_fd keeps the caller's bytes and duplicates its
 * descriptor; the temp file is unnamed, 0600, close-on-exec, and leaves
 * nothing in its directory, also on the mkostemp fallback and when killed.
 * The caller's file with holes (DA_SPARSE keeps them, otherwise they are
 * allocated, by writing zeros where fallocate is missing); a descriptor that
 * is not a regular file, or is reused by another thread meanwhile; a vector's
 * own arena refusing the allocator (C1); a raw clone child closing its copy
 * without unlocking the parent's file. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t page;

/* The VmFlags of the mapping at base: "sh" shared, "nr" no swap reserved. */
static void assert_shared_noreserve(const void *base)
{
    char line[512];
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    int in = 0, found = 0;
    while (fgets(line, sizeof line, f)) {
        uintmax_t start, end;
        if (sscanf(line, "%jx-%jx ", &start, &end) == 2 && strncmp(line, "VmFlags", 7) != 0)
            in = start == (uintptr_t)base; /* a mapping's first line */
        if (in && strncmp(line, "VmFlags:", 8) == 0) {
            found = 1;
            if (!strstr(line, " sh") || !strstr(line, " nr"))
                fail_msg("mapping at %p is not shared+noreserve: %s", base, line);
        }
    }
    fclose(f);
    assert_true(found);
}

static size_t expected_reserve(void)
{
    const char *env = getenv("DISKALLOC_RESERVE");
    return env && strcmp(env, "1G") == 0 ? (size_t)1 << 30 : DA_DEFAULT_RESERVE;
}

static void open_close_one_mapping(void **state)
{
    (void)state;
    int maps = t_maps_count(), fds = t_fd_count();
    da_arena *a;
    assert_int_equal(da_arena_open(&a, NULL), 0);
    void *base = da_arena_base(a);
    assert_non_null(base);
    assert_int_equal((uintptr_t)base % page, 0);
    assert_int_equal(da_arena_size(a), 0);
    assert_int_equal(da_arena_error(a), 0);
    assert_int_equal(da_arena_reserved(a), expected_reserve());
    assert_int_equal(t_mapping_len(base), da_arena_reserved(a));
    assert_int_equal(t_mappings_in(base, da_arena_reserved(a)), 1);
    assert_shared_noreserve(base);
    assert_int_equal(t_maps_count(), maps + 1);
    assert_int_equal(t_fd_count(), fds + 1);
    struct stat st;
    t_arena_stat(a, &st);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(da_arena_close(a), 0);
    assert_int_equal(t_mapping_len(base), 0);
    assert_int_equal(t_maps_count(), maps);
    assert_int_equal(t_fd_count(), fds);
}

static void resize_grow_shrink(void **state)
{
    (void)state;
    da_arena *a;
    struct stat st;
    assert_int_equal(da_arena_open(&a, NULL), 0);
    unsigned char *base = da_arena_base(a);
    const size_t big = (size_t)16 << 20;

    assert_int_equal(da_arena_resize(a, big), 0);
    assert_ptr_equal(da_arena_base(a), base);
    assert_int_equal(da_arena_size(a), big);
    t_arena_stat(a, &st);
    assert_int_equal(st.st_size, big);
    assert_true((size_t)st.st_blocks * 512 >= big); /* blocks allocated now, not on store */
    for (size_t i = 0; i < big; i += page)
        base[i] = (unsigned char)(i / page);
    base[big - 1] = 0xEE;

    assert_int_equal(da_arena_resize(a, 5000), 0); /* any size, not only pages */
    assert_ptr_equal(da_arena_base(a), base);
    t_arena_stat(a, &st);
    assert_int_equal(st.st_size, 5000);
    assert_true((size_t)st.st_blocks * 512 <= 2 * page); /* shrinking released blocks */
    assert_int_equal(base[0], 0);
    assert_int_equal(base[page], 1);

    assert_int_equal(da_arena_resize(a, 3 * page), 0); /* regrown bytes read as zero */
    assert_int_equal(base[page], 1);
    assert_int_equal(base[5000], 0);
    assert_int_equal(base[2 * page], 0);
    assert_int_equal(da_arena_resize(a, 0), 0);
    t_arena_stat(a, &st);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(da_arena_size(a), 0);
    assert_ptr_equal(da_arena_base(a), base);
    assert_int_equal(da_arena_close(a), 0);
}

static void resize_bounded_by_reserve(void **state)
{
    (void)state;
    da_config c = t_config(5000, NULL); /* rounded up to whole pages */
    da_arena *a;
    assert_int_equal(da_arena_open(&a, &c), 0);
    assert_int_equal(da_arena_reserved(a), 2 * page);
    assert_int_equal(t_mapping_len(da_arena_base(a)), 2 * page);
    assert_int_equal(da_arena_resize(a, page), 0);
    t_snap s;
    t_snap_take(&s, a, NULL);
    assert_int_equal(da_arena_resize(a, 2 * page + 1), DA_ECAPACITY);
    assert_int_equal(da_arena_resize(a, SIZE_MAX), DA_ECAPACITY);
    t_snap_same(&s, a, NULL);
    assert_int_equal(da_arena_resize(a, 2 * page), 0); /* the whole reservation */
    ((char *)da_arena_base(a))[2 * page - 1] = 1;
    assert_int_equal(da_arena_close(a), 0);
}

static void sparse_flag_skips_allocation(void **state)
{
    (void)state;
    da_config c = {0, NULL, DA_SPARSE};
    da_arena *a;
    struct stat st;
    assert_int_equal(da_arena_open(&a, &c), 0);
    assert_int_equal(da_arena_resize(a, (size_t)16 << 20), 0);
    t_arena_stat(a, &st);
    assert_int_equal(st.st_size, (size_t)16 << 20);
    assert_int_equal(st.st_blocks, 0);
    assert_int_equal(da_arena_close(a), 0);
}

static void sync_writes_and_reports_zero(void **state)
{
    (void)state;
    da_arena *a;
    assert_int_equal(da_arena_open(&a, NULL), 0);
    assert_int_equal(da_arena_sync(a), 0); /* an empty file too */
    assert_int_equal(da_arena_resize(a, 3 * page), 0);
    memset(da_arena_base(a), 7, 3 * page);
    assert_int_equal(da_arena_sync(a), 0);
    assert_int_equal(da_arena_error(a), 0);
    /* the bytes are in the file, not only in this mapping */
    int fd;
    unsigned char b[16];
    assert_true(t_arena_fds(a, &fd, 1) == 1);
    assert_int_equal(pread(fd, b, sizeof b, (off_t)(2 * page)), sizeof b);
    assert_int_equal(b[0], 7);
    assert_int_equal(b[15], 7);
    assert_int_equal(da_arena_close(a), 0);
}

/* Guarantee 3: whatever happens in between, one mapping, and back to the
 * baseline after close.  DA_TEST_RESIZES overrides the count. */
static void many_resizes_one_mapping(void **state)
{
    (void)state;
    const char *env = getenv("DA_TEST_RESIZES");
    long n = env ? atol(env) : 100000;
    int maps = t_maps_count(), fds = t_fd_count();
    da_config c = t_config(0, t_fast_dir());
    da_arena *a;
    assert_int_equal(da_arena_open(&a, &c), 0);
    unsigned char *base = da_arena_base(a);
    size_t reserved = da_arena_reserved(a), size = 0;
    for (long i = 0; i < n; i++) {
        size = (size_t)((i * 7919) % 61) * page / 3; /* grows and shrinks, odd sizes too */
        assert_int_equal(da_arena_resize(a, size), 0);
        if (size)
            base[size - 1] = (unsigned char)i;
        if (i % 20000 == 0) {
            assert_int_equal(t_mappings_in(base, reserved), 1);
            assert_int_equal(t_mapping_len(base), reserved);
        }
    }
    assert_ptr_equal(da_arena_base(a), base);
    assert_int_equal(da_arena_size(a), size);
    assert_int_equal(t_maps_count(), maps + 1);
    assert_int_equal(t_fd_count(), fds + 1);
    assert_int_equal(da_arena_close(a), 0);
    assert_int_equal(t_maps_count(), maps);
    assert_int_equal(t_fd_count(), fds);
}

static void open_fd_keeps_caller_bytes(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    unsigned char bytes[10000], back[10000];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (unsigned char)(i * 31 + 7);
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/data", dir);
    t_write_file(path, bytes, sizeof bytes);
    int fd = open(path, O_RDWR), fds = t_fd_count(), maps = t_maps_count(), fl[4];
    assert_true(fd >= 0);

    da_arena *a;
    assert_int_equal(da_arena_open_fd(&a, fd, NULL), 0);
    assert_int_equal(da_arena_size(a), sizeof bytes);
    assert_memory_equal(da_arena_base(a), bytes, sizeof bytes);
    assert_int_equal(t_fd_count(), fds + 1);
    assert_int_equal(t_arena_fds(a, fl, 4), 2); /* the caller's and the arena's own */
    int own = fl[0] == fd ? fl[1] : fl[0];
    assert_int_not_equal(own, fd);
    assert_true(fcntl(own, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0); /* the caller's is untouched */

    /* the caller's bytes count as allocated: blocks go after them */
    void *p;
    assert_int_equal(da_alloc(a, 100, 1, &p), 0);
    assert_true((unsigned char *)p >= (unsigned char *)da_arena_base(a) + sizeof bytes);
    memset(p, 0xAB, 100);
    assert_memory_equal(da_arena_base(a), bytes, sizeof bytes);
    size_t size = da_arena_size(a);
    size_t block_off = (size_t)((unsigned char *)p - (unsigned char *)da_arena_base(a));
    assert_int_equal(da_arena_close(a), 0);
    assert_int_equal(t_fd_count(), fds);
    assert_int_equal(t_maps_count(), maps);

    /* the caller's descriptor still works and sees the bytes */
    assert_int_equal(pread(fd, back, sizeof back, 0), sizeof back);
    assert_memory_equal(back, bytes, sizeof bytes);
    assert_int_equal(t_path_size(path), (long long)size);
    unsigned char b = 0;
    assert_int_equal(pread(fd, &b, 1, (off_t)block_off), 1);
    assert_int_equal(b, 0xAB); /* the block's bytes went to the caller's file */
    /* and no lock outlives the arena (regression: the dup shares the flock) */
    int other = open(path, O_RDWR | O_CLOEXEC);
    assert_int_equal(flock(other, LOCK_EX | LOCK_NB), 0);
    close(other);
    close(fd);
    t_rm_rf(dir);
}

static void open_fd_larger_than_reserve(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/data", dir);
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    assert_int_equal(ftruncate(fd, (off_t)(3 * page)), 0);
    da_config c = t_config(2 * page, NULL);
    da_arena *a;
    t_snap s;
    t_snap_take(&s, NULL, NULL);
    assert_int_equal(da_arena_open_fd(&a, fd, &c), DA_ECAPACITY);
    assert_null(a);
    t_snap_same(&s, NULL, NULL);
    assert_int_equal(t_path_size(path), 3 * page);
    c.reserve = 3 * page; /* exactly the file: fits */
    assert_int_equal(da_arena_open_fd(&a, fd, &c), 0);
    assert_int_equal(da_arena_size(a), 3 * page);
    assert_int_equal(da_arena_close(a), 0);
    close(fd);
    t_rm_rf(dir);
}

/* ---- the caller's file with holes (C2) --------------------------------------------------- */

/* A file of 64 pages whose only data is page 10: a sparse copy. */
static int sparse_file(const char *path, long long *blocks)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)(64 * page)), 0);
    assert_int_equal(pwrite(fd, "data", 4, (off_t)(10 * page)), 4);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    *blocks = st.st_blocks;
    return fd;
}

static long long blocks_of(int fd)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    return st.st_blocks;
}

/* DA_SPARSE leaves the caller's holes alone; without it they are allocated
 * at open, by fallocate or, where the file system has none, by writing zeros
 * into the holes only. */
static void open_fd_holes(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/data", dir);
    long long blocks;
    int fd = sparse_file(path, &blocks);
    uint64_t hash = t_path_hash(path);
    da_config sparse = {0, NULL, DA_SPARSE};
    da_arena *a;
    assert_int_equal(da_arena_open_fd(&a, fd, &sparse), 0);
    assert_int_equal(da_arena_size(a), 64 * page);
    assert_int_equal(da_arena_close(a), 0);
    assert_int_equal(blocks_of(fd), blocks);

    for (int no_fallocate = 0; no_fallocate < 2; no_fallocate++) {
        close(fd);
        fd = sparse_file(path, &blocks);
        if (no_fallocate)
            t_fail_always("diskalloc/fallocate", EOPNOTSUPP);
        assert_int_equal(da_arena_open_fd(&a, fd, NULL), 0);
        t_fail_off();
        assert_true(blocks_of(fd) * 512 >= (long long)(64 * page));
        assert_int_equal(da_arena_close(a), 0);
        assert_int_equal(t_path_size(path), (long long)(64 * page));
        assert_true(t_path_hash(path) == hash);
    }
    close(fd);
    t_rm_rf(dir);
}

/* Where holes are found with lseek (no fallocate), a failed SEEK_HOLE or
 * SEEK_DATA (an NFS or FUSE error) fails the open with its errno: nothing
 * mapped or leaked, no lock left, the file's size and bytes as they were. */
static void open_fd_hole_search_fails(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/data", dir);
    for (unsigned n = 1; n <= 2; n++) { /* 1: SEEK_HOLE, 2: SEEK_DATA */
        long long blocks;
        int fd = sparse_file(path, &blocks);
        uint64_t hash = t_path_hash(path);
        t_snap s;
        t_snap_take(&s, NULL, NULL);
        t_fail_always("diskalloc/fallocate", EOPNOTSUPP);
        t_fail_nth("diskalloc/lseek", EIO, n);
        da_arena *a;
        int e = da_arena_open_fd(&a, fd, NULL);
        t_fail_off();
        assert_int_equal(e, EIO);
        assert_null(a);
        t_snap_same(&s, NULL, NULL);
        assert_int_equal(t_path_size(path), (long long)(64 * page));
        assert_true(t_path_hash(path) == hash);
        assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0); /* nobody else holds it */
        close(fd);
    }
    t_rm_rf(dir);
}

/* ---- the caller's descriptor ------------------------------------------------------------- */

typedef struct swap { int fd, with; } swap;
static void fd_swapped(void *arg)
{
    swap *w = arg;
    assert_int_equal(dup2(w->with, w->fd), w->fd);
}

/* Another thread closes the caller's fd and the number is reused for
 * another file between the arena's check of fd and its reopening through
 * /proc/self/fd: DA_EINVAL, neither file locked or changed. */
static void open_fd_reused_meanwhile(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16], other[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/data", dir);
    snprintf(other, sizeof other, "%s/other", dir);
    t_write_file(path, "mine", 4);
    t_write_file(other, "theirs", 6);
    const char *with[] = {other, "/dev/null"}; /* the same file system, another one */
    for (int i = 0; i < 2; i++) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        int w = open(with[i], O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0 && w >= 0);
        swap sw = {fd, w};
        t_snap s;
        t_snap_take(&s, NULL, NULL);
        t_meanwhile("diskalloc/open", 1, fd_swapped, &sw, 0); /* 1: /proc/self/fd/N */
        da_arena *a;
        int e = da_arena_open_fd(&a, fd, NULL);
        t_fail_off();
        if (e != DA_EINVAL)
            fail_msg("fd reused for %s meanwhile: da_arena_open_fd returned %d", with[i], e);
        assert_null(a);
        t_snap_same(&s, NULL, NULL);
        for (int j = 0; j < 2; j++) {
            int l = open(j ? other : path, O_RDONLY | O_CLOEXEC);
            assert_int_equal(flock(l, LOCK_EX | LOCK_NB), 0);
            close(l);
        }
        assert_int_equal(t_path_size(path), 4);
        assert_int_equal(t_path_size(other), 6);
        close(fd);
        close(w);
    }
    t_rm_rf(dir);
}

/* Open for reading and writing, yet not a regular file: a FIFO, /dev/null.
 * DA_EINVAL, nothing opened, mapped or locked. */
static void open_fd_not_regular(void **state)
{
    (void)state;
    char dir[PATH_MAX], fifo[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    const char *paths[] = {fifo, "/dev/null"};
    for (int i = 0; i < 2; i++) {
        int fd = open(paths[i], O_RDWR | O_NONBLOCK | O_CLOEXEC); /* O_RDWR: a FIFO opens at once */
        assert_true(fd >= 0);
        t_snap s;
        t_snap_take(&s, NULL, NULL);
        da_arena *a;
        int e = da_arena_open_fd(&a, fd, NULL);
        if (e != DA_EINVAL)
            fail_msg("da_arena_open_fd over %s returned %d, want DA_EINVAL", paths[i], e);
        assert_null(a);
        t_snap_same(&s, NULL, NULL);
        assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
        close(fd);
    }
    t_rm_rf(dir);
}

/* ---- a vector's own arena (C1) -------------------------------------------------------------- */

/* Every allocator call refuses a vector's own arena and changes nothing;
 * da_free ignores it; the vector keeps working. */
static void own_arena_refuses_allocator(void **state)
{
    (void)state;
    da_vec v, w;
    assert_int_equal(da_vec_init(&v, 8, NULL), 0);
    for (uint64_t i = 0; i < 600; i++)
        assert_int_equal(da_vec_push(&v, &i), 0);
    da_arena *a = da_vec_arena(&v);
    t_snap s;
    t_snap_take(&s, a, &v);
    void *p = v.data, *q = NULL;
    size_t bytes = v.cap * 8;
    assert_int_equal(da_alloc(a, 64, 8, &q), DA_EINVAL);
    assert_int_equal(da_alloc_zeroed(a, 64, 8, &q), DA_EINVAL);
    assert_int_equal(da_grow(a, &p, bytes, 2 * bytes, 8), DA_EINVAL);
    assert_int_equal(da_grow_zeroed(a, &p, bytes, 2 * bytes, 8), DA_EINVAL);
    assert_int_equal(da_shrink(a, &p, bytes, 8, 8), DA_EINVAL);
    assert_int_equal(da_arena_resize(a, 0), DA_EINVAL);
    assert_int_equal(da_vec_init_in(&w, 8, a), DA_EINVAL);
    da_free(a, p, bytes);
    assert_null(q);
    assert_ptr_equal(p, v.data);
    t_snap_same(&s, a, &v);
    for (uint64_t i = 0; i < 600; i++)
        assert_int_equal(*(uint64_t *)da_vec_at(&v, i), i);
    uint64_t x = 600;
    assert_int_equal(da_vec_push(&v, &x), 0);
    assert_int_equal(da_vec_close(&v), 0);
}

/* ---- a child that skipped the fork handlers ----------------------------------------------- */

/* A child made by the raw clone system call runs no pthread_atfork handler,
 * so its copy of the arena is not marked as inherited; closing it must
 * still leave the parent's lock and file alone (the arena knows the process
 * that opened it). */
static int raw_child(void *arg)
{
    da_arena *a = arg;
    C_CHECK(da_arena_close(a) == 0);
    return 0;
}

static void raw_clone_child_keeps_lock(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/data", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    da_arena *a;
    assert_int_equal(da_arena_open_fd(&a, fd, NULL), 0);
    assert_int_equal(da_arena_resize(a, 3 * page), 0);
    memset(da_arena_base(a), 7, 3 * page);
    fflush(NULL);
    long pid = syscall(SYS_clone, (unsigned long)SIGCHLD, 0, 0, 0, 0);
    assert_true(pid >= 0);
    if (pid == 0) {
        t_child_init();
        t_child_exit(raw_child(a));
    }
    int status;
    assert_int_equal(waitpid((pid_t)pid, &status, 0), (pid_t)pid);
    t_assert_child_ok(status, "da_arena_close in a raw clone child");
    da_arena *b;
    assert_int_equal(da_arena_open_fd(&b, fd, NULL), EWOULDBLOCK); /* still the parent's */
    assert_int_equal(t_path_size(path), (long long)(3 * page));
    assert_int_equal(((unsigned char *)da_arena_base(a))[3 * page - 1], 7);
    assert_int_equal(da_arena_sync(a), 0);
    assert_int_equal(da_arena_close(a), 0);
    assert_int_equal(da_arena_open_fd(&b, fd, NULL), 0);
    assert_int_equal(da_arena_close(b), 0);
    close(fd);
    t_rm_rf(dir);
}

/* The arena's file: no name, 0600 whatever the umask, close-on-exec. */
static void assert_unnamed_private(const da_arena *a, const char *dir, const char *link_part)
{
    int fd;
    char proc[64], target[PATH_MAX];
    struct stat st;
    assert_int_equal(t_arena_fds(a, &fd, 1), 1);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_nlink, 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(t_dir_entries(dir), 0);
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(proc, target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    if (!strstr(target, link_part) || !strstr(target, dir))
        fail_msg("temp file %s: expected it in %s, named like \"%s\"", target, dir, link_part);
}

static void temp_file_unnamed(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    t_scratch(dir, sizeof dir);
    da_config c = t_config(0, dir);
    da_arena *a;
    mode_t old = umask(0);
    int e = da_arena_open(&a, &c);
    umask(old);
    assert_int_equal(e, 0);
    assert_unnamed_private(a, dir, "/#"); /* O_TMPFILE's name for its inode */
    assert_int_equal(da_arena_close(a), 0);
    assert_int_equal(t_dir_entries(dir), 0);

    /* where O_TMPFILE is refused: mkostemp + unlink, just as private */
    static const int refusals[] = {EOPNOTSUPP, EISDIR};
    for (size_t i = 0; i < 2; i++) {
        t_fail_once("diskalloc/open", refusals[i]);
        old = umask(0);
        e = da_arena_open(&a, &c);
        umask(old);
        t_fail_off();
        assert_int_equal(e, 0);
        assert_unnamed_private(a, dir, "/diskalloc-");
        assert_int_equal(da_arena_resize(a, page), 0);
        assert_int_equal(da_arena_close(a), 0);
        assert_int_equal(t_dir_entries(dir), 0);
    }
    t_rm_rf(dir);
}

static int open_and_die(void *arg)
{
    const char *dir = arg;
    /* small: valgrind scans a dying process's mappings page by page */
    da_config c = t_config(16 * page, dir);
    da_arena *a, *b;
    C_CHECK(da_arena_open(&a, &c) == 0);
    C_CHECK(da_arena_resize(a, page) == 0);
    t_fail_once("diskalloc/open", EOPNOTSUPP); /* the mkostemp path */
    C_CHECK(da_arena_open(&b, &c) == 0);
    C_CHECK(da_arena_resize(b, page) == 0);
    raise(SIGKILL);
    return 1;
}

static void temp_file_gone_when_killed(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    t_scratch(dir, sizeof dir);
    int status = t_child(open_and_die, dir);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_int_equal(t_dir_entries(dir), 0);
    t_rm_rf(dir);
}

/* DISKALLOC_RESERVE: binary units, rounded to pages; da_config.reserve wins. */
static void reserve_override(void **state)
{
    (void)state;
    static const struct { const char *text; size_t bytes; } ok[] = {
        {"64M", (size_t)64 << 20}, {"2MiB", (size_t)2 << 20}, {"1MB", (size_t)1 << 20},
        {"1k", 4096},              {"8192", 8192},            {"5000", 8192},
        {"3G", (size_t)3 << 30},
    };
    const char *old = getenv("DISKALLOC_RESERVE");
    char saved[64] = "";
    if (old)
        snprintf(saved, sizeof saved, "%s", old);
    size_t got[sizeof ok / sizeof ok[0]], with_cfg = 0;
    da_arena *a;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        setenv("DISKALLOC_RESERVE", ok[i].text, 1);
        got[i] = da_arena_open(&a, NULL) == 0 ? da_arena_reserved(a) : 0;
        if (got[i])
            da_arena_close(a);
    }
    da_config c = t_config(page * 3, NULL);
    if (da_arena_open(&a, &c) == 0) {
        with_cfg = da_arena_reserved(a);
        da_arena_close(a);
    }
    if (*saved)
        setenv("DISKALLOC_RESERVE", saved, 1);
    else
        unsetenv("DISKALLOC_RESERVE");
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (got[i] != ok[i].bytes)
            fail_msg("DISKALLOC_RESERVE=%s reserved %zu, not %zu", ok[i].text, got[i],
                     ok[i].bytes);
    assert_int_equal(with_cfg, page * 3);
}

int main(void)
{
    t_main_init();
    page = (size_t)sysconf(_SC_PAGESIZE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(open_close_one_mapping),
        cmocka_unit_test(resize_grow_shrink),
        cmocka_unit_test(resize_bounded_by_reserve),
        cmocka_unit_test(sparse_flag_skips_allocation),
        cmocka_unit_test(sync_writes_and_reports_zero),
        cmocka_unit_test(many_resizes_one_mapping),
        cmocka_unit_test(open_fd_keeps_caller_bytes),
        cmocka_unit_test(open_fd_larger_than_reserve),
        cmocka_unit_test(open_fd_holes),
        cmocka_unit_test(open_fd_hole_search_fails),
        cmocka_unit_test(open_fd_reused_meanwhile),
        cmocka_unit_test(open_fd_not_regular),
        cmocka_unit_test(own_arena_refuses_allocator),
        cmocka_unit_test(raw_clone_child_keeps_lock),
        cmocka_unit_test(temp_file_unnamed),
        cmocka_unit_test(temp_file_gone_when_killed),
        cmocka_unit_test(reserve_override),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
