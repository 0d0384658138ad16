/* One measurement in a fresh process: warm the memory the run will use, open
 * the contender, prepare its data (untimed), time the workload, check the
 * result, print one RESULT line:
 *   RESULT,workload,size_bytes,contender,seconds,elements,minflt,majflt,maxrss_kib,
 *          peak_dirty_kib,peak_cache_kib
 * Faults are counted over the timed part only; peak RSS is the process's; the
 * peaks of dirty (Dirty + Writeback) and of page cache grown since the clock
 * started are the whole system's, sampled every 50 ms (see mem_watch). */
#include "one.h"

#include "bench.h"
#include "diskalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define RANDOM_OPS ((size_t)1 << 20)
/* cold random reads each wait for the disk (~0.1-1 ms): fewer of them */
#define COLD_OPS ((size_t)1 << 15)
#define OPENCLOSE_OPS 1000
#define SEED 0x9e3779b97f4a7c15ull
#define VERIFY_MAX ((size_t)8 << 20) /* elements: re-reading more costs too much time */

const contender *bench_contender(const char *name)
{
    const contender *sets[] = {bench_da, bench_mem, bench_file};
    const size_t counts[] = {bench_n_da, bench_n_mem, bench_n_file};
    for (size_t s = 0; s < 3; s++)
        for (size_t i = 0; i < counts[s]; i++)
            if (strcmp(sets[s][i].name, name) == 0)
                return &sets[s][i];
    return NULL;
}

static uint64_t chunk[BENCH_CHUNK];

/* Sum of n elements laid down by extend: chunk[] = 0..BENCH_CHUNK-1, repeated. */
static uint64_t chunk_sum(size_t n)
{
    uint64_t full = n / BENCH_CHUNK, rest = n % BENCH_CHUNK;
    return full * (BENCH_CHUNK * (uint64_t)(BENCH_CHUNK - 1) / 2) + rest * (rest - 1) / 2;
}

static uint64_t rand_sum(size_t n, size_t ops)
{
    uint64_t seed = SEED, s = 0;
    for (size_t i = 0; i < ops; i++)
        s += bench_rand(&seed) % n % BENCH_CHUNK;
    return s;
}

enum { PUSH, EXTEND, READ, RREAD, RUPDATE, GROW, SHRINK, CLOSE, SYNC, OPENCLOSE, SCAN, RCOLD,
       NWORK };
static const char *const names[NWORK] = {"push",  "extend", "read", "rread",     "rupdate",
                                         "grow",  "shrink", "close", "sync",     "openclose",
                                         "scan",  "rcold"};

int bench_workload(const char *name)
{
    for (int w = 0; w < NWORK; w++)
        if (strcmp(names[w], name) == 0)
            return w;
    return -1;
}

const char *bench_workload_name(int w) { return w >= 0 && w < NWORK ? names[w] : NULL; }

int bench_applies(int w, const contender *c)
{
    switch (w) {
    case PUSH: return c->push != NULL;
    case EXTEND: return c->extend != NULL;
    case READ: return c->sum != NULL;
    case RREAD: return c->rand_read != NULL;
    case RUPDATE: return c->rand_update != NULL;
    case GROW: return c->reserve != NULL;
    case SHRINK: return c->shrink != NULL;
    case CLOSE: return c->close != NULL;
    case SYNC: return c->sync != NULL;
    case OPENCLOSE: return c->open != NULL;
    case SCAN: return c->scan_file != NULL;
    case RCOLD: return c->rand_file != NULL;
    }
    return 0;
}

size_t bench_elements(int w, size_t size)
{
    if (w == RREAD || w == RUPDATE)
        return RANDOM_OPS;
    if (w == RCOLD)
        return COLD_OPS;
    if (w == OPENCLOSE)
        return OPENCLOSE_OPS;
    return size / sizeof(uint64_t);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int fail(const char *what, const contender *c, int e)
{
    fprintf(stderr, "bench: %s %s: %s\n", c->name, what, da_strerror(e));
    return 1;
}

/* After the timed part: the contender really holds what it was asked to. */
static int verify(int w, const contender *c, void *h, size_t n, uint64_t got)
{
    uint64_t want = 0, s = 0;
    int read_back = w == PUSH || w == EXTEND || w == RUPDATE;
    if (!c->exact || (read_back && (n > VERIFY_MAX || !c->sum)))
        return 0;
    if (w == READ || w == SCAN)
        s = got, want = chunk_sum(n);
    else if (w == RREAD || w == RCOLD)
        s = got, want = rand_sum(n, w == RREAD ? RANDOM_OPS : COLD_OPS);
    else if (read_back) {
        int e = c->sum(h, n, &s);
        if (e)
            return fail("read back", c, e);
        want = w == PUSH ? (uint64_t)n * (n - 1) / 2 : chunk_sum(n) + (w == RUPDATE) * RANDOM_OPS;
    } else
        return 0;
    if (s == want)
        return 0;
    fprintf(stderr, "bench: VIOLATION %s %s n=%zu: checksum %llu, want %llu\n", names[w],
            c->name, n, (unsigned long long)s, (unsigned long long)want);
    return 1;
}

static int timed(int w, const contender *c, void **h, size_t n, const char *dir,
                 uint64_t *got)
{
    switch (w) {
    case PUSH: return c->push(*h, n);
    case EXTEND: return c->extend(*h, chunk, n);
    case READ: return c->sum(*h, n, got);
    case RREAD: return c->rand_read(*h, n, RANDOM_OPS, SEED, got);
    case RUPDATE: return c->rand_update(*h, n, RANDOM_OPS, SEED);
    case GROW: return c->reserve(*h, n);
    case SHRINK: return c->shrink(*h);
    case SYNC: return c->sync(*h);
    case SCAN: return c->scan_file(bench_scan_path(), n, got);
    case RCOLD: return c->rand_file(bench_scan_path(), n, COLD_OPS, SEED, got);
    case CLOSE: {
        int e = c->close(*h);
        *h = NULL;
        return e;
    }
    case OPENCLOSE:
        for (int i = 0; i < OPENCLOSE_OPS; i++) {
            void *t;
            int e = c->open(&t, 0, dir);
            if (e || (e = c->close(t)) != 0)
                return e;
        }
        return 0;
    }
    return -1;
}

const char *bench_scan_path(void)
{
    const char *p = getenv("BENCH_SCAN_FILE");
    return p && *p ? p : "bench-scan.vec";
}

int bench_fill_file(const char *path, size_t n, const char *progress)
{
    for (size_t i = 0; i < BENCH_CHUNK; i++)
        chunk[i] = i;
    da_vec v;
    (void)unlink(path);
    int e = da_vec_open(&v, path, sizeof(uint64_t), NULL);
    double t0 = now(), last = t0;
    for (size_t done = 0; e == 0 && done < n;) {
        size_t k = n - done < BENCH_CHUNK ? n - done : BENCH_CHUNK;
        e = da_vec_extend(&v, chunk, k);
        done += k;
        if (progress && now() - last >= 10) {
            last = now();
            fprintf(stderr, "bench: %s: %zu of %zu MiB written, %.0f s\n", progress,
                    done >> 17, n >> 17, last - t0);
        }
    }
    int c = da_vec_close(&v); /* syncs: the file is clean, so its cache can be dropped */
    return e ? e : c;
}

/* The file's pages out of the page cache: it was synced when made, so every
 * page is clean and POSIX_FADV_DONTNEED drops it (for this file only). */
static int drop_cache(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int e = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    return e;
}

/* This VM hands freed guest memory back to its host (virtio-balloon free page
 * reporting): the first touch of a page after that costs a host fault, and a
 * 1 GiB push that starts on such memory takes 2-5 s instead of 0.4 s, whatever
 * the contender (bench/README.md).  So each run first reads `bytes` of a
 * sparse temp file: clean zero-filled page-cache folios, no disk I/O, that
 * closing the file frees again right before the clock starts, for the run to
 * reuse while the host still backs them.  (Touching anonymous memory instead
 * warms far less: the page cache's large folios come from other free blocks.)
 * Capped at half the free memory: a run beyond RAM recycles its pages anyway.
 * BENCH_NO_WARM=1 skips it, to measure what it changes. */
double bench_warm(size_t bytes, const char *dir)
{
    double t0 = now();
    const char *off = getenv("BENCH_NO_WARM");
    long avail = sysconf(_SC_AVPHYS_PAGES), pg = sysconf(_SC_PAGESIZE);
    size_t cap = avail > 0 && pg > 0 ? (size_t)avail * (size_t)pg / 2 : 0;
    bytes = bytes < cap ? bytes : cap;
    int fd = bytes && !(off && *off) ? open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600) : -1;
    static char buf[1 << 20];
    if (fd >= 0 && ftruncate(fd, (off_t)bytes) == 0)
        while (read(fd, buf, sizeof buf) > 0)
            ;
    if (fd >= 0)
        close(fd);
    return now() - t0;
}

/* ---- memory watch: peaks of dirty and cached bytes while the clock runs ---- */

static long meminfo_kib(const char *buf, const char *key)
{
    const char *p = strstr(buf, key);
    return p ? strtol(p + strlen(key), NULL, 10) : 0;
}

/* Dirty + Writeback, and Cached, in KiB. */
static void meminfo(long *dirty, long *cached)
{
    char buf[4096];
    int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
    ssize_t k = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    buf[k > 0 ? k : 0] = '\0';
    *dirty = meminfo_kib(buf, "\nDirty:") + meminfo_kib(buf, "\nWriteback:");
    *cached = meminfo_kib(buf, "\nCached:");
}

static struct {
    atomic_int stop;
    long cached0, peak_dirty, peak_cache;
    double t0;
    const char *label; /* progress lines every 10 s, for long runs; NULL: none */
} watch;

static void *watch_run(void *arg)
{
    (void)arg;
    double last = watch.t0;
    while (!atomic_load(&watch.stop)) {
        long d, c;
        meminfo(&d, &c);
        if (d > watch.peak_dirty)
            watch.peak_dirty = d;
        if (c - watch.cached0 > watch.peak_cache)
            watch.peak_cache = c - watch.cached0;
        double t = now();
        if (watch.label && t - last >= 10) {
            last = t;
            fprintf(stderr, "bench:   %s: %.0f s, dirty %ld MiB, page cache +%ld MiB\n",
                    watch.label, t - watch.t0, d >> 10, (c - watch.cached0) >> 10);
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int bench_one(int w, const contender *c, size_t size, const char *dir)
{
    size_t n = size / sizeof(uint64_t);
    for (size_t i = 0; i < BENCH_CHUNK; i++)
        chunk[i] = i;
    if (!bench_applies(w, c) || (n == 0 && w != OPENCLOSE)) {
        fprintf(stderr, "bench: %s does not run %s at %zu bytes\n", c->name, names[w], size);
        return 2;
    }
    int e, cold = w == SCAN || w == RCOLD;
    if (cold && (e = drop_cache(bench_scan_path())) != 0)
        return fail("drop the scan file's cache", c, e);
    bench_warm(cold ? 0 : size, dir);
    void *h = NULL;
    if (!cold && (e = c->open(&h, n, dir)) != 0)
        return fail("open", c, e);
    int prefill = w == READ || w == RREAD || w == RUPDATE || w == SHRINK || w == CLOSE ||
                  w == SYNC;
    if (prefill && (e = c->extend(h, chunk, n)) != 0) {
        c->close(h);
        return fail("fill", c, e);
    }
    char label[96];
    snprintf(label, sizeof label, "%s %zu MiB %s", names[w], size >> 20, c->name);
    watch.label = size >= ((size_t)8 << 30) ? label : NULL;
    uint64_t got = 0;
    struct rusage r0, r1;
    long d0;
    meminfo(&d0, &watch.cached0);
    getrusage(RUSAGE_SELF, &r0);
    double t0 = watch.t0 = now();
    pthread_t th;
    int watching = pthread_create(&th, NULL, watch_run, NULL) == 0;
    e = timed(w, c, &h, n, dir, &got);
    double t1 = now();
    getrusage(RUSAGE_SELF, &r1);
    atomic_store(&watch.stop, 1);
    if (watching)
        pthread_join(th, NULL);
    bench_keep(got);
    int bad = e ? fail(names[w], c, e) : verify(w, c, h, n, got);
    if (h && (e = c->close(h)) != 0)
        bad = fail("close", c, e);
    if (bad)
        return 1;
    printf("RESULT,%s,%zu,%s,%.9f,%zu,%ld,%ld,%ld,%ld,%ld\n", names[w], size, c->name, t1 - t0,
           bench_elements(w, size), r1.ru_minflt - r0.ru_minflt, r1.ru_majflt - r0.ru_majflt,
           r1.ru_maxrss, watch.peak_dirty, watch.peak_cache);
    return 0;
}
