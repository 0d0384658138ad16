/* Fault control over libfiu for the core's fail points (diskalloc/ftruncate,
 * ...), for stress drivers and tests.
 *
 * What libfiu alone lacks, added here: failing exactly the Nth call (once, or
 * from the Nth on), a realistic errno per point picked from the run's seed
 * (libfiu would pick one at random, unreproducibly), per-point counts of
 * calls and fires, and a report of armed points that never fired.
 *
 * How: fault_init() enables every point the implementation names
 * (da_failpoint_names()) with fiu_enable_external and one callback that
 * counts and decides; the errno travels in libfiu's failinfo, which the core
 * turns into its return value.  The callback never calls back into libfiu
 * (fiu_disable from inside a callback deadlocks).
 *
 * Threads: counting is atomic.  A plan armed with fault_arm() is process-wide
 * (its Nth-call counter is shared, so with several threads "the Nth call" is
 * whichever thread gets there); fault_arm_thread() arms a plan seen only by
 * the calling thread, with its own counter and random stream, so each thread
 * of a threaded driver stays deterministic from its seed.  The errno is one
 * per point for the whole process (libfiu keeps failinfo per point): a plan's
 * err, when given, replaces it for every thread. */
#ifndef FAULTS_FAULT_H
#define FAULTS_FAULT_H

#include <stddef.h>
#include <stdint.h>

#define FAULT_MAX_POINTS 64
#define FAULT_MAX_ERRNOS 8
#define FAULT_ALL_POINTS "diskalloc/*"

enum fault_mode {
    FAULT_OFF = 0,
    FAULT_ALWAYS, /**< every call fails */
    FAULT_PROB,   /**< each call fails with probability p (from the plan's seed) */
    FAULT_NTH,    /**< transient: the nth call only (1-based) */
    FAULT_FROM,   /**< persistent: the nth call and every one after it */
};

typedef struct fault_plan {
    enum fault_mode mode;
    double p;      /**< FAULT_PROB */
    uint64_t n;    /**< FAULT_NTH, FAULT_FROM: which call, 1-based */
    int err;       /**< errno the failing call reports; 0 = keep the point's current one */
    uint64_t seed; /**< FAULT_PROB: seeds the plan's own random stream */
} fault_plan;

/** Enable every fail point of the implementation under the counting
 * callback; give each its first errno, picked from its table with `seed`.
 * A point missing from the errno table is an error: -1, and fault_why()
 * names it.  Idempotent for the same process (counters are kept). */
int fault_init(uint64_t seed);
/** Why the last call that returned -1 failed. */
const char *fault_why(void);

int fault_npoints(void);
/** "diskalloc/ftruncate" for index i, NULL when out of range. */
const char *fault_point_name(int i);
/** "ftruncate" (the name without "diskalloc/"). */
const char *fault_point_short(int i);
/** Index of a point by full or short name, or -1. */
int fault_point_index(const char *name);

/** The realistic errnos for point i (NULL-terminated is not needed: n out). */
const int *fault_errnos(int i, int *n);
/** Errno number r (any value: taken modulo the table's size) of point i. */
int fault_errno_pick(int i, uint64_t r);
/** Set the errno point i reports (process-wide); 0 on success. */
int fault_set_errno(int i, int err);
int fault_get_errno(int i);

/** Arm every point matching `pattern` (a full or short name, or an fnmatch
 * glob: FAULT_ALL_POINTS is every point) with `plan`.  The matching points
 * share one plan: FAULT_NTH on FAULT_ALL_POINTS fails the nth call among all.
 * Replaces what was armed there before.  Returns the number of points armed,
 * or -1 (fault_why) when none matches or the plan is invalid. */
int fault_arm(const char *pattern, const fault_plan *plan);
/** The same, seen by the calling thread only (and taking precedence over a
 * process-wide plan for it). */
int fault_arm_thread(const char *pattern, const fault_plan *plan);
/** Disarm everything: process-wide plans, and this thread's plans. */
void fault_disarm_all(void);
/** Disarm this thread's plans only. */
void fault_disarm_thread(void);

/** Counters since fault_init (process-wide, every thread). */
uint64_t fault_calls(int i);
uint64_t fault_fires(int i);
/** Counters of the calling thread since it started. */
uint64_t fault_thread_calls(int i);
uint64_t fault_thread_fires(int i);
/** Sum of fault_thread_fires over all points: a call that returns an error
 * injected by us has moved this. */
uint64_t fault_thread_fires_total(void);

/** Calls the most recent plan armed on point i (by this thread if it has
 * one there, else process-wide) has seen, and how often it fired: the
 * count-down loop stops when calls < n. */
uint64_t fault_plan_calls(int i);
uint64_t fault_plan_fires(int i);

/** Start a scenario: forget which points were armed and fired. */
void fault_mark(void);
/** Points armed since fault_mark() that never fired (in any thread):
 * their short names, comma-separated, into buf.  Returns how many. */
int fault_unfired(char *buf, size_t size);

/** "ftruncate:12,mmap:3" (fires per point since fault_init, points that
 * never fired left out; "-" when nothing fired), for the SUMMARY line.
 * Returns buf. */
char *fault_summary(char *buf, size_t size);

#endif
