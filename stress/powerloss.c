/* powerloss — cut the power under persistent vectors; what was acknowledged
 * must survive.  (stress/crash's SIGKILL cannot: a killed process keeps its
 * page cache, so a vector whose msync and fsync do nothing passes it.)
 *
 * Each round a child records itself with the in-process recorder
 * (faults/powerloss.h: this binary's fsync, msync, write, ... are the
 * recorder's) while it pushes, extends, truncates, shrinks, syncs, closes and
 * reopens one or two persistent vectors at random.  It acknowledges through
 * pl_ack: "S k L" before each sync, close or shrink of vector k at length L,
 * "D k L" after a sync or close succeeded, "M k L" after a shrink (which may
 * or may not have synced).  Then faults/powerloss explores every crash state
 * of the log, running this binary with --check-state in each: every vector
 * must reopen (never DA_EBADFILE) with the length of its last "D", of a shrink
 * since, or of the operation in flight, and every element below that length
 * must hold its pattern.  Each inconsistent state is a VIOLATION, with the
 * explorer's replay line that rebuilds it.
 * Options: --dir DIR (default $TMPDIR, else /var/tmp), --torn (tear pages at
 * 512-byte sectors), --names-durable (creates count as durable at once: the
 * explorer's ext4-like model instead of POSIX's). */
#define _GNU_SOURCE
#include "common.h"
#include "diskalloc.h"
#include "powerloss.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PL_EXPLORER
#define PL_EXPLORER "faults/powerloss"
#endif

#define NVEC 2

typedef struct run {
    st_stats s;
    st_rng rng;
    uint64_t seed; /* the pattern */
    size_t elem[NVEC];
    int quick;
} run;

static void vpath(char *out, size_t cap, int k) { snprintf(out, cap, "v%d.davec", k); }

static void ack(char kind, int k, size_t len)
{
    char line[64];
    snprintf(line, sizeof line, "%c %d %zu", kind, k, len);
    if (pl_ack(line) != 0)
        _exit(3);
}

/* ---- the recorded child ----------------------------------------------------------- */

/* The child leaves with _exit (the parent's atexit handlers must not run
 * twice); in the coverage build (-DT_GCOV) its counters are flushed first, or
 * everything the recorded run did in the core would look unreached. */
#ifdef T_GCOV
void __gcov_dump(void);
#endif

static void child_exit(int rc)
{
#ifdef T_GCOV
    __gcov_dump();
#endif
    _exit(rc);
}

static int child_fail(const char *op, int k, int e)
{
    printf("child: vector %d: %s: %s\n", k, op, da_strerror(e));
    fflush(stdout);
    return 1;
}

static int reopen(run *r, da_vec *v, int k, size_t expect)
{
    char p[32];
    vpath(p, sizeof p, k);
    int e = da_vec_open(v, p, r->elem[k], NULL);
    if (e)
        return child_fail("open", k, e);
    if (v->len != expect) {
        printf("child: vector %d reopened with %zu elements, %zu synced\n", k, v->len, expect);
        return 1;
    }
    return 0;
}

static int child(run *r, const char *rundir, const char *logdir)
{
    if (chdir(rundir) != 0 || pl_start(rundir, logdir) != 0)
        return 2;
    da_vec v[NVEC];
    size_t synced[NVEC] = {0};
    for (int k = 0; k < NVEC; k++)
        if (reopen(r, &v[k], k, 0))
            return 1;
    static unsigned char buf[8192 + 128];
    int ops = r->quick ? 24 : 48;
    for (int i = 0; i < ops; i++) {
        int k = (int)st_below(&r->rng, NVEC), e = 0;
        da_vec *x = &v[k];
        size_t el = r->elem[k];
        uint64_t c = st_below(&r->rng, 100);
        const char *op = "extend";
        if (c < 45) {
            size_t n = 1 + (size_t)st_below(&r->rng, 8192 / el);
            st_fill(buf, n * el, r->seed ^ (uint64_t)k, x->len * el);
            e = n == 1 ? da_vec_push(x, buf) : da_vec_extend(x, buf, n);
        } else if (c < 65) {
            op = "sync";
            ack('S', k, x->len);
            if (!(e = da_vec_sync(x)))
                ack('D', k, synced[k] = x->len);
        } else if (c < 75) {
            op = "truncate";
            da_vec_truncate(x, (size_t)st_below(&r->rng, x->len + 1));
        } else if (c < 87) {
            op = "shrink_to_fit";
            da_vec_truncate(x, (size_t)st_below(&r->rng, x->len + 1));
            ack('S', k, x->len);
            if (!(e = da_vec_shrink_to_fit(x)))
                ack('M', k, x->len);
        } else {
            op = "close";
            ack('S', k, x->len);
            size_t len = x->len;
            if ((e = da_vec_close(x)) == 0) {
                ack('D', k, synced[k] = len);
                if (reopen(r, x, k, len))
                    return 1;
            }
        }
        if (e)
            return child_fail(op, k, e);
    }
    /* the end: no last sync, the vectors left open */
    pl_stop();
    return 0;
}

/* ---- --check-state: one crash state, in the current directory ------------------------ */

typedef struct allowed {
    size_t ok[16]; /* the last "D", then the "M"s since */
    int nok;
    size_t inflight; /* an "S" not yet answered, SIZE_MAX if none */
} allowed;

static int check_state(uint64_t seed, const size_t *elem)
{
    allowed a[NVEC];
    for (int k = 0; k < NVEC; k++)
        a[k] = (allowed){{0}, 1, SIZE_MAX};
    const char *path = getenv("DA_POWERLOSS_ACK");
    FILE *f = path && *path ? fopen(path, "r") : NULL;
    char kind;
    int k;
    size_t len;
    while (f && fscanf(f, " %c %d %zu", &kind, &k, &len) == 3) {
        if (k < 0 || k >= NVEC)
            continue;
        if (kind == 'S') {
            a[k].inflight = len;
        } else if (kind == 'D') {
            a[k] = (allowed){{len}, 1, SIZE_MAX};
        } else if (kind == 'M') {
            a[k].ok[a[k].nok < 16 ? a[k].nok++ : 15] = len;
            a[k].inflight = SIZE_MAX;
        }
    }
    if (f)
        fclose(f);
    int bad = 0;
    for (k = 0; k < NVEC; k++) {
        char p[32];
        vpath(p, sizeof p, k);
        da_vec v;
        int e = da_vec_open(&v, p, elem[k], NULL);
        if (e) {
            fprintf(stderr, "vector %d does not reopen: %s (last acknowledged sync: length %zu)\n",
                    k, da_strerror(e), a[k].ok[0]);
            bad = 1;
            continue;
        }
        int fine = v.len == a[k].inflight;
        for (int i = 0; i < a[k].nok; i++)
            fine |= v.len == a[k].ok[i];
        if (!fine) {
            char in[32] = "none";
            if (a[k].inflight != SIZE_MAX)
                snprintf(in, sizeof in, "%zu", a[k].inflight);
            fprintf(stderr, "vector %d reopened with length %zu; last acknowledged sync %zu "
                            "(%d shrinks since), in flight: %s\n",
                    k, v.len, a[k].ok[0], a[k].nok - 1, in);
            bad = 1;
        }
        size_t at = st_check(v.data, v.len * v.elem_size, seed ^ (uint64_t)k, 0);
        if (at != SIZE_MAX) {
            fprintf(stderr, "vector %d: byte %zu (element %zu of %zu) is not its pattern\n", k,
                    at, at / v.elem_size, v.len);
            bad = 1;
        }
        da_vec_close(&v);
    }
    return bad;
}

/* ---- a round: record, explore, report ---------------------------------------------------- */

static int round_(run *r, const char *base, const char *self, const char *flags, uint64_t *states)
{
    char work[1024], rundir[1100], logdir[1100], cmd[16384], list[1100];
    snprintf(work, sizeof work, "%s/da-powerloss-XXXXXX", base);
    if (!mkdtemp(work)) {
        printf("SKIP: mkdtemp in %s: %s\n", base, strerror(errno));
        return -1;
    }
    snprintf(rundir, sizeof rundir, "%s/run", work);
    snprintf(logdir, sizeof logdir, "%s/log", work);
    snprintf(list, sizeof list, "%s/findings.tsv", work);
    if (mkdir(rundir, 0700) != 0)
        return -1;
    uint64_t child_seed = st_rand(&r->rng);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        st_rng_seed(&r->rng, child_seed);
        child_exit(child(r, rundir, logdir));
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    r->s.ops++;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        st_violation(&r->s, "the recorded child failed (status 0x%x): see its line above", status);
        return 0;
    }
    const char *explorer = getenv("DA_POWERLOSS_EXPLORER");
    snprintf(cmd, sizeof cmd,
             "%s explore --log %s --out %s/out --seed %llu --bound 4 --sample 4 --max-states 24 "
             "%s --quiet --findings %s --verify '%s --check-state %llu %zu %zu' > %s/explore.log 2>&1",
             explorer && *explorer ? explorer : PL_EXPLORER, logdir, work,
             (unsigned long long)(child_seed % 1000000007), flags, list, self,
             (unsigned long long)r->seed, r->elem[0], r->elem[1], work);
    int rc = system(cmd);
    FILE *f = fopen(list, "r");
    unsigned long long n = 0, bad = 0;
    if (!f || fscanf(f, "states %llu inconsistent %llu", &n, &bad) != 2) {
        st_violation(&r->s, "the explorer failed (status %d): %s/explore.log", rc, work);
        if (f)
            fclose(f);
        return 0;
    }
    *states += n;
    char line[8192];
    int shown = 0;
    while (fgets(line, sizeof line, f)) {
        char *fld[5] = {line};
        for (int i = 1; i < 5 && fld[i - 1]; i++) {
            char *t = strchr(fld[i - 1], '\t');
            fld[i] = t ? (*t = 0, t + 1) : NULL;
        }
        if (!fld[4])
            continue;
        fld[4][strcspn(fld[4], "\n")] = 0;
        if (shown++ < 3) { /* the rest are counted; all are in the explorer's CSV */
            st_violation(&r->s, "crash state %s at point %s (%s): %s", fld[2], fld[0], fld[1],
                         fld[3]);
            printf("state replay: %s\n", fld[4]);
        } else {
            r->s.violations++;
        }
    }
    fclose(f);
    if (bad == 0) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
        if (system(cmd) != 0)
            printf("note: could not remove %s\n", work);
    } else {
        printf("kept for the replay lines: %s\n", work);
    }
    return 0;
}

int main(int argc, char **argv)
{
    st_opts o;
    st_parse(&o, argc, argv, 10.0);
    if (o.argc == 5 && !strcmp(o.argv[1], "--check-state")) {
        size_t elem[NVEC] = {strtoull(o.argv[3], NULL, 10), strtoull(o.argv[4], NULL, 10)};
        int bad = check_state(strtoull(o.argv[2], NULL, 10), elem);
        free(o.argv);
        return bad;
    }
    const char *dir = getenv("TMPDIR");
    dir = dir && *dir ? dir : "/var/tmp";
    char flags[64] = "";
    for (int i = 1; i < o.argc; i++) {
        if (!strcmp(o.argv[i], "--dir") && i + 1 < o.argc) {
            dir = o.argv[++i];
        } else if (!strcmp(o.argv[i], "--torn") || !strcmp(o.argv[i], "--names-durable")) {
            strcat(flags, " ");
            strcat(flags, o.argv[i]); /* at most both: fits */
        } else {
            fprintf(stderr, "usage: %s [--seed N] [--seconds S] [--quick] [--dir DIR] [--torn] "
                            "[--names-durable]\n", argv[0]);
            return 2;
        }
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 2;
    self[n] = 0;
    static run r;
    st_begin(&r.s, "powerloss", &o, argc, argv);
    st_rng_seed(&r.rng, o.seed);
    static const size_t elems[] = {1, 8, 24, 100};
    r.seed = st_rand(&r.rng);
    for (int k = 0; k < NVEC; k++)
        r.elem[k] = elems[st_below(&r.rng, 4)];
    r.quick = o.quick;
    double end = st_now() + (o.quick && o.seconds > 2.0 ? 2.0 : o.seconds);
    uint64_t rounds = 0, states = 0;
    do {
        if (round_(&r, dir, self, flags, &states) < 0) {
            st_summary(&r.s, NULL);
            free(o.argv);
            return 77;
        }
        rounds++;
    } while (st_now() < end && (!o.ops || r.s.ops < o.ops) && r.s.violations == 0);
    printf("powerloss: %llu rounds, %llu crash states checked, element sizes %zu and %zu\n",
           (unsigned long long)rounds, (unsigned long long)states, r.elem[0], r.elem[1]);
    if (states == 0)
        st_violation(&r.s, "no crash state was checked: the test proved nothing");
    free(o.argv);
    return st_summary(&r.s, NULL);
}
