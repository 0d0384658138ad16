/* What every stress driver shares: options, a seeded PRNG, the data pattern,
 * violation reports with a replay command, and the summary line that
 * stress/run.sh turns into its table.
 *
 * Driver protocol (stress/run.sh relies on it):
 *   - first line of stdout:  seed = N
 *   - on a violation:        VIOLATION: <what>   then   replay: <one-line command>
 *   - last line of stdout:   SUMMARY driver=NAME ops=N faults=P:N,P:N|- clean_errors=N
 *                            violations=N crashes=N seed=N
 *   - exit 0 only when violations and crashes are both 0.
 */
#ifndef STRESS_COMMON_H
#define STRESS_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct st_opts {
    uint64_t seed;      /* --seed N (default: from time and pid) */
    double seconds;     /* --seconds S: time budget (default per driver) */
    uint64_t ops;       /* --ops N: operation budget, 0 = until the time runs out */
    int quick;          /* --quick: the short run `make check` does */
    int verbose;        /* --verbose */
    int argc;           /* what is left after the common options */
    char **argv;
} st_opts;

/* Parse the common options; the rest stay in o->argv for the driver
 * (allocated: free(o->argv) when done, or LeakSanitizer reports it). */
void st_parse(st_opts *o, int argc, char **argv, double default_seconds);

typedef struct st_rng { uint64_t s[4]; } st_rng; /* xoshiro256** */
void st_rng_seed(st_rng *r, uint64_t seed);
uint64_t st_rand(st_rng *r);
uint64_t st_below(st_rng *r, uint64_t n); /* uniform in [0, n); 0 when n == 0 */

/* The value element `index` holds in a run with `seed` (mimalloc's idea: the
 * content is checkable without keeping a copy). */
uint64_t st_pattern(uint64_t seed, uint64_t index);
void st_fill(void *dst, size_t bytes, uint64_t seed, uint64_t index);
/* Index of the first byte that differs from st_fill's output, or SIZE_MAX. */
size_t st_check(const void *src, size_t bytes, uint64_t seed, uint64_t index);

typedef struct st_stats {
    const char *driver;
    uint64_t seed;
    uint64_t ops, clean_errors, violations, crashes;
    char replay[1024];  /* filled by st_begin from argv */
} st_stats;

/* Print "seed = N" and remember how to replay this run. */
void st_begin(st_stats *s, const char *driver, const st_opts *o, int argc, char **argv);
/* Report a violation: prints it and the replay command; counts it. */
void st_violation(st_stats *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The final SUMMARY line; faults is "point:count,..." or NULL for "-".
 * Returns the exit status: 0 only if no violations and no crashes. */
int st_summary(const st_stats *s, const char *faults);

double st_now(void); /* monotonic seconds */

/* "DA_EBADFILE", "ENOSPC", "0 (success)", "unknown (-5)": the name of an error
 * code of either kind, for violation messages.  Thread-local ring of buffers:
 * up to four names in one message. */
const char *st_errname(int e);

#endif
