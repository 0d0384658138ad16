/* The oracle shared by the model, sweep and threads drivers: an in-memory
 * model of three vectors (a temp vector T in its own arena, a persistent
 * vector P, a vector S in a shared arena A beside up to 8 raw blocks) and an
 * executor that runs one operation against the implementation, with a fault
 * armed for that operation only, and checks the contract after it:
 *   - the vectors equal the model (length, contents by st_pattern), capacity
 *     is backed by the file, own-arena data never moves, the file's real size
 *     (fstat through /proc/self/map_files) is da_arena_size, and its blocks
 *     are allocated (no sparse growth);
 *   - blocks keep their contents, alignment, and never overlap;
 *   - a failed call changed nothing and returned an error the header
 *     documents for that call, one a fault injected during it (or the sticky
 *     error of an earlier failed sync); an error with no fault behind it is a
 *     violation;
 *   - a failed sync poisons: writes are DA_EPOISONED, and a persistent
 *     vector reopens with its last successful sync;
 *   - a vector's own arena refuses the raw interface (da_alloc, da_grow,
 *     da_shrink, da_arena_resize, da_vec_init_in: DA_EINVAL; da_free: no-op)
 *     and changes nothing; a failed da_vec_open of a new file leaves no file;
 *     a reopened file (also one made sparse in between, as cp --sparse
 *     does) and an arena over the caller's file with holes have every block
 *     allocated; da_arena_open_fd refuses a file whose flock the caller
 *     holds (EWOULDBLOCK) and never releases that lock; shrink_to_fit never
 *     writes a header (contracts C1, C2, C3, C5, C6 of issue 9).
 * Operations are "intents" with raw random numbers interpreted against the
 * current state, so any subsequence of a recorded list still runs: that is
 * what lets model.c shrink a failure by delta debugging.
 *
 * Faults are armed with fault_arm_thread(), so one oracle per thread works. */
#ifndef STRESS_ORACLE_H
#define STRESS_ORACLE_H

#include "common.h"

#include <stddef.h>
#include <stdint.h>

enum or_kind {
    OP_PUSH, OP_EXTEND, OP_POP, OP_TRUNCATE, OP_RESERVE, OP_SHRINK, OP_SYNC, OP_RECYCLE,
    OP_ALLOC, OP_GROW, OP_SHRINKB, OP_FREE, OP_ASYNC, OP_OPENFD,
    OP_OWNARENA, /* the raw interface on T's or P's own arena: refused (contract C1) */
    OP_NKINDS
};

typedef struct or_op {
    uint8_t kind;
    uint8_t target;   /* vector: 0 = T, 1 = P, 2 = S */
    uint8_t variant;  /* kind-specific switch (fast push, from-self extend, exact, zeroed...) */
    uint64_t a, b;    /* raw random numbers, read against the state at run time */
    int fpoint;       /* fault: a raw point number, or -1 for none; three times in
                         four it picks among the points the operation reaches */
    uint8_t fmode;    /* enum fault_mode */
    uint32_t fn;      /* FAULT_NTH / FAULT_FROM */
    double fp;        /* FAULT_PROB */
    uint64_t ferr;    /* errno pick (fault_errno_pick) */
    uint64_t fseed;
    uint8_t env;      /* 1: a file system without O_TMPFILE, 2: without fallocate
                         (their points fail with EOPNOTSUPP: the fallbacks run) */
} or_op;

typedef struct or_config {
    uint64_t seed;     /* pattern seed */
    const char *dir;   /* where the episode's directory goes; NULL: $TMPDIR, /var/tmp */
    int vary_errno;    /* each fault picks its own errno (process-wide: one thread only) */
    int check_leaks;   /* maps and fds back to baseline after the episode (one thread only) */
    int fault_percent; /* share of operations with a fault armed (or_gen) */
} or_config;

typedef struct or_stats {
    uint64_t ops, clean_errors;
} or_stats;

typedef struct or_ctx or_ctx;

/** A fresh episode: a new directory, T, P and A opened without faults.
 * NULL when the environment fails (why says so): not a violation. */
or_ctx *or_open(const or_config *cfg, char *why, size_t n);
/** Run one operation (its fault armed for this thread during it only).
 * 0, or 1 on a violation (or_why tells). */
int or_exec(or_ctx *c, const or_op *op);
/** Close everything, check P reopens as the model says and (check_leaks)
 * that maps and fds are back to baseline; free the context.  0 or 1 (why
 * gets the violation). */
int or_close(or_ctx *c, char *why, size_t n);
const char *or_why(const or_ctx *c);
const or_stats *or_stats_of(const or_ctx *c);

/** Draw one operation. */
void or_gen(st_rng *r, const or_config *cfg, or_op *op);
/** "extend P n=123 +fault fallocate nth=2 ENOSPC" */
void or_describe(const or_op *op, int vary_errno, char *buf, size_t n);

/** Episode e of a run: its operations (count from the stream), malloc'd. */
or_op *or_episode(uint64_t seed, uint64_t episode, const or_config *cfg, size_t *count);

/** Run ops[idx[k]] (k < n; idx NULL = ops[0..n)) in a fresh context.
 * Returns -1 when clean, k of the violating op (n for the final checks),
 * or -2 when the environment failed; why gets the message. */
long or_run(const or_config *cfg, const or_op *ops, const size_t *idx, size_t n,
            or_stats *st, char *why, size_t wn);

/** On SIGBUS, SIGSEGV or SIGABRT print "CRASH: <signal> in <what>" and the
 * replay line last set by or_crash_replay (per thread), then die of the
 * signal as before: a store beyond the file, the hazard this library exists
 * to prevent, then still says how to reproduce it. */
void or_crash_handlers(void);
void or_crash_replay(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
