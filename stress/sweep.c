/* sweep — SQLite's count-down loop over every fail point.
 *
 * For each point and N = 1, 2, ...: run a fixed workload (temp vector T,
 * persistent vector P created, synced, shrunk and reopened, vector S and raw
 * blocks in a shared arena allocated, grown, moved, shrunk and freed, an
 * arena over the caller's file, over one with a hole, and over one whose
 * flock the caller holds) with the point failing on its Nth call,
 * transient (that call only) or persistent (from the Nth on), until a run
 * completes without reaching N.  stress/oracle.c checks every call of the
 * workload; then the fault is disarmed and a recovery tail checks that every
 * vector keeps working, that P reopens as it should, and that mappings and
 * descriptors are back to baseline.  A point the workload never reaches is a
 * violation: the sweep would pass without testing it.
 *
 * mkostemp, unlink, pwrite and lseek run only where O_TMPFILE or fallocate are
 * missing: they are swept in a second workload that simulates such a file
 * system (open / fallocate fail with EOPNOTSUPP, so the core's fallbacks run).
 *
 * Prints a matrix: point x mode -> runs, clean errors, violations.
 * Options: --point NAME --mode transient|persistent --n N: one run only (the
 * replay of a violation). */
#define _GNU_SOURCE
#include "common.h"
#include "fault.h"
#include "oracle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_N 400 /* no point is called this often by the workload */

enum { V_NORMAL, V_FALLBACK };
static const char *const variant_name[] = {"", " (no O_TMPFILE/fallocate)"};

static or_op mk(int kind, int target, int variant, uint64_t a, uint64_t b)
{
    or_op op;
    memset(&op, 0, sizeof op);
    op.kind = (uint8_t)kind;
    op.target = (uint8_t)target;
    op.variant = (uint8_t)variant;
    op.a = a;
    op.b = b;
    op.fpoint = -1;
    return op;
}

enum { T, P, S };

/* The workload: every call of the API that reaches a fail point. */
static size_t workload(or_op *w, int fallback)
{
    size_t n = 0;
    w[n++] = mk(OP_PUSH, T, 0, 0, 0);        /* creates T */
    w[n++] = mk(OP_EXTEND, T, 0, 2000, 1);   /* 2000 elements */
    w[n++] = mk(OP_PUSH, P, 0, 0, 0);        /* creates P's file: a failure leaves none (C6) */
    w[n++] = mk(OP_EXTEND, P, 0, 1000, 1);
    w[n++] = mk(OP_SYNC, P, 0, 0, 0);
    w[n++] = mk(OP_EXTEND, P, 0, 700, 1);
    w[n++] = mk(OP_PUSH, S, 0, 0, 0);        /* creates the shared arena */
    w[n++] = mk(OP_EXTEND, S, 0, 600, 1);
    w[n++] = mk(OP_OPENFD, 0, 1, 5000, 9);           /* the caller holds its flock (C3) */
    w[n++] = mk(OP_OPENFD, 0, 2, 3 * 4096, 8);       /* a file with a hole (C2) */
    w[n++] = mk(OP_ALLOC, 0, 0, 1 | 100 << 8, 3);   /* 101 bytes, align 8 */
    w[n++] = mk(OP_ALLOC, 0, 1, 5 | 6000 << 8, 6);  /* zeroed, 6001 bytes, align 64 */
    w[n++] = mk(OP_ALLOC, 0, 0, 2 | 50 << 8, 12);   /* 51 bytes, align 4096 */
    w[n++] = mk(OP_GROW, 0, 0, 0, 6 | 900 << 8);     /* block 0, not last: moves */
    w[n++] = mk(OP_GROW, 0, 1, 2, 5 | 3000 << 8);    /* the last block, zeroed: in place */
    w[n++] = mk(OP_SHRINKB, 0, 0, 2, 7);             /* the last block */
    w[n++] = mk(OP_FREE, 0, 0, 0, 0);
    w[n++] = mk(OP_EXTEND, S, 0, 700, 1);            /* S is not last: it moves */
    w[n++] = mk(OP_SYNC, T, 0, 0, 0);
    w[n++] = mk(OP_ASYNC, 0, 0, 0, 0);
    w[n++] = mk(OP_TRUNCATE, T, 0, 30, 0);
    w[n++] = mk(OP_SHRINK, T, 0, 0, 0);
    w[n++] = mk(OP_TRUNCATE, P, 0, 40, 0);
    w[n++] = mk(OP_SHRINK, P, 0, 0, 0);              /* below the synced length: keeps it,
                                                        writes no header (C5) */
    w[n++] = mk(OP_RESERVE, T, 1, 5000, 2);          /* exact */
    w[n++] = mk(OP_RESERVE, P, 0, 3000, 2);          /* amortized */
    w[n++] = mk(OP_SHRINK, S, 0, 0, 0);
    w[n++] = mk(OP_OPENFD, 0, 0, 5000, 7);
    w[n++] = mk(OP_POP, T, 0, 0, 0);
    w[n++] = mk(OP_RECYCLE, T, 0, 0, 0);
    w[n++] = mk(OP_RECYCLE, P, 3, 0, 0);             /* reopened after cp --sparse (C2) */
    w[n++] = mk(OP_RECYCLE, S, 0, 0, 0);
    w[n++] = mk(OP_EXTEND, T, 0, 100, 1);
    w[n++] = mk(OP_EXTEND, S, 0, 100, 1);
    w[n++] = mk(OP_POP, P, 0, 0, 0);
    for (size_t i = 0; fallback && i < n; i++) /* temp files: no O_TMPFILE; the rest: no fallocate */
        w[i].env = (w[i].kind == OP_RECYCLE && w[i].target != P) ||
                           (i == 0 || i == 6)
                       ? 1
                       : 2;
    return n;
}

/* After the fault is gone: every vector works, P reopens intact. */
static size_t recovery(or_op *w, int fallback)
{
    size_t n = 0;
    for (int k = T; k <= S; k++)
        w[n++] = mk(OP_EXTEND, k, 0, 300, 1);
    w[n++] = mk(OP_SYNC, P, 0, 0, 0);
    w[n++] = mk(OP_ALLOC, 0, 0, 1 | 300 << 8, 3);
    w[n++] = mk(OP_RECYCLE, P, 0, 0, 0);
    w[n++] = mk(OP_EXTEND, P, 0, 10, 1);
    for (size_t i = 0; fallback && i < n; i++)
        w[i].env = 2;
    return n;
}

typedef struct cell {
    unsigned runs;
    uint64_t clean, violations;
} cell;

typedef struct sweep {
    st_stats *s;
    or_config cfg;
    int verbose;
    const char *argv0;
} sweep;

/* One run: point i failing on call n (persistent: from n on).  Returns the
 * calls the plan saw (< n: the workload is done with this point), or -1. */
static long one_run(sweep *sw, int variant, int i, int persistent, uint64_t n, cell *c)
{
    or_op w[64], r[16];
    size_t nw = workload(w, variant), nr = recovery(r, variant);
    or_crash_replay("%s --seed %llu --point %s --mode %s --n %llu%s --verbose", sw->argv0,
                    (unsigned long long)sw->cfg.seed, fault_point_short(i),
                    persistent ? "persistent" : "transient", (unsigned long long)n,
                    variant ? " --fallback" : "");
    char why[1024];
    or_ctx *ctx = or_open(&sw->cfg, why, sizeof why);
    if (!ctx) {
        printf("environment: %s\n", why);
        sw->s->crashes++;
        return -1;
    }
    uint64_t x = sw->cfg.seed ^ (n * 0x9e3779b97f4a7c15ull) ^ (uint64_t)persistent;
    fault_plan plan = {persistent ? FAULT_FROM : FAULT_NTH, 0, n,
                       fault_errno_pick(i, st_pattern(x, (uint64_t)i)), 0};
    int err = plan.err, bad = 0;
    size_t at = 0;
    if (fault_arm_thread(fault_point_name(i), &plan) < 0) {
        printf("fault layer: %s\n", fault_why());
        sw->s->crashes++;
        bad = -1;
    }
    for (; at < nw && !bad; at++)
        bad = or_exec(ctx, &w[at]);
    uint64_t calls = fault_plan_calls(i), fires = fault_plan_fires(i);
    fault_disarm_thread();
    for (size_t k = 0; k < nr && !bad; k++, at++)
        bad = or_exec(ctx, &r[k]);
    if (bad > 0)
        snprintf(why, sizeof why, "%s", or_why(ctx));
    const or_stats *st = or_stats_of(ctx);
    sw->s->ops += st->ops;
    sw->s->clean_errors += st->clean_errors;
    c->clean += st->clean_errors;
    char fin[sizeof why - 16];
    if (or_close(ctx, fin, sizeof fin) && !bad) {
        bad = 1;
        snprintf(why, sizeof why, "at the end: %s", fin);
    }
    c->runs++;
    if (sw->verbose)
        printf("  %s%s %s n=%llu %s: %llu calls, %llu fires\n", fault_point_short(i),
               variant_name[variant], persistent ? "persistent" : "transient",
               (unsigned long long)n, strerrorname_np(err), (unsigned long long)calls,
               (unsigned long long)fires);
    if (bad > 0) {
        c->violations++;
        snprintf(sw->s->replay, sizeof sw->s->replay,
                 "%s --seed %llu --point %s --mode %s --n %llu%s --verbose",
                 sw->argv0, (unsigned long long)sw->cfg.seed,
                 fault_point_short(i), persistent ? "persistent" : "transient",
                 (unsigned long long)n, variant ? " --fallback" : "");
        st_violation(sw->s, "%s%s failing %s call #%llu with %s: step %zu: %s",
                     fault_point_short(i), variant_name[variant],
                     persistent ? "from" : "only", (unsigned long long)n,
                     strerrorname_np(err), at - 1, why);
    }
    return bad < 0 ? -1 : (long)calls;
}

static int in_list(const char *name, const char *list)
{
    size_t n = strlen(name);
    for (const char *p = strstr(list, name); p; p = strstr(p + 1, name))
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    st_opts o;
    st_parse(&o, argc, argv, 30);
    const char *only_point = NULL;
    int only_mode = -1, only_variant = -1;
    uint64_t only_n = 0;
    for (int i = 1; i < o.argc; i++) {
        if (!strcmp(o.argv[i], "--point") && i + 1 < o.argc)
            only_point = o.argv[++i];
        else if (!strcmp(o.argv[i], "--mode") && i + 1 < o.argc)
            only_mode = !strcmp(o.argv[++i], "persistent");
        else if (!strcmp(o.argv[i], "--n") && i + 1 < o.argc)
            only_n = strtoull(o.argv[++i], NULL, 10);
        else if (!strcmp(o.argv[i], "--fallback"))
            only_variant = V_FALLBACK;
        else {
            fprintf(stderr, "usage: %s [--seed N] [--seconds S] [--quick] [--verbose] "
                            "[--point NAME [--mode transient|persistent] [--n N] "
                            "[--fallback]]\n",
                    argv[0]);
            return 2;
        }
    }
    st_stats s;
    st_begin(&s, "sweep", &o, argc, argv);
    if (fault_init(o.seed) != 0) {
        printf("fault layer: %s\n", fault_why());
        s.crashes++;
        return st_summary(&s, NULL);
    }
    or_crash_handlers();
    sweep sw = {&s, {.seed = o.seed, .vary_errno = 1, .check_leaks = 1}, o.verbose, argv[0]};
    /* the fallback workload sweeps the points only it reaches, and
     * ftruncate, which rolls the zero-filling back */
    const char *fallback_points = "mkostemp unlink pwrite ftruncate lseek";
    const char *fallback_only = "mkostemp unlink pwrite lseek";
    int np = fault_npoints();
    cell cells[2][FAULT_MAX_POINTS][2];
    memset(cells, 0, sizeof cells);
    double end = st_now() + (o.quick ? 4 : o.seconds);
    int complete = 1;
    printf("%-34s %-10s %6s %6s %6s\n", "point", "mode", "runs", "clean", "viol");
    for (int variant = V_NORMAL; variant <= V_FALLBACK; variant++) {
        for (int i = 0; i < np; i++) {
            const char *name = fault_point_short(i);
            int wanted = variant == V_FALLBACK ? in_list(name, fallback_points)
                                               : !in_list(name, fallback_only);
            if (!wanted || (only_point && fault_point_index(only_point) != i) ||
                (only_variant >= 0 && only_variant != variant) ||
                (only_variant < 0 && only_point && variant == V_FALLBACK &&
                 !in_list(name, fallback_only)))
                continue;
            for (int mode = 0; mode < 2; mode++) {
                if (only_mode >= 0 && mode != only_mode)
                    continue;
                cell *c = &cells[variant][i][mode];
                uint64_t n = only_n ? only_n : 1;
                for (;; n++) {
                    long calls = one_run(&sw, variant, i, mode, n, c);
                    if (calls < 0 || only_n)
                        break;
                    if (n == 1 && calls == 0) {
                        snprintf(s.replay, sizeof s.replay, "%s --seed %llu --point %s%s",
                                 argv[0], (unsigned long long)o.seed, name,
                                 variant ? " --fallback" : "");
                        st_violation(&s, "the workload%s never reaches %s: the sweep would "
                                         "pass without testing it",
                                     variant_name[variant], name);
                        c->violations++;
                        break;
                    }
                    if ((uint64_t)calls < n)
                        break; /* the workload completed without reaching call n */
                    if (n == MAX_N || st_now() > end) {
                        complete = 0;
                        break;
                    }
                }
                char row[64];
                snprintf(row, sizeof row, "%s%s", name, variant_name[variant]);
                printf("%-34s %-10s %6u %6llu %6llu\n", row, mode ? "persistent" : "transient",
                       c->runs, (unsigned long long)c->clean, (unsigned long long)c->violations);
                fflush(stdout);
            }
        }
    }
    if (!complete)
        printf("note: time budget reached before every count-down ended (--seconds)\n");
    char faults[1024];
    free(o.argv);
    return st_summary(&s, fault_summary(faults, sizeof faults));
}
