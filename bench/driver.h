/* bench/: the driver's plan and results, shared by main.c and report.c. */
#ifndef BENCH_DRIVER_H
#define BENCH_DRIVER_H

#include <stddef.h>

#define MAX_RUNS 64

typedef struct sample {
    double s;
    long minflt, majflt, rss_kib;
    long dirty_kib, cache_kib; /* system-wide peaks while the clock ran */
} sample;

/* One (workload, size, contender) cell: its samples, then their summary. */
typedef struct row {
    const char *workload;
    size_t size;        /* bytes the workload works on (0: size-free) */
    const char *contender;
    size_t elements;    /* what ns/elem divides by */
    const char *note;   /* why it was skipped, or NULL */
    int group;          /* rows of one (workload, size) share a group */
    int big;            /* the BENCH_BIG run, beyond RAM */
    int runs;
    sample v[MAX_RUNS];
    double med, min, max, minflt, majflt, rss_mib, speedup; /* speedup: t(contender)/t(da) */
    double dirty_mib, cache_mib; /* largest peak over the runs */
} row;

/** Fill the summary fields of rows[0..n) (medians, min, max, speedup vs "da"). */
void report_summarize(row *rows, size_t n);
/** Print the table's header, or one group's lines. */
void report_header(void);
void report_group(const row *rows, size_t n, int group);
/** Print each target with met/missed, the ratio and the need; returns how
 * many were missed.  ram: the machine's RAM in bytes. */
int report_targets(const row *rows, size_t n, size_t ram);
/** Write the CSV; 0 or an errno. */
int report_csv(const row *rows, size_t n, const char *path);
/** "1M", "4G", "36G": the binary size as the table shows it. */
const char *report_size(size_t bytes, char *buf, size_t len);

#endif
