/* Fail points: the exported list and the DA_FP() calls in the source are the
 * same set; every point is reached by some API call that then returns the
 * armed errno; and, SQLite-style, every reach of every point in a set of
 * composite operations is failed in turn (the 1st, 2nd, ... call): the
 * operation either succeeds with its full effect or returns the errno having
 * changed nothing (length, capacity, contents, sizes, file, maps, fds). */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#define FP(name) "diskalloc/" name
static size_t page;
static char dir[PATH_MAX], path[PATH_MAX + 16];

static int in_list(const char *name)
{
    for (const char *const *p = da_failpoint_names(); *p; p++)
        if (strcmp(*p, name) == 0)
            return 1;
    return 0;
}

/* ---- the list is the source's ------------------------------------------------------ */

static void list_matches_source(void **state)
{
    (void)state;
    FILE *f = fopen(CORE_SRC_PATH, "r");
    if (!f)
        T_SKIP("core source %s not readable from here", CORE_SRC_PATH);
    static char src[1 << 20];
    size_t n = fread(src, 1, sizeof src - 1, f);
    fclose(f);
    src[n] = '\0';
    int used = 0;
    for (const char *p = src; (p = strstr(p, "DA_FP(\"")) != NULL; used++) {
        char name[64] = FP("");
        p += 7;
        size_t len = strcspn(p, "\"");
        assert_true(len < sizeof name - 10);
        strncat(name, p, len);
        if (!in_list(name))
            fail_msg("the source fails at %s, which da_failpoint_names() does not list", name);
    }
    assert_true(used > 0);
    for (const char *const *p = da_failpoint_names(); *p; p++) {
        char call[64];
        snprintf(call, sizeof call, "DA_FP(\"%s\")", *p + strlen(FP("")));
        if (!strstr(src, call))
            fail_msg("%s is listed but the source never fails there", *p);
    }
}

/* ---- each point, reached ------------------------------------------------------------ */

typedef int (*reach_fn)(int err);

static int reach_open(int err)
{
    da_config c = t_config(0, dir);
    da_arena *a;
    da_vec v;
    t_fail_once(FP("open"), err);
    int e = da_arena_open(&a, &c);
    t_fail_once(FP("open"), err);
    assert_int_equal(da_vec_open(&v, path, 8, NULL), e);
    assert_int_equal(t_path_size(path), -1);
    return e;
}

static int reach_temp_fallback(const char *point, int err)
{
    da_config c = t_config(0, dir);
    da_arena *a;
    t_fail_once(FP("open"), EOPNOTSUPP);
    t_fail_once(point, err);
    int e = da_arena_open(&a, &c);
    /* the point skipped the real unlink: the named file is still there */
    if (strcmp(point, FP("unlink")) == 0) {
        assert_int_equal(t_dir_entries(dir), 1);
        t_rm_rf(dir);
        assert_int_equal(mkdir(dir, 0700), 0);
    }
    return e;
}

static int reach_mkostemp(int err) { return reach_temp_fallback(FP("mkostemp"), err); }
static int reach_unlink(int err) { return reach_temp_fallback(FP("unlink"), err); }

static int reach_open_fd(const char *point, int err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    da_arena *a;
    t_fail_once(point, err);
    int e = da_arena_open_fd(&a, fd, NULL);
    close(fd);
    da_vec v; /* fstat and flock: da_vec_open meets them too */
    t_fail_once(point, err);
    assert_int_equal(da_vec_open(&v, path, 8, NULL), e);
    unlink(path);
    return e;
}

static int reach_fstat(int err) { return reach_open_fd(FP("fstat"), err); }

/* The holes of a caller's file, looked for with lseek where fallocate is
 * missing: the open fails, the file keeps its size. */
static int reach_lseek(int err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)(3 * page)), 0);
    assert_int_equal(pwrite(fd, "x", 1, (off_t)page), 1);
    da_arena *a;
    t_fail_always(FP("fallocate"), EOPNOTSUPP);
    t_fail_once(FP("lseek"), err);
    int e = da_arena_open_fd(&a, fd, NULL);
    t_fail_off();
    close(fd);
    assert_int_equal(t_path_size(path), 3 * page);
    unlink(path);
    return e;
}

/* The header read of an existing vector file, by da_vec_open and
 * da_vec_inspect alike. */
static int reach_pread(int err)
{
    da_vec v;
    assert_int_equal(da_vec_open(&v, path, 8, NULL), 0);
    assert_int_equal(da_vec_close(&v), 0);
    uint64_t hash = t_path_hash(path);
    t_fail_once(FP("pread"), err);
    int e = da_vec_open(&v, path, 8, NULL);
    da_file_info in;
    t_fail_once(FP("pread"), err);
    assert_int_equal(da_vec_inspect(path, &in), e);
    assert_true(t_path_hash(path) == hash);
    unlink(path);
    return e;
}
static int reach_flock(int err) { return reach_open_fd(FP("flock"), err); }

static int reach_new_arena(const char *point, int err)
{
    da_arena *a;
    t_fail_once(point, err);
    return da_arena_open(&a, NULL);
}

static int reach_calloc(int err) { return reach_new_arena(FP("calloc"), err); }
static int reach_mmap(int err) { return reach_new_arena(FP("mmap"), err); }

static int reach_munmap(int err)
{
    da_arena *a;
    int maps = t_maps_count(), fds = t_fd_count();
    assert_int_equal(da_arena_open(&a, NULL), 0);
    void *base = da_arena_base(a);
    size_t reserved = da_arena_reserved(a);
    t_fail_once(FP("munmap"), err);
    int e = da_arena_close(a); /* the arena is gone either way */
    assert_int_equal(t_fd_count(), fds);
    /* the point skipped the real munmap: the range is leaked, as documented */
    assert_int_equal(t_mapping_len(base), reserved);
    assert_int_equal(munmap(base, reserved), 0);
    assert_int_equal(t_maps_count(), maps);
    return e;
}

/* An arena with one page of data; fn fails `point` once; nothing else changes. */
static int reach_in_arena(const char *point, int err, int (*fn)(da_arena *))
{
    da_arena *a;
    assert_int_equal(da_arena_open(&a, NULL), 0);
    assert_int_equal(da_arena_resize(a, 2 * page), 0);
    memset(da_arena_base(a), 0x3C, 2 * page);
    t_snap s;
    t_snap_take(&s, a, NULL);
    t_fail_once(point, err);
    int e = fn(a);
    t_fail_off();
    if (strcmp(point, FP("msync")) == 0 || strcmp(point, FP("fsync")) == 0) {
        assert_int_equal(da_arena_error(a), e); /* sticky by design */
        s.error = e;
    }
    t_snap_same(&s, a, NULL);
    int sticky = strcmp(point, FP("msync")) == 0 || strcmp(point, FP("fsync")) == 0;
    assert_int_equal(da_arena_close(a), sticky ? e : 0);
    return e;
}

static int grow(da_arena *a) { return da_arena_resize(a, 40 * page); }
static int shrink(da_arena *a) { return da_arena_resize(a, page); }
static int sync_arena(da_arena *a) { return da_arena_sync(a); }
static int grow_by_zeros(da_arena *a)
{
    t_fail_always(FP("fallocate"), EOPNOTSUPP); /* the zero-writing fallback */
    return da_arena_resize(a, 40 * page);
}

static int reach_ftruncate(int err)
{
    int e = reach_in_arena(FP("ftruncate"), err, shrink);
    assert_int_equal(reach_in_arena(FP("ftruncate"), err, grow), e);
    return e;
}
static int reach_fallocate(int err) { return reach_in_arena(FP("fallocate"), err, grow); }
static int reach_pwrite(int err) { return reach_in_arena(FP("pwrite"), err, grow_by_zeros); }
static int reach_msync(int err) { return reach_in_arena(FP("msync"), err, sync_arena); }
static int reach_fsync(int err) { return reach_in_arena(FP("fsync"), err, sync_arena); }

static const struct { const char *point; reach_fn fn; int err; } reaches[] = {
    {FP("open"), reach_open, EACCES},         {FP("mkostemp"), reach_mkostemp, EMFILE},
    {FP("unlink"), reach_unlink, EPERM},
    {FP("fstat"), reach_fstat, EIO},          {FP("flock"), reach_flock, ENOLCK},
    {FP("calloc"), reach_calloc, ENOMEM},     {FP("mmap"), reach_mmap, ENODEV},
    {FP("munmap"), reach_munmap, EBUSY},      {FP("ftruncate"), reach_ftruncate, EIO},
    {FP("fallocate"), reach_fallocate, ENOSPC}, {FP("pwrite"), reach_pwrite, EDQUOT},
    {FP("msync"), reach_msync, EIO},          {FP("fsync"), reach_fsync, EROFS},
    {FP("lseek"), reach_lseek, EIO},          {FP("pread"), reach_pread, EIO},
};

static void every_point_reached(void **state)
{
    (void)state;
    for (const char *const *p = da_failpoint_names(); *p; p++) {
        size_t i = 0;
        while (i < sizeof reaches / sizeof reaches[0] && strcmp(reaches[i].point, *p) != 0)
            i++;
        if (i == sizeof reaches / sizeof reaches[0])
            fail_msg("fail point %s has no test that reaches it", *p);
        int maps = t_maps_count(), fds = t_fd_count();
        int e = reaches[i].fn(reaches[i].err);
        t_fail_off();
        if (e != reaches[i].err)
            fail_msg("armed %s with errno %d; the call returned %d", *p, reaches[i].err, e);
        assert_int_equal(t_maps_count(), maps);
        assert_int_equal(t_fd_count(), fds);
        assert_int_equal(t_dir_entries(dir), 0);
    }
    for (size_t i = 0; i < sizeof reaches / sizeof reaches[0]; i++)
        assert_true(in_list(reaches[i].point));
}

/* ---- count-down: fail the 1st, 2nd, ... reach of each point ------------------------------ */

#define ERR ENOTRECOVERABLE /* an errno nothing here produces by itself */

typedef struct op_ctx {
    da_arena *a;
    da_vec v, w;
    int fd;       /* the caller's descriptor (open_fd), 0 = none */
    uint64_t hdr; /* hash of v's header area (the file before its data) */
} op_ctx;

typedef struct countdown {
    const char *name;
    void (*setup)(op_ctx *);
    int (*op)(op_ctx *);
    void (*check_done)(op_ctx *); /* the effect of a successful op */
    int sync_op;                  /* a failure poisons the arena by design */
    int syncs_first;              /* a documented sync precedes the change: the header
                                     may be rewritten (with the current length) */
    void (*check_failed)(op_ctx *); /* more that a failed op must have left alone */
    int result;                   /* what the op returns when nothing fails (0, or an
                                     error the state forces) */
} countdown;

static uint64_t val(uint64_t i) { return i * 0x2545F4914F6CDD1Dull + 3; }

static void fill(da_vec *v, size_t n)
{
    for (uint64_t i = v->len; i < n; i++) {
        uint64_t x = val(i);
        assert_int_equal(da_vec_push(v, &x), 0);
    }
}

static void check_values(const da_vec *v, size_t len)
{
    assert_int_equal(v->len, len);
    for (size_t i = 0; i < len; i++)
        assert_true(*(uint64_t *)da_vec_at(v, i) == val(i));
}

static da_arena *ctx_arena(op_ctx *c) { return c->a ? c->a : da_vec_arena(&c->v); }

/* own arena, full capacity: a push must grow the file */
static void setup_full(op_ctx *c)
{
    assert_int_equal(da_vec_init(&c->v, 8, NULL), 0);
    fill(&c->v, 1);
    fill(&c->v, c->v.cap);
}
static int op_push(op_ctx *c)
{
    uint64_t x = val(c->v.len);
    return da_vec_push(&c->v, &x);
}
static void done_push(op_ctx *c) { check_values(&c->v, (64 << 10) / 8 + 1); }

/* shared arena, v not last: reserving moves it (allocate, copy, punch) */
static void setup_shared(op_ctx *c)
{
    assert_int_equal(da_arena_open(&c->a, NULL), 0);
    assert_int_equal(da_vec_init_in(&c->v, 8, c->a), 0);
    assert_int_equal(da_vec_init_in(&c->w, 8, c->a), 0);
    fill(&c->v, 3000);
    fill(&c->w, 10);
}
static int op_move(op_ctx *c) { return da_vec_try_reserve_exact(&c->v, c->v.cap); }
static void done_move(op_ctx *c)
{
    check_values(&c->v, 3000);
    check_values(&c->w, 10);
    assert_true(c->v.cap >= 3000 + (64 << 10) / 8);
}

/* own arena: shrink_to_fit after a truncate */
static void setup_shrink(op_ctx *c)
{
    assert_int_equal(da_vec_init(&c->v, 8, NULL), 0);
    fill(&c->v, 100000);
    da_vec_truncate(&c->v, 10);
}
static int op_shrink(op_ctx *c) { return da_vec_shrink_to_fit(&c->v); }
static void done_shrink(op_ctx *c)
{
    check_values(&c->v, 10);
    assert_int_equal(da_arena_size(da_vec_arena(&c->v)), page);
}

/* persistent: reopen an existing file */
static void setup_file(op_ctx *c)
{
    da_vec v;
    (void)c;
    assert_int_equal(da_vec_open(&v, path, 8, NULL), 0);
    fill(&v, 5000);
    assert_int_equal(da_vec_close(&v), 0);
}
static int op_reopen(op_ctx *c) { return da_vec_open(&c->w, path, 8, NULL); }
static void done_reopen(op_ctx *c) { check_values(&c->w, 5000); }

/* persistent: create a new file; a failure leaves no file behind (C6) */
static void setup_none(op_ctx *c) { (void)c; }
static void done_create(op_ctx *c) { check_values(&c->w, 0); }
static void failed_create(op_ctx *c)
{
    (void)c;
    if (t_path_size(path) != -1)
        fail_msg("a failed create left %s behind (%lld bytes; C6: nothing it created stays)",
                 path, t_path_size(path));
}

/* persistent: sync, then shrink below the synced length (syncs first) */
static void setup_persistent(op_ctx *c)
{
    setup_file(c);
    assert_int_equal(da_vec_open(&c->v, path, 8, NULL), 0);
    fill(&c->v, 8000);
}
static int op_psync(op_ctx *c) { return da_vec_sync(&c->v); }
static void done_psync(op_ctx *c)
{
    check_values(&c->v, 8000);
    assert_int_equal(da_vec_close(&c->v), 0);
    da_vec v;
    assert_int_equal(da_vec_open(&v, path, 8, NULL), 0);
    check_values(&v, 8000);
    assert_int_equal(da_vec_close(&v), 0);
}
/* C5: shrink_to_fit writes no header and keeps room for the synced length:
 * synced at 8000, grown to 30000, truncated to 100, it shrinks the file to
 * the 8000 (the only call that changes the file), header untouched. */
static uint64_t header_hash(const da_vec *v)
{
    const char *base = da_arena_base(da_vec_arena(v));
    return t_hash(base, (size_t)((const char *)v->data - base));
}
static void setup_truncated(op_ctx *c)
{
    setup_persistent(c);
    assert_int_equal(da_vec_sync(&c->v), 0);
    fill(&c->v, 30000);
    da_vec_truncate(&c->v, 100);
    c->hdr = header_hash(&c->v);
}
static int op_pshrink(op_ctx *c) { return da_vec_shrink_to_fit(&c->v); }
static void done_pshrink(op_ctx *c)
{
    check_values(&c->v, 100);
    if (header_hash(&c->v) != c->hdr)
        fail_msg("shrink_to_fit of a persistent vector wrote its header (C5: never)");
    assert_int_equal(c->v.cap, (8000 * 8 + page - 1) / page * page / 8);
    assert_int_equal(da_vec_close(&c->v), 0);
    da_vec v;
    assert_int_equal(da_vec_open(&v, path, 8, NULL), 0);
    check_values(&v, 100);
    assert_int_equal(da_vec_close(&v), 0);
}

/* da_arena_open_fd on a file whose flock the caller holds on its own
 * descriptor: EWOULDBLOCK (C3), and the caller keeps its lock whatever
 * fails (defect 4: the failure path's LOCK_UN released it). */
static void setup_locked(op_ctx *c)
{
    static const char bytes[3 * 4096 + 5] = "caller's file";
    t_write_file(path, bytes, sizeof bytes);
    c->fd = open(path, O_RDWR | O_CLOEXEC);
    assert_true(c->fd > 0);
    assert_int_equal(flock(c->fd, LOCK_EX | LOCK_NB), 0);
}
static int op_open_locked(op_ctx *c) { return da_arena_open_fd(&c->a, c->fd, NULL); }
static void caller_keeps_lock(op_ctx *c)
{
    assert_null(c->a);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    int free_ = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    if (free_)
        fail_msg("da_arena_open_fd released the flock the caller holds (C3)");
}

static const countdown ops[] = {
    {"push that grows the file", setup_full, op_push, done_push, 0, 0, NULL, 0},
    {"reserve that moves a shared block", setup_shared, op_move, done_move, 0, 0, NULL, 0},
    {"shrink_to_fit", setup_shrink, op_shrink, done_shrink, 0, 0, NULL, 0},
    {"reopen a persistent file", setup_file, op_reopen, done_reopen, 0, 0, NULL, 0},
    {"create a persistent file", setup_none, op_reopen, done_create, 1, 0, failed_create, 0},
    {"sync a persistent vector", setup_persistent, op_psync, done_psync, 1, 0, NULL, 0},
    {"shrink a persistent vector below its sync", setup_truncated, op_pshrink, done_pshrink, 0,
     0, NULL, 0},
    {"open_fd of a file the caller has locked", setup_locked, op_open_locked, caller_keeps_lock,
     0, 0, caller_keeps_lock, EWOULDBLOCK},
};

static void teardown_ctx(op_ctx *c)
{
    da_vec_close(&c->v);
    da_vec_close(&c->w);
    da_arena_close(c->a);
    if (c->fd > 0)
        close(c->fd);
    memset(c, 0, sizeof *c);
    unlink(path);
}

/* One run: fail the nth reach of point (n = 0: none); returns whether the
 * point was reached at least n times. */
static int run_once(const countdown *cd, const char *point, unsigned n, unsigned *reached)
{
    op_ctx c;
    memset(&c, 0, sizeof c);
    cd->setup(&c);
    da_arena *a = ctx_arena(&c);
    da_vec *v = c.v.arena_ ? &c.v : NULL;
    t_snap s;
    t_snap_take(&s, a, v);
    uint64_t file = a ? 0 : (t_path_size(path) >= 0 ? t_path_hash(path) : 0);
    t_fail_nth(point, ERR, n);
    int e = cd->op(&c);
    *reached = t_reached(point);
    t_fail_off();
    /* calloc reports ENOMEM, as calloc does, whatever errno was armed */
    int want = strcmp(point, FP("calloc")) == 0 ? ENOMEM : ERR;
    if (e == cd->result) {
        cd->check_done(&c);
    } else {
        if (n == 0)
            fail_msg("%s with no fault armed: returned %d, expected %d", cd->name, e,
                     cd->result);
        if (e != want)
            fail_msg("%s with the %u. reach of %s failing: returned %d, expected %d or the "
                     "armed %d",
                     cd->name, n, point, e, cd->result, want);
        if (cd->sync_op && a)
            s.error = da_arena_error(a);
        if (cd->syncs_first && a) {
            t_snap now;
            t_snap_take(&now, a, v);
            s.file_hash = now.file_hash;
        }
        char why[1024];
        if (t_snap_diff(&s, a, v, why, sizeof why))
            fail_msg("%s with the %u. reach of %s failed (%d) and changed: %s", cd->name, n,
                     point, e, why);
        if (!a && file)
            assert_true(t_path_hash(path) == file); /* a refused open left the file alone */
        if (cd->check_failed)
            cd->check_failed(&c);
    }
    teardown_ctx(&c);
    return *reached >= n;
}

/* One test per composite op, so that one op's failure hides no other's. */
static void countdown_every_reach(void **state)
{
    const countdown *cd = *state;
    unsigned failures = 0;
    for (const char *const *p = da_failpoint_names(); *p; p++) {
        unsigned total, got;
        run_once(cd, *p, 0, &total); /* how often the op reaches it */
        for (unsigned n = 1; n <= total; n++) {
            run_once(cd, *p, n, &got);
            failures++;
        }
    }
    print_message("# %s: %u single failures injected, each changed nothing or completed\n",
                  cd->name, failures);
    assert_true(failures > 0);
}

static int setup_dir(void **state)
{
    (void)state;
    t_scratch(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v", dir);
    return 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    t_rm_rf(dir);
    return 0;
}

int main(void)
{
    t_main_init();
    page = (size_t)sysconf(_SC_PAGESIZE);
    struct CMUnitTest tests[2 + sizeof ops / sizeof ops[0]] = {
        cmocka_unit_test(list_matches_source),
        cmocka_unit_test_setup_teardown(every_point_reached, setup_dir, teardown_dir),
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        struct CMUnitTest t = cmocka_unit_test_prestate_setup_teardown(
            countdown_every_reach, setup_dir, teardown_dir, (void *)&ops[i]);
        t.name = ops[i].name;
        tests[2 + i] = t;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
