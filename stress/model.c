/* model — random operation sequences against an in-memory model, with a
 * fault armed at random (point, mode, errno) on a third of the operations:
 * push, extend (also from the vector itself), pop, truncate, reserve,
 * reserve_exact, shrink_to_fit, sync, close+reopen of a temp, a persistent
 * and a shared-arena vector, and alloc/grow/shrink/free of raw blocks beside
 * the shared one, arena sync, arena_open_fd.  stress/oracle.c checks the
 * contract after every operation.
 *
 * The run is a series of episodes (40-440 operations from a fresh
 * directory), each generated from (seed, episode) alone.  On a violation the
 * episode's operations are shrunk by delta debugging (re-run from scratch,
 * deterministically) to a minimal list that still fails; it is printed with
 * the command that replays exactly it.
 *
 * Options: --episode E (run only that one), --only I,J,.. (only those
 * operations of it), --shrink-seconds S (default 30), --errno-seed X (one
 * errno per point from X, as the threads driver does; default: a random
 * errno for each fault). */
#define _GNU_SOURCE
#include "common.h"
#include "fault.h"
#include "oracle.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shrinker {
    const or_config *cfg;
    const or_op *ops;
    double deadline;
    unsigned runs;
    char why[1024];
} shrinker;

/* Two violations are the same failure when their messages agree up to the
 * first number (at most 48 characters): a subset that fails otherwise (one
 * episode can break several promises) is not a reproduction of this one. */
static int same_failure(const char *a, const char *b)
{
    size_t n = 0;
    while (n < 48 && a[n] && a[n] == b[n] && !isdigit((unsigned char)a[n]))
        n++;
    return n == 48 || (a[n] == '\0' && b[n] == '\0') ||
           (isdigit((unsigned char)a[n]) && isdigit((unsigned char)b[n]));
}

static int fails(shrinker *sh, const size_t *idx, size_t n)
{
    sh->runs++;
    char why[1024];
    long at = or_run(sh->cfg, sh->ops, idx, n, NULL, why, sizeof why);
    if (at < 0 || !same_failure(why, sh->why))
        return 0;
    snprintf(sh->why, sizeof sh->why, "%s", why);
    return 1;
}

/* Zeller's ddmin over the operation indices, within the deadline. */
static size_t ddmin(shrinker *sh, size_t *idx, size_t n)
{
    size_t *tmp = malloc(n * sizeof *tmp), parts = 2;
    while (n >= 2 && st_now() < sh->deadline) {
        size_t chunk = (n + parts - 1) / parts, m = 0;
        int reduced = 0;
        for (size_t p = 0; p < parts && !reduced && st_now() < sh->deadline; p++) {
            size_t lo = p * chunk, hi = lo + chunk < n ? lo + chunk : n;
            if (lo >= hi)
                continue;
            /* the chunk alone, then everything but the chunk */
            if (fails(sh, idx + lo, hi - lo)) {
                memmove(idx, idx + lo, (hi - lo) * sizeof *idx);
                n = hi - lo;
                parts = 2;
                reduced = 1;
                break;
            }
            m = 0;
            for (size_t i = 0; i < n; i++)
                if (i < lo || i >= hi)
                    tmp[m++] = idx[i];
            if (parts > 2 && fails(sh, tmp, m)) {
                memcpy(idx, tmp, m * sizeof *idx);
                n = m;
                parts = parts - 1 > 2 ? parts - 1 : 2;
                reduced = 1;
            }
        }
        if (!reduced) {
            if (parts >= n)
                break;
            parts = parts * 2 < n ? parts * 2 : n;
        }
    }
    free(tmp);
    return n;
}

static size_t parse_only(const char *s, size_t **out)
{
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    *out = malloc(n * sizeof **out);
    n = 0;
    for (char *end; *s; s = end + (*end == ',')) {
        (*out)[n++] = strtoull(s, &end, 10);
        if (end == s)
            break;
    }
    return n;
}

int main(int argc, char **argv)
{
    st_opts o;
    st_parse(&o, argc, argv, 10);
    long episode = -1;
    const char *only = NULL, *errno_seed = NULL;
    double shrink_seconds = 30;
    for (int i = 1; i < o.argc; i++) {
        if (!strcmp(o.argv[i], "--episode") && i + 1 < o.argc)
            episode = strtol(o.argv[++i], NULL, 10);
        else if (!strcmp(o.argv[i], "--only") && i + 1 < o.argc)
            only = o.argv[++i];
        else if (!strcmp(o.argv[i], "--shrink-seconds") && i + 1 < o.argc)
            shrink_seconds = strtod(o.argv[++i], NULL);
        else if (!strcmp(o.argv[i], "--errno-seed") && i + 1 < o.argc)
            errno_seed = o.argv[++i];
        else {
            fprintf(stderr, "usage: %s [--seed N] [--seconds S] [--ops N] [--quick] [--verbose] "
                            "[--episode E [--only I,J,...]] [--shrink-seconds S] "
                            "[--errno-seed X]\n",
                    argv[0]);
            return 2;
        }
    }
    if (o.quick)
        o.seconds = 1.5, shrink_seconds = 3;
    st_stats s;
    st_begin(&s, "model", &o, argc, argv);
    if (fault_init(errno_seed ? strtoull(errno_seed, NULL, 0) : o.seed) != 0) {
        printf("fault layer: %s\n", fault_why());
        s.crashes++;
        return st_summary(&s, NULL);
    }
    fault_mark();
    or_crash_handlers();
    or_config cfg = {.seed = o.seed, .vary_errno = !errno_seed, .check_leaks = 1,
                     .fault_percent = 35};
    double end = st_now() + o.seconds;
    char faults[1024] = "-", why[1024];
    for (uint64_t e = episode < 0 ? 0 : (uint64_t)episode;; e++) {
        size_t n, *idx = NULL;
        or_op *ops = or_episode(o.seed, e, &cfg, &n);
        size_t nrun = only ? parse_only(only, &idx) : n;
        for (size_t k = 0; idx && k < nrun; k++)
            if (idx[k] >= n) {
                fprintf(stderr, "--only: episode %llu has %zu operations\n",
                        (unsigned long long)e, n);
                return 2;
            }
        or_stats st = {0, 0};
        or_crash_replay("%s --seed %llu --episode %llu%s%s%s%s", argv[0],
                        (unsigned long long)o.seed, (unsigned long long)e,
                        errno_seed ? " --errno-seed " : "", errno_seed ? errno_seed : "",
                        only ? " --only " : "", only ? only : "");
        long at = or_run(&cfg, ops, idx, nrun, &st, why, sizeof why);
        s.ops += st.ops;
        s.clean_errors += st.clean_errors;
        if (o.verbose)
            printf("episode %llu: %zu ops, %s\n", (unsigned long long)e, nrun,
                   at == -1 ? "clean" : why);
        if (at == -2) {
            printf("environment: %s\n", why);
            s.crashes++;
        } else if (at >= 0) {
            fault_summary(faults, sizeof faults);
            size_t k = (size_t)at < nrun ? (size_t)at : nrun - 1, m = k + 1;
            size_t *min = malloc(m * sizeof *min);
            for (size_t i = 0; i < m; i++)
                min[i] = idx ? idx[i] : i;
            printf("episode %llu, operation %zu of %zu: %s\n", (unsigned long long)e, k, nrun,
                   why);
            shrinker sh = {&cfg, ops, st_now() + shrink_seconds, 0, ""};
            snprintf(sh.why, sizeof sh.why, "%s", why);
            if (!only)
                m = ddmin(&sh, min, m);
            printf("minimal reproduction: %zu of %zu operations (%u runs to shrink)\n", m,
                   k + 1, sh.runs);
            int len = snprintf(s.replay, sizeof s.replay, "%s --seed %llu --episode %llu%s%s --only ",
                               argv[0], (unsigned long long)o.seed, (unsigned long long)e,
                               errno_seed ? " --errno-seed " : "", errno_seed ? errno_seed : "");
            for (size_t i = 0; i < m; i++) {
                char d[256];
                or_describe(&ops[min[i]], cfg.vary_errno, d, sizeof d);
                printf("  #%zu %s\n", min[i], d);
                if (len > 0 && (size_t)len < sizeof s.replay)
                    len += snprintf(s.replay + len, sizeof s.replay - (size_t)len, "%s%zu",
                                    i ? "," : "", min[i]);
            }
            if (len < 0 || (size_t)len >= sizeof s.replay) /* too long: the whole episode */
                *strstr(s.replay, " --only ") = '\0';
            st_violation(&s, "%s", sh.why);
            free(min);
        }
        free(idx);
        free(ops);
        if (at != -1 || episode >= 0 || st_now() >= end || (o.ops && s.ops >= o.ops))
            break;
    }
    if (s.violations == 0)
        fault_summary(faults, sizeof faults);
    char unfired[512];
    if (fault_unfired(unfired, sizeof unfired) && !o.quick)
        printf("note: armed but never fired in this run: %s\n", unfired);
    free(o.argv);
    return st_summary(&s, faults);
}
