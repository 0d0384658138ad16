/* bench/: summaries, the table, the targets and the CSV. */
#include "driver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GiB ((double)(1u << 30))

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof *x, by_value);
    return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

static const row *find(const row *rows, size_t n, const char *w, size_t size, const char *c)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].workload, w) && rows[i].size == size &&
            !strcmp(rows[i].contender, c) && rows[i].runs > 0)
            return &rows[i];
    return NULL;
}

void report_summarize(row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        row *r = &rows[i];
        if (r->runs == 0)
            continue;
        double t[MAX_RUNS], mi[MAX_RUNS], ma[MAX_RUNS], rs[MAX_RUNS];
        r->dirty_mib = r->cache_mib = 0;
        for (int k = 0; k < r->runs; k++) {
            if (r->v[k].dirty_kib / 1024.0 > r->dirty_mib)
                r->dirty_mib = r->v[k].dirty_kib / 1024.0;
            if (r->v[k].cache_kib / 1024.0 > r->cache_mib)
                r->cache_mib = r->v[k].cache_kib / 1024.0;
            t[k] = r->v[k].s;
            mi[k] = (double)r->v[k].minflt;
            ma[k] = (double)r->v[k].majflt;
            rs[k] = (double)r->v[k].rss_kib / 1024;
        }
        r->med = median(t, r->runs);
        r->min = t[0];
        r->max = t[r->runs - 1];
        r->minflt = median(mi, r->runs);
        r->majflt = median(ma, r->runs);
        r->rss_mib = median(rs, r->runs);
    }
    for (size_t i = 0; i < n; i++) {
        const row *da = find(rows, n, rows[i].workload, rows[i].size, "da");
        rows[i].speedup = da && rows[i].runs && da->med > 0 ? rows[i].med / da->med : 0;
    }
}

const char *report_size(size_t bytes, char *buf, size_t len)
{
    const char *units = "BKMGT";
    int u = 0;
    while (bytes >= 1024 && bytes % 1024 == 0 && u < 4)
        bytes /= 1024, u++;
    snprintf(buf, len, "%zu%c", bytes, units[u]);
    return buf;
}

static double per_gib(double x, size_t size) { return size ? x / ((double)size / GiB) : 0; }
/* bytes moved per second; 0 for open/close, which moves none */
static double gbps(const row *r, double s)
{
    return r->size ? (double)r->elements * 8 / s / 1e9 : 0;
}

void report_header(void)
{
    printf("%-9s %5s %-16s %4s %10s %10s %10s %9s %7s %10s %10s %8s %8s %8s %8s\n", "workload",
           "size", "contender", "runs", "median_s", "min_s", "max_s", "ns/elem", "GB/s",
           "minflt/GiB", "majflt/GiB", "RSS_MiB", "dirtyMiB", "cacheMiB", "da_speed");
}

void report_group(const row *rows, size_t n, int group)
{
    char sz[24];
    for (size_t i = 0; i < n; i++) {
        const row *r = &rows[i];
        if (r->group != group)
            continue;
        const char *size = r->size ? report_size(r->size, sz, sizeof sz) : "-";
        if (r->runs == 0) {
            printf("%-9s %5s %-16s %4d  %s\n", r->workload, size, r->contender, 0,
                   r->note ? r->note : "failed");
            continue;
        }
        printf("%-9s %5s %-16s %4d %10.6f %10.6f %10.6f %9.3f %7.3f %10.0f %10.0f %8.0f %8.0f "
               "%8.0f", r->workload, size, r->contender, r->runs, r->med, r->min, r->max,
               r->med * 1e9 / (double)r->elements, gbps(r, r->med),
               per_gib(r->minflt, r->size), per_gib(r->majflt, r->size), r->rss_mib,
               r->dirty_mib, r->cache_mib);
        if (r->speedup > 0)
            printf(" %7.2fx", r->speedup);
        printf("\n");
    }
}

/* ---- targets ---------------------------------------------------------------- */

static int verdict(const char *name, const char *what, double got, double need, int at_least)
{
    int met = at_least ? got >= need : got <= need;
    double by = at_least ? (got - need) / need : (need - got) / need;
    printf("target %-15s %s: %.4g (need %s %.4g): %s by %.0f%%\n", name, what, got,
           at_least ? ">=" : "<=", need, met ? "met" : "MISSED", 100 * (by < 0 ? -by : by));
    return !met;
}

static void skipped(const char *name, const char *why)
{
    printf("target %-15s not measured: %s\n", name, why);
}

/* Largest measured size of workload w for contender c, the big run aside. */
static size_t largest(const row *rows, size_t n, const char *w, const char *c)
{
    size_t s = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].workload, w) && !strcmp(rows[i].contender, c) && rows[i].runs &&
            !rows[i].big && rows[i].size > s)
            s = rows[i].size;
    return s;
}

/* The row of workload w against contender c where da compares worst, among
 * the big run's rows or the others, at sizes of at least min_size. */
static const row *worst_of(const row *rows, size_t n, const char *w, const char *c, int big,
                           size_t min_size)
{
    const row *worst = NULL;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].workload, w) && !strcmp(rows[i].contender, c) &&
            rows[i].speedup > 0 && rows[i].big == big && rows[i].size >= min_size &&
            (!worst || rows[i].speedup < worst->speedup))
            worst = &rows[i];
    return worst;
}

/* da against write(2) for workload w at every size from 64 MiB up; the
 * worst smaller size is printed beside it. */
static int vs_write(const row *rows, size_t n, const char *w, const char *name)
{
    char buf[200], sz[24], sz2[24];
    const size_t floor = (size_t)64 << 20;
    const row *worst = worst_of(rows, n, w, "write", 0, floor);
    if (!worst) {
        snprintf(buf, sizeof buf, "needs %s with da and write at 64M or more", w);
        skipped(name, buf);
        return 0;
    }
    const row *small = NULL;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].workload, w) && !strcmp(rows[i].contender, "write") &&
            rows[i].speedup > 0 && !rows[i].big && rows[i].size < floor &&
            (!small || rows[i].speedup < small->speedup))
            small = &rows[i];
    char below[64] = "";
    if (small)
        snprintf(below, sizeof below, "; below 64M worst %s: %.3g",
                 report_size(small->size, sz2, sizeof sz2), small->speedup);
    snprintf(buf, sizeof buf, "%s, da speed / write(2) speed, worst size >= 64M (%s%s)", w,
             report_size(worst->size, sz, sizeof sz), below);
    return verdict(name, buf, worst->speedup, 0.9, 1);
}

/* da of the big run against contender c for workload w, need >= 0.9x. */
static int beyond(const row *rows, size_t n, const char *name, const char *w, const char *c,
                  const char *what)
{
    char buf[200], sz[24];
    const row *big = worst_of(rows, n, w, c, 1, 0);
    if (!big) {
        skipped(name, "run with BENCH_BIG=1 (cells beyond RAM)");
        return 0;
    }
    snprintf(buf, sizeof buf, "%s %s, da speed / %s", w, report_size(big->size, sz, sizeof sz),
             what);
    return verdict(name, buf, big->speedup, 0.9, 1);
}

int report_targets(const row *rows, size_t n, size_t ram)
{
    int missed = 0;
    char buf[200], sz[24];
    const size_t G = (size_t)1 << 30;

    const row *r = find(rows, n, "push", G, "realloc");
    if (r && r->speedup > 0)
        missed += verdict("push-realloc", "push 1 GiB, da speed / realloc vector speed",
                          r->speedup, 2.0, 1);
    else
        skipped("push-realloc", "needs push at 1G with da and realloc");

    missed += vs_write(rows, n, "push", "push-write");
    missed += vs_write(rows, n, "extend", "extend-write");
    missed += beyond(rows, n, "beyond-ram", "push", "dd", "dd speed (write(2) of 1 MiB blocks)");
    missed += beyond(rows, n, "scan-beyond-ram", "scan", "write",
                     "read(2) in 1 MiB blocks (cold, reopened)");
    const row *rc = worst_of(rows, n, "rcold", "write", 1, 0), *rd = NULL;
    for (size_t i = 0; rc && i < n; i++)
        if (rows[i].big && !strcmp(rows[i].workload, "rcold") && !strcmp(rows[i].contender, "da"))
            rd = &rows[i];
    if (rc && rd)
        printf("target %-15s rcold %s, ns per cold random read: da %.0f, pread %.0f; da speed / "
               "pread speed: %.4g (no need: reported)\n", "random-beyond-ram",
               report_size(rd->size, sz, sizeof sz), rd->med * 1e9 / (double)rd->elements,
               rc->med * 1e9 / (double)rc->elements, rc->speedup);
    else
        skipped("random-beyond-ram", "run with BENCH_BIG=1 (cells beyond RAM)");

    /* memory: what streaming beyond RAM holds (system-wide peaks while da ran) */
    const row *bp = NULL;
    for (size_t i = 0; i < n; i++)
        if (rows[i].big && !strcmp(rows[i].workload, "push") && !strcmp(rows[i].contender, "da") &&
            rows[i].runs)
            bp = &rows[i];
    if (bp) { /* dirty pages are page cache too: the cache's peak is the bound */
        snprintf(buf, sizeof buf, "push %s, peak page cache grown %.0f MiB (peak dirty + "
                 "writeback %.0f MiB), as a share of RAM", report_size(bp->size, sz, sizeof sz),
                 bp->cache_mib, bp->dirty_mib);
        missed += verdict("memory", buf, bp->cache_mib * 1048576.0 / (double)ram, 1.0 / 3, 0);
    } else {
        skipped("memory", "run with BENCH_BIG=1 (cells beyond RAM)");
    }

    /* growth: reserving vs writing, per GiB, at sizes of 1 GiB and more (below,
     * the fixed cost of a call dominates a per-GiB figure) */
    size_t wsize = largest(rows, n, "push", "da");
    const row *wr = wsize ? find(rows, n, "push", wsize, "da") : NULL;
    double write_gib = wr ? per_gib(wr->med, wsize) : 0, lo = 0, hi = 0, worst_res = 0;
    size_t lo_s = 0, hi_s = 0;
    for (size_t i = 0; i < n; i++) {
        const row *g = &rows[i];
        if (strcmp(g->workload, "grow") || strcmp(g->contender, "da") || !g->runs ||
            (g->size < G && g->size != largest(rows, n, "grow", "da")))
            continue;
        double c = per_gib(g->med, g->size);
        if (c > worst_res)
            worst_res = c;
        if (!lo_s || c < lo)
            lo = c, lo_s = g->size;
        if (!hi_s || g->size > hi_s)
            hi = c, hi_s = g->size;
    }
    if (wr && lo_s) {
        snprintf(buf, sizeof buf, "reserving a GiB / writing it (push %s), worst size",
                 report_size(wsize, sz, sizeof sz));
        missed += verdict("reserve-cost", buf, worst_res / write_gib, 0.01, 0);
        snprintf(buf, sizeof buf, "growth cost per GiB at %s / lowest at >= 1G",
                 report_size(hi_s, sz, sizeof sz));
        missed += verdict("growth-flat", buf, hi / lo, 1.5, 0);
    } else {
        skipped("reserve-cost", "needs grow and push with da");
    }

    /* faults per GiB pushed, at the sizes where a per-GiB figure means something */
    const row *fw = NULL;
    double fmax = -1;
    for (size_t i = 0; i < n; i++) {
        const row *p = &rows[i];
        if (strcmp(p->workload, "push") || strcmp(p->contender, "da") || !p->runs || p->big ||
            (p->size < G && p->size != wsize))
            continue;
        double f = per_gib(p->minflt + p->majflt, p->size);
        if (f > fmax)
            fmax = f, fw = p;
    }
    if (fw) {
        snprintf(buf, sizeof buf, "faults per GiB pushed, worst size (%s)",
                 report_size(fw->size, sz, sizeof sz));
        missed += verdict("faults", buf, fmax, 1500, 0);
    } else {
        skipped("faults", "needs push with da");
    }

    /* no copy: an own arena's data never moved (each da run checks it and
     * fails with a VIOLATION line if it did) */
    int runs = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].contender, "da") &&
            (!strcmp(rows[i].workload, "push") || !strcmp(rows[i].workload, "extend")))
            runs += rows[i].runs;
    if (runs)
        printf("target %-15s own-arena data moved in 0 of %d da push/extend runs (need 0): met\n",
               "no-copy", runs);
    else
        skipped("no-copy", "needs push or extend with da");
    return missed;
}

/* ---- CSV ------------------------------------------------------------------- */

int report_csv(const row *rows, size_t n, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return errno;
    fprintf(f, "workload,size_bytes,contender,runs,median_s,min_s,max_s,elements,ns_per_elem,"
               "gb_per_s,minflt_per_gib,majflt_per_gib,peak_rss_mib,peak_dirty_mib,"
               "peak_cache_mib,da_speedup,note\n");
    for (size_t i = 0; i < n; i++) {
        const row *r = &rows[i];
        fprintf(f, "%s,%zu,%s,%d,", r->workload, r->size, r->contender, r->runs);
        if (r->runs)
            fprintf(f, "%.9f,%.9f,%.9f,%zu,%.4f,%.4f,%.1f,%.1f,%.1f,%.1f,%.1f,", r->med, r->min,
                    r->max, r->elements, r->med * 1e9 / (double)r->elements, gbps(r, r->med),
                    per_gib(r->minflt, r->size), per_gib(r->majflt, r->size), r->rss_mib,
                    r->dirty_mib, r->cache_mib);
        else
            fprintf(f, ",,,%zu,,,,,,,,", r->elements);
        if (r->speedup > 0)
            fprintf(f, "%.4f", r->speedup);
        fprintf(f, ",%s\n", r->note ? r->note : (r->runs ? "" : "failed"));
    }
    int e = ferror(f) ? EIO : 0;
    return fclose(f) != 0 && !e ? errno : e;
}
