/* bench: measure da_vec against its alternatives, one process per
 * measurement, contenders interleaved (A B C A B C ...), medians of --runs.
 *
 *   bench [--sizes 1M,4M,...] [--runs 5] [--workloads push,...] [--contenders da,...]
 *         [--grow-max 64G] [--cell-budget 20] [--budget 540]
 *         [--big] [--big-size SIZE] [--big-runs 1] [--big-contenders da,write,dd]
 *         [--big-workloads push,scan,rcold]
 *         [--dir DIR] [--csv FILE] [--plot PNG --gp SCRIPT]
 *   bench --one WORKLOAD SIZE CONTENDER DIR     (one measurement; what the driver runs)
 *
 * Time is bounded: a cell (workload x size) stops adding interleaved runs once
 * it has spent --cell-budget seconds, and once the whole run has spent
 * --budget seconds every remaining cell gets one run.  --big adds the cells
 * beyond RAM (push, cold scan, cold random reads at 1.5x RAM, or --big-size),
 * --big-runs runs each, after checking the free disk space. */
#include "bench.h"
#include "driver.h"
#include "one.h"

#include "diskalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROWS 1024

static char self[4096] = "bench"; /* this binary, for the replay line */
#define MAX_LIST 32
#define G ((size_t)1 << 30)

typedef struct {
    size_t sizes[MAX_LIST], nsizes, grow_max, big_size;
    const char *workloads[MAX_LIST], *contenders[MAX_LIST], *big_contenders[MAX_LIST];
    const char *big_workloads[MAX_LIST];
    size_t nworkloads, ncontenders, nbig_contenders, nbig_workloads;
    int runs, big, big_runs;
    double cell_budget, budget;
    const char *dir, *csv, *plot, *gp;
} options;

/* The cells beyond RAM and who runs them: da against the file system's own
 * limits (dd for writing, read(2)/pread(2) of the same file for reading). */


static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    const char *units = "KMGT", *u = *end ? strchr(units, *end) : NULL;
    if (errno || end == s || *s == '-' || (*end && (!u || end[1])))
        return -1;
    *out = (size_t)n << (u ? 10 * (u - units + 1) : 0);
    return 0;
}

/* Split a comma list in place into at most MAX_LIST distinct items. */
static size_t split(char *s, const char **items)
{
    size_t n = 0;
    for (char *t = strtok(s, ","); t && n < MAX_LIST; t = strtok(NULL, ",")) {
        size_t i = 0;
        while (i < n && strcmp(items[i], t) != 0)
            i++;
        if (i == n)
            items[n++] = t;
    }
    return n;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench [--sizes LIST] [--runs N] [--workloads LIST] "
                    "[--contenders LIST] [--grow-max SIZE] [--cell-budget S] [--budget S] "
                    "[--big] [--big-size SIZE] [--big-runs N] [--big-contenders LIST] "
                    "[--big-workloads LIST] [--dir DIR] "
                    "[--csv FILE] "
                    "[--plot PNG --gp SCRIPT]\n       bench --one WORKLOAD SIZE CONTENDER DIR\n");
    return 2;
}

static int parse(int argc, char **argv, options *o)
{
    static char sizes[] = "1M,4M,16M,64M,256M,1G,4G";
    static char workloads[] = "push,extend,read,rread,rupdate,grow,shrink,close,sync,openclose";
    static char contenders[] = "da,da-sparse,realloc,write,mem,dd";
    static char big_contenders[] = "da,write,dd";
    static char big_workloads[] = "push,scan,rcold";
    const char *tmp = getenv("TMPDIR");
    char *size_list = sizes, *grow = NULL, *big_size = NULL;
    o->runs = 5;
    o->big_runs = 1;
    o->cell_budget = 20;
    o->budget = 540;
    o->dir = tmp && *tmp ? tmp : "/var/tmp";
    o->csv = "bench/results.csv";
    o->nworkloads = split(workloads, o->workloads);
    o->ncontenders = split(contenders, o->contenders);
    o->nbig_contenders = split(big_contenders, o->big_contenders);
    o->nbig_workloads = split(big_workloads, o->big_workloads);
    static const struct option longs[] = {
        {"sizes", 1, 0, 's'}, {"runs", 1, 0, 'r'},     {"workloads", 1, 0, 'w'},
        {"contenders", 1, 0, 'c'}, {"grow-max", 1, 0, 'g'}, {"big", 0, 0, 'b'},
        {"dir", 1, 0, 'd'}, {"csv", 1, 0, 'o'},        {"plot", 1, 0, 'p'},
        {"gp", 1, 0, 'G'}, {"cell-budget", 1, 0, 'C'}, {"budget", 1, 0, 'B'},
        {"big-size", 1, 0, 'S'}, {"big-runs", 1, 0, 'R'}, {"big-contenders", 1, 0, 'K'},
        {"big-workloads", 1, 0, 'W'},
        {0, 0, 0, 0},
    };
    for (int ch; (ch = getopt_long(argc, argv, "", longs, NULL)) != -1;) {
        switch (ch) {
        case 's': size_list = optarg; break;
        case 'r': o->runs = atoi(optarg); break;
        case 'w': o->nworkloads = split(optarg, o->workloads); break;
        case 'c': o->ncontenders = split(optarg, o->contenders); break;
        case 'g': grow = optarg; break;
        case 'b': o->big = 1; break;
        case 'd': o->dir = optarg; break;
        case 'o': o->csv = optarg; break;
        case 'p': o->plot = optarg; break;
        case 'G': o->gp = optarg; break;
        case 'C': o->cell_budget = atof(optarg); break;
        case 'B': o->budget = atof(optarg); break;
        case 'S': big_size = optarg, o->big = 1; break;
        case 'R': o->big_runs = atoi(optarg); break;
        case 'K': o->nbig_contenders = split(optarg, o->big_contenders); break;
        case 'W': o->nbig_workloads = split(optarg, o->big_workloads); break;
        default: return -1;
        }
    }
    const char *items[MAX_LIST];
    o->nsizes = split(size_list, items);
    for (size_t i = 0; i < o->nsizes; i++)
        if (parse_size(items[i], &o->sizes[i]) || o->sizes[i] < sizeof(uint64_t))
            return fprintf(stderr, "bench: bad size %s\n", items[i]), -1;
    o->grow_max = o->nsizes ? o->sizes[o->nsizes - 1] : 0;
    if (grow && parse_size(grow, &o->grow_max))
        return fprintf(stderr, "bench: bad --grow-max %s\n", grow), -1;
    if (big_size && (parse_size(big_size, &o->big_size) || o->big_size < sizeof(uint64_t)))
        return fprintf(stderr, "bench: bad --big-size %s\n", big_size), -1;
    for (size_t i = 0; i < o->nworkloads; i++)
        if (bench_workload(o->workloads[i]) < 0)
            return fprintf(stderr, "bench: unknown workload %s\n", o->workloads[i]), -1;
    for (size_t i = 0; i < o->ncontenders; i++)
        if (!bench_contender(o->contenders[i]))
            return fprintf(stderr, "bench: unknown contender %s\n", o->contenders[i]), -1;
    for (size_t i = 0; i < o->nbig_workloads; i++)
        if (bench_workload(o->big_workloads[i]) < 0)
            return fprintf(stderr, "bench: unknown workload %s\n", o->big_workloads[i]), -1;
    for (size_t i = 0; i < o->nbig_contenders; i++)
        if (!bench_contender(o->big_contenders[i]))
            return fprintf(stderr, "bench: unknown contender %s\n", o->big_contenders[i]), -1;
    if (o->runs < 1 || o->runs > MAX_RUNS || o->big_runs < 1 || o->big_runs > MAX_RUNS ||
        o->nsizes == 0 || optind != argc || (o->plot && !o->gp) || !(o->cell_budget > 0) ||
        !(o->budget > 0))
        return -1;
    return 0;
}

/* ---- the plan: which sizes each workload runs at ---------------------------- */

static size_t ram_bytes(void)
{
    return (size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE);
}

static size_t disk_free(const char *dir)
{
    struct statvfs s;
    return statvfs(dir, &s) == 0 ? (size_t)s.f_bavail * s.f_frsize : 0;
}

/* Sizes for workload w: push and extend at every size; the costly-to-prepare
 * ones at every other size up to 1 GiB; growth by powers of 4 up to
 * --grow-max; sync at 1 GiB (or less); open/close once. */
static size_t sizes_for(const char *w, const options *o, size_t *out)
{
    size_t n = 0, last = o->sizes[o->nsizes - 1];
    if (!strcmp(w, "scan") || !strcmp(w, "rcold")) {
        return 0; /* beyond RAM only: --big */
    } else if (!strcmp(w, "openclose")) {
        out[n++] = 0;
    } else if (!strcmp(w, "sync")) {
        out[n++] = last < G ? last : G;
    } else if (!strcmp(w, "grow")) {
        for (size_t s = o->sizes[0]; s <= o->grow_max && n < MAX_LIST; s *= 4)
            out[n++] = s;
    } else if (!strcmp(w, "push") || !strcmp(w, "extend")) {
        for (size_t i = 0; i < o->nsizes; i++)
            out[n++] = o->sizes[i];
    } else { /* at most 1 GiB: preparing the data costs more than the measurement */
        size_t top = 0;
        for (size_t i = 0; i < o->nsizes; i++)
            if (o->sizes[i] <= G)
                top = i;
        for (size_t i = 0; i <= top; i++)
            if (i % 2 == 0 || i == top)
                out[n++] = o->sizes[i];
    }
    return n;
}

/* The size of the cells beyond RAM: 1.5x RAM (or --big-size), as long as
 * twice that fits on the disk (a run's file, and the next run's while the
 * last one's blocks are still being freed); else the largest that fits. */
static size_t big_size(const options *o)
{
    size_t ram = ram_bytes(), free = disk_free(o->dir);
    size_t want = o->big_size ? o->big_size : (ram + ram / 2 + G - 1) & ~(G - 1);
    size_t fits = free > G ? (free - G) / 2 : 0;
    fits = fits >= G ? fits & ~(G - 1) : fits & ~(size_t)4095;
    printf("bench: beyond RAM: %zu MiB per cell wanted, %zu MiB free in %s (%zu MiB needed: "
           "twice the cell, plus 1 GiB)\n", want >> 20, free >> 20, o->dir, (2 * want + G) >> 20);
    if (fits >= want)
        return want;
    printf("bench: NOT ENOUGH DISK for %zu MiB cells: using %zu MiB instead%s\n", want >> 20,
           fits >> 20, fits > ram ? "" : " (NOT beyond RAM: these cells fit in memory)");
    return fits;
}

static row *add_row(row *rows, size_t *n, const char *w, size_t size, const contender *c,
                    int group, int big)
{
    row *r = &rows[(*n)++];
    memset(r, 0, sizeof *r);
    r->workload = w;
    r->size = size;
    r->contender = c->name;
    r->group = group;
    r->big = big;
    r->elements = bench_elements(bench_workload(w), size);
    return r;
}

static size_t plan(const options *o, row *rows)
{
    size_t n = 0, ram = ram_bytes(), half_free = disk_free(o->dir) / 2;
    int group = 0;
    for (size_t wi = 0; wi < o->nworkloads; wi++) {
        const char *w = o->workloads[wi];
        size_t sizes[MAX_LIST];
        size_t ns = sizes_for(w, o, sizes);
        for (size_t si = 0; si < ns; si++, group++) {
            for (size_t ci = 0; ci < o->ncontenders && n < MAX_ROWS; ci++) {
                const contender *c = bench_contender(o->contenders[ci]);
                if (!bench_applies(bench_workload(w), c))
                    continue;
                row *r = add_row(rows, &n, w, sizes[si], c, group, 0);
                if (c->in_memory && sizes[si] > ram / 4 * 3)
                    r->note = "skipped: in-memory contender, larger than RAM";
                else if (!c->in_memory && sizes[si] > half_free)
                    r->note = "skipped: more than half the free disk space";
            }
        }
    }
    size_t big = o->big ? big_size(o) : 0;
    for (size_t wi = 0; big >= sizeof(uint64_t) && wi < o->nbig_workloads; wi++, group++)
        for (size_t ci = 0; ci < o->nbig_contenders && n < MAX_ROWS; ci++) {
            const contender *c = bench_contender(o->big_contenders[ci]);
            if (bench_applies(bench_workload(o->big_workloads[wi]), c))
                add_row(rows, &n, o->big_workloads[wi], big, c, group, 1);
        }
    return n;
}

/* ---- running one measurement in its own process ------------------------------ */

static int measure(row *r, const char *dir)
{
    int fd[2];
    char size[32];
    snprintf(size, sizeof size, "%zu", r->size);
    if (pipe(fd) != 0)
        return errno;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* an interrupted bench leaves no run behind */
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execl("/proc/self/exe", "bench", "--one", r->workload, size, r->contender, dir,
              (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char out[512];
    size_t len = 0;
    for (ssize_t k; len < sizeof out - 1 && (k = read(fd[0], out + len, sizeof out - 1 - len)) > 0;)
        len += (size_t)k;
    out[len] = '\0';
    close(fd[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return pid < 0 ? errno : ECHILD;
    sample *s = &r->v[r->runs];
    char *line = strstr(out, "RESULT,");
    const char *f = line ? strchr(line + 7, ',') : NULL; /* skip the workload */
    for (int k = 0; f && k < 2; k++)                      /* and size, contender */
        f = strchr(f + 1, ',');
    size_t elements;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !f ||
        sscanf(f + 1, "%lf,%zu,%ld,%ld,%ld,%ld,%ld", &s->s, &elements, &s->minflt, &s->majflt,
               &s->rss_kib, &s->dirty_kib, &s->cache_kib) != 7) {
        fprintf(stderr, "bench: %s %s at %zu bytes failed (status %d); replay: "
                "BENCH_SCAN_FILE=%s %s --one %s %zu %s %s\n", r->workload, r->contender,
                r->size, status, bench_scan_path(), self, r->workload, r->size, r->contender,
                dir);
        return EIO;
    }
    r->runs++;
    return 0;
}

/* All runs of one group, interleaved: run 1 of every contender, then run 2,
 * ... until the runs are done or the cell's time budget is spent (after one
 * run at least); past the whole bench's budget, one run per cell. */
static int run_group(row *rows, size_t n, int group, const options *o, double start)
{
    int failed = 0, big = 0, runs = 0;
    double t0 = now();
    for (size_t i = 0; i < n; i++)
        big |= rows[i].group == group && rows[i].big;
    int want = big ? o->big_runs : o->runs;
    for (int run = 0; run < want; run++) {
        if (run > 0 && !big && (now() - t0 >= o->cell_budget || now() - start >= o->budget))
            break;
        for (size_t i = 0; i < n; i++)
            if (rows[i].group == group && !rows[i].note && measure(&rows[i], o->dir) != 0)
                failed = 1;
        runs++;
    }
    for (size_t i = 0; i < n; i++)
        if (rows[i].group == group) {
            char sz[24];
            fprintf(stderr, "bench: [cell %d/%d, %.0f s] %s %s: %d of %d runs in %.1f s%s\n",
                    group + 1, rows[n - 1].group + 1, now() - start, rows[i].workload,
                    rows[i].size ? report_size(rows[i].size, sz, sizeof sz) : "-", runs, want,
                    now() - t0,
                    runs < want ? (now() - start >= o->budget ? " (bench budget spent)"
                                                              : " (cell budget spent)")
                                : "");
            break;
        }
    return failed;
}

/* The scan file of the cold cells, made once before the first of them. */
static int prepare_scan(const row *rows, size_t n, int group, int *made)
{
    const row *r = NULL;
    for (size_t i = 0; i < n && !r; i++)
        if (rows[i].group == group && rows[i].big && strcmp(rows[i].workload, "push"))
            r = &rows[i];
    if (!r || *made)
        return 0;
    double t0 = now();
    fprintf(stderr, "bench: making the scan file %s (%zu MiB) for the cold cells\n",
            bench_scan_path(), r->size >> 20);
    int e = bench_fill_file(bench_scan_path(), r->size / sizeof(uint64_t), "scan file");
    if (e != 0) {
        fprintf(stderr, "bench: making %s: %s\n", bench_scan_path(), da_strerror(e));
        return 1;
    }
    fprintf(stderr, "bench: scan file made in %.0f s\n", now() - t0);
    *made = 1;
    /* The first cold read of a file just written runs at half speed, whoever
     * reads it (36 GiB: read(2) 44 s, then 20 s; a mapped scan 47 s, then
     * 19-23 s): the host is still writing it out.  An untimed read first, so
     * that the first contender does not pay for it. */
    t0 = now();
    int fd = open(bench_scan_path(), O_RDONLY | O_CLOEXEC);
    static char buf[1 << 20];
    while (fd >= 0 && read(fd, buf, sizeof buf) > 0)
        ;
    if (fd >= 0)
        close(fd);
    fprintf(stderr, "bench: scan file read once, untimed, in %.0f s\n", now() - t0);
    return 0;
}

/* An interrupted bench leaves no scan file behind (it may be 1.5x RAM). */
static char scan_path[4200];
static void on_signal(int sig)
{
    if (scan_path[0])
        unlink(scan_path);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Why each run warms its memory: what reading 256 MiB of page cache costs
 * after a pause, at once again, and again after 3 s.  (A VM whose balloon
 * reports free pages to the host gives them back: touching them again costs
 * a host fault each.) */
static void first_touch(const char *dir)
{
    const size_t bytes = (size_t)256 << 20;
    double t[3];
    for (int pass = 0; pass < 3; pass++) {
        if (pass != 1)
            sleep(3); /* time for the freed pages to be reported */
        t[pass] = bench_warm(bytes, dir) * (double)G / (double)bytes;
    }
    printf("bench: page cache on memory freed 3 s before: %.2f s/GiB, freed just before: %.2f "
           "s/GiB, 3 s before again: %.2f s/GiB; each run warms the memory it will use (reads "
           "that much of a sparse temp file) right before its clock starts\n", t[0], t[1], t[2]);
}

static int plot(const options *o)
{
    char contenders[512] = "";
    for (size_t i = 0; i < o->ncontenders; i++)
        snprintf(contenders + strlen(contenders), sizeof contenders - strlen(contenders),
                 "%s%s", i ? " " : "", o->contenders[i]);
    pid_t pid = fork();
    if (pid == 0) {
        char vars[2048];
        snprintf(vars, sizeof vars, "csv='%s'; out='%s'; contenders='%s'", o->csv, o->plot,
                 contenders);
        execlp("gnuplot", "gnuplot", "-e", vars, o->gp, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench: gnuplot failed (status %d)\n", status);
        return 1;
    }
    printf("plot: %s\n", o->plot);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "--one")) {
        size_t size;
        const contender *c = bench_contender(argv[4]);
        int w = bench_workload(argv[2]);
        if (w < 0 || !c || parse_size(argv[3], &size))
            return usage();
        return bench_one(w, c, size, argv[5]);
    }
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k > 0)
        self[k] = '\0';
    static options o;
    static row rows[MAX_ROWS];
    if (parse(argc, argv, &o) != 0)
        return usage();
    printf("bench: %d runs per cell (cells beyond RAM: %d), interleaved, at most %.0f s per "
           "cell and %.0f s in all; files in %s; %zu GiB RAM, %zu GiB free there\n",
           o.runs, o.big_runs, o.cell_budget, o.budget, o.dir, ram_bytes() >> 30,
           disk_free(o.dir) >> 30);
    snprintf(scan_path, sizeof scan_path, "%s/bench-scan-%d.vec", o.dir, (int)getpid());
    setenv("BENCH_SCAN_FILE", scan_path, 1);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    size_t n = plan(&o, rows);
    if (o.sizes[o.nsizes - 1] >= (size_t)64 << 20) /* 6 s: not for the 1 MiB check */
        first_touch(o.dir);
    fflush(stdout);
    report_header();
    int failed = 0, e = 0, scan_made = 0;
    double start = now();
    for (int g = 0; n && g <= rows[n - 1].group; g++) {
        if (prepare_scan(rows, n, g, &scan_made) != 0) {
            failed = 1;
            break;
        }
        failed |= run_group(rows, n, g, &o, start);
        report_summarize(rows, n);
        report_group(rows, n, g);
        fflush(stdout);
        e = report_csv(rows, n, o.csv); /* after each group: an interrupted run keeps its data */
    }
    if (scan_made)
        (void)unlink(bench_scan_path());
    printf("bench: %.0f s\n", now() - start);
    int missed = report_targets(rows, n, ram_bytes());
    if (e) {
        fprintf(stderr, "bench: writing %s: %s\n", o.csv, strerror(e));
        failed = 1;
    } else {
        printf("csv: %s\n", o.csv);
    }
    if (!failed && o.plot)
        failed = plot(&o);
    if (missed)
        printf("bench: %d target(s) missed (targets are measurements, not a pass/fail gate)\n",
               missed);
    return failed;
}
