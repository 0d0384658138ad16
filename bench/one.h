/* bench/: one measurement, run by the driver in a process of its own. */
#ifndef BENCH_ONE_H
#define BENCH_ONE_H

#include "bench.h"

/** Index of the workload called name, or -1; and back. */
int bench_workload(const char *name);
const char *bench_workload_name(int w);
/** The contender has the operation workload w needs. */
int bench_applies(int w, const contender *c);
/** What ns/element counts for workload w at size bytes: elements, random
 * operations, or open/close pairs. */
size_t bench_elements(int w, size_t size);
/** Run workload w once on c at size bytes in dir; prints the RESULT line.
 * @return 0, 1 on an error or a wrong result, 2 when c does not run w. */
int bench_one(int w, const contender *c, size_t size, const char *dir);

/** Warm `bytes` of memory for the run that follows (see one.c); seconds taken. */
double bench_warm(size_t bytes, const char *dir);
/** Where the scan/rcold workloads find their vector file ($BENCH_SCAN_FILE). */
const char *bench_scan_path(void);
/** Make the scan file: a persistent vector of n u64 laid down by extend,
 * synced; progress lines on stderr every 10 s unless progress is NULL.
 * @return 0 or an error code. */
int bench_fill_file(const char *path, size_t n, const char *progress);

#endif
