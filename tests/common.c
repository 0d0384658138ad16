/* See common.h.  Reading /proc goes through a static buffer and raw read():
 * a counter that allocated would itself add mappings (large mallocs) and
 * descriptors (stdio) to what it counts. */
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

/* the real libfiu API: without FIU_ENABLE, fiu.h turns fiu_init into a no-op */
#define FIU_ENABLE 1
#include <fiu-control.h>
#include <fiu.h>

/* ---- /proc/self/maps ------------------------------------------------------------ */

static char maps_buf[1 << 20];

static size_t read_maps(void)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    size_t n = 0;
    ssize_t r;
    while (n < sizeof maps_buf - 1 && (r = read(fd, maps_buf + n, sizeof maps_buf - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    assert_true(n < sizeof maps_buf - 1);
    maps_buf[n] = '\0';
    return n;
}

/* Shared mappings only: the core makes nothing else, while private ones come
 * and go with malloc, ASan's allocator and valgrind, whatever the core does. */
int t_maps_count(void)
{
    read_maps();
    int shared = 0;
    char perms[8];
    for (const char *line = maps_buf; *line;) {
        if (sscanf(line, "%*x-%*x %7s", perms) == 1 && perms[3] == 's')
            shared++;
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    return shared;
}

/* Calls fn for each line of /proc/self/maps until it returns nonzero. */
typedef struct map_line {
    uintptr_t start, end;
    unsigned long long inode;
    unsigned major, minor;
} map_line;

static int each_mapping(int (*fn)(const map_line *, void *), void *arg)
{
    read_maps();
    for (char *line = maps_buf; *line;) {
        char *nl = strchr(line, '\n');
        map_line m = {0};
        if (sscanf(line, "%jx-%jx %*s %*s %x:%x %llu", (uintmax_t *)&m.start,
                   (uintmax_t *)&m.end, &m.major, &m.minor, &m.inode) == 5 &&
            fn(&m, arg))
            return 1;
        if (!nl)
            break;
        line = nl + 1;
    }
    return 0;
}

struct find_start { uintptr_t start; map_line found; };

static int match_start(const map_line *m, void *arg)
{
    struct find_start *f = arg;
    if (m->start != f->start)
        return 0;
    f->found = *m;
    return 1;
}

size_t t_mapping_len(const void *start)
{
    struct find_start f = {(uintptr_t)start, {0}};
    return each_mapping(match_start, &f) ? f.found.end - f.found.start : 0;
}

struct overlap { uintptr_t from, to; int count; };

static int count_overlap(const map_line *m, void *arg)
{
    struct overlap *o = arg;
    o->count += m->start < o->to && m->end > o->from;
    return 0;
}

int t_mappings_in(const void *p, size_t len)
{
    struct overlap o = {(uintptr_t)p, (uintptr_t)p + len, 0};
    each_mapping(count_overlap, &o);
    return o.count;
}

/* ---- descriptors --------------------------------------------------------------------- */

int t_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

int t_arena_fds(const da_arena *a, int *fds, int max)
{
    struct find_start f = {(uintptr_t)da_arena_base(a), {0}};
    if (!each_mapping(match_start, &f))
        return 0;
    dev_t dev = makedev(f.found.major, f.found.minor);
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd == dirfd(d) || fstat(fd, &st) != 0)
            continue;
        if (S_ISREG(st.st_mode) && st.st_ino == f.found.inode && st.st_dev == dev) {
            if (n < max)
                fds[n] = fd;
            n++;
        }
    }
    closedir(d);
    return n;
}

void t_arena_stat(const da_arena *a, struct stat *st)
{
    int fd;
    assert_true(t_arena_fds(a, &fd, 1) >= 1);
    assert_int_equal(fstat(fd, st), 0);
}

uint64_t t_hash(const void *p, size_t n)
{
    /* FNV-1a over 8-byte words: fast enough to hash a few MiB per snapshot */
    const unsigned char *b = p;
    uint64_t h = 14695981039346656037ull, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 1099511628211ull;
    }
    for (; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h ^ n;
}

/* ---- snapshots ------------------------------------------------------------------------- */

/* Hash the file's bytes through the mapping; past 64 MiB only both ends, so
 * that a sparse multi-GiB arena does not page in gigabytes of holes. */
static uint64_t arena_hash(const da_arena *a)
{
    const unsigned char *b = da_arena_base(a);
    size_t n = da_arena_size(a), cut = (size_t)32 << 20;
    if (n <= 2 * cut)
        return t_hash(b, n);
    return t_hash(b, cut) ^ (t_hash(b + n - cut, cut) * 31);
}

void t_snap_take(t_snap *s, const da_arena *a, const da_vec *v)
{
    memset(s, 0, sizeof *s);
    if (v) {
        s->data = v->data;
        s->len = v->len;
        s->cap = v->cap;
        s->vec_hash = v->len ? t_hash(v->data, v->len * v->elem_size) : 0;
    }
    if (a) {
        struct stat st;
        s->base = da_arena_base(a);
        s->size = da_arena_size(a);
        s->reserved = da_arena_reserved(a);
        s->error = da_arena_error(a);
        s->mapping = t_mapping_len(s->base);
        t_arena_stat(a, &st);
        s->file_size = (long long)st.st_size;
        s->file_hash = arena_hash(a);
    }
    s->maps = t_maps_count();
    s->fds = t_fd_count();
}

int t_snap_diff(const t_snap *before, const da_arena *a, const da_vec *v, char *why, size_t n)
{
    t_snap now;
    size_t used = 0;
    t_snap_take(&now, a, v);
    why[0] = '\0';
#define SAME(field, fmt)                                                                    \
    if (before->field != now.field && used < n)                                             \
        used += (size_t)snprintf(why + used, n - used, "%s changed: " fmt " -> " fmt "; ",   \
                                 #field, before->field, now.field);
    SAME(base, "%p") SAME(data, "%p") SAME(size, "%zu") SAME(reserved, "%zu")
    SAME(mapping, "%zu") SAME(len, "%zu") SAME(cap, "%zu") SAME(error, "%d")
    SAME(maps, "%d") SAME(fds, "%d") SAME(file_size, "%lld")
    SAME(file_hash, "%#jx") SAME(vec_hash, "%#jx")
#undef SAME
    return why[0] != '\0';
}

void t_snap_check(const t_snap *before, const da_arena *a, const da_vec *v, const char *file,
                  int line)
{
    char why[1024];
    if (t_snap_diff(before, a, v, why, sizeof why)) {
        print_error("%s:%d: %s\n", file, line, why);
        _fail(file, line);
    }
}

/* ---- fail points ---------------------------------------------------------------------------- */

/* Per point: which reach fails (0 = none) and how many reaches so far; at
 * that reach, fn(arg) runs first (t_meanwhile), and the point fails unless
 * fails is 0. */
typedef struct fp_counter {
    const char *name;
    unsigned target, count;
    void (*fn)(void *);
    void *arg;
    int fails;
} fp_counter;
static fp_counter counters[32];

static fp_counter *counter(const char *point)
{
    for (int i = 0; i < 32; i++) {
        if (!counters[i].name)
            counters[i].name = point;
        if (strcmp(counters[i].name, point) == 0)
            return &counters[i];
    }
    fail_msg("too many fail points");
    return NULL;
}

/* Never calls fiu_disable: libfiu holds its lock while calling this. */
static int nth_cb(const char *name, int *failnum, void **failinfo, unsigned *flags)
{
    (void)failnum, (void)failinfo, (void)flags;
    for (int i = 0; i < 32 && counters[i].name; i++) {
        fp_counter *c = &counters[i];
        if (strcmp(c->name, name) != 0)
            continue;
        if (++c->count != c->target)
            return 0;
        if (c->fn)
            c->fn(c->arg);
        return c->fails;
    }
    return 0;
}

void t_fiu_init(void)
{
    static int done;
    if (!done)
        assert_int_equal(fiu_init(0), 0);
    done = 1;
}

/* libfiu 1.1 leaks the name of a point enabled again while enabled: disarm first */
static void arm(const char *point)
{
    t_fiu_init();
    fiu_disable(point);
}

void t_fail_once(const char *point, int err)
{
    arm(point);
    assert_int_equal(fiu_enable(point, 1, (void *)(intptr_t)err, FIU_ONETIME), 0);
}

void t_fail_always(const char *point, int err)
{
    arm(point);
    assert_int_equal(fiu_enable(point, 1, (void *)(intptr_t)err, 0), 0);
}

void t_meanwhile(const char *point, unsigned n, void (*fn)(void *), void *arg, int err)
{
    arm(point);
    fp_counter *c = counter(point);
    c->target = n;
    c->count = 0;
    c->fn = fn;
    c->arg = arg;
    c->fails = err != 0;
    assert_int_equal(fiu_enable_external(point, 1, (void *)(intptr_t)err, 0, nth_cb), 0);
}

void t_fail_nth(const char *point, int err, unsigned n) { t_meanwhile(point, n, NULL, NULL, err); }

void t_count(const char *point) { t_fail_nth(point, EIO, 0); }

unsigned t_reached(const char *point) { return counter(point)->count; }

void t_fail_off(void)
{
    t_fiu_init();
    for (const char *const *p = da_failpoint_names(); *p; p++)
        fiu_disable(*p);
}

/* ---- files and directories -------------------------------------------------------------------- */

void t_scratch(char *dir, size_t n)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, n, "%s/da-test-XXXXXX", tmp && *tmp ? tmp : "/var/tmp");
    assert_non_null(mkdtemp(dir));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void t_rm_rf(const char *dir)
{
    assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

int t_dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

long long t_path_size(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? (long long)st.st_size : -1;
}

uint64_t t_path_hash(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    uint64_t h = 0;
    unsigned char buf[1 << 16];
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0)
        h = h * 31 + t_hash(buf, (size_t)r);
    close(fd);
    return h;
}

void t_write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

void t_copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(in >= 0 && out >= 0);
    static char buf[1 << 16];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
}

uint64_t t_header_sum(const t_vec_header *h)
{
    const unsigned char *b = (const unsigned char *)h;
    uint64_t x = 14695981039346656037ull;
    for (size_t i = 0; i < offsetof(t_vec_header, sum); i++)
        x = (x ^ b[i]) * 1099511628211ull;
    return x;
}

int t_soft_failures;

void t_soft_reset(void) { t_soft_failures = 0; }

void t_soft_end(void)
{
    if (t_soft_failures)
        fail_msg("%d case(s) failed (listed above)", t_soft_failures);
}

/* ---- children ------------------------------------------------------------------------------------ */

void t_child_init(void)
{
    /* cmocka catches these to fail the running test and go on with the next:
     * in a child that would run the rest of the suite a second time */
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], SIG_DFL);
}

/* A child leaves with _exit, so the parent's atexit handlers don't run twice;
 * in the coverage build (-DT_GCOV) its counters are flushed first, or the
 * error paths only children reach (RLIMIT_FSIZE, full disks) would look
 * unreached. */
#ifdef T_GCOV
void __gcov_dump(void);
#endif

void t_child_exit(int code)
{
#ifdef T_GCOV
    __gcov_dump();
#endif
    _exit(code);
}

int t_child(int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        t_child_init();
        t_child_exit(fn(arg));
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

void t_assert_child_ok(int status, const char *what)
{
    if (WIFSIGNALED(status))
        fail_msg("%s: child killed by signal %d (%s)", what, WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    if (!T_CHILD_OK(status))
        fail_msg("%s: child exited with %d (its stderr says why)", what, WEXITSTATUS(status));
}

void t_main_init(void)
{
    t_fiu_init();
    const char *only = getenv("TEST_FILTER");
    if (only && *only)
        cmocka_set_test_filter(only);
}

const char *t_fast_dir(void)
{
    return access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : NULL;
}

da_config t_config(size_t reserve, const char *dir)
{
    da_config c = {reserve, dir, 0};
    return c;
}

int t_under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload") != NULL;
}
