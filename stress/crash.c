/* crash — kill -9 at random moments; a persistent vector loses nothing synced.
 * Each round a child reopens the vector file and pushes, truncates, shrinks
 * and syncs it at random, telling the parent through a pipe "sync of length L
 * starts" before each da_vec_sync and "sync of length L done" after it.  The
 * parent SIGKILLs the child after a random delay, then reopens the file:
 * its length must be that of the last sync reported done (or the length the
 * round started with), or that of the sync in flight when the child died —
 * never less, never anything else — and every element must hold its pattern.
 * The file carries over from round to round.  Options: --dir DIR (default
 * $TMPDIR, else /var/tmp: a real disk, as users have). */
#define _GNU_SOURCE
#include "common.h"
#include "diskalloc.h"
#include "env.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct msg {
    char kind; /* 'S': a sync of len starts; 'D': it succeeded; 'M': a shrink
                  succeeded that may have synced len (when it cut into the
                  synced length) or not */
    size_t len;
} msg;

typedef struct run {
    st_stats s;
    st_rng rng;
    uint64_t seed; /* the file's pattern seed: fixed for the whole run */
    size_t elem;
    size_t max_bytes;
    char path[4200];
    int pipe_w;
} run;

static void tell(const run *r, char kind, size_t len)
{
    msg m = {kind, len};
    if (write(r->pipe_w, &m, sizeof m) != (ssize_t)sizeof m)
        _exit(3);
}

static int sync_told(run *r, da_vec *v)
{
    tell(r, 'S', v->len);
    int e = da_vec_sync(v);
    if (e == 0)
        tell(r, 'D', v->len);
    return e;
}

/* The child: works until killed.  Any API failure here is a violation (no
 * faults are injected): it prints it and exits 1. */
static int child(run *r)
{
    da_vec v;
    int e = da_vec_open(&v, r->path, r->elem, NULL);
    if (e) {
        st_violation(&r->s, "child: da_vec_open: %s", da_strerror(e));
        return 1;
    }
    /* batches of up to 8 KiB whatever the element size, so that truncations
     * cut whole pages off and shrink_to_fit has something to give back */
    static unsigned char buf[8192 + 100];
    const char *op = "";
    for (;;) {
        uint64_t k = st_below(&r->rng, 100);
        if (k < 80) {
            size_t n = 1 + (size_t)st_below(&r->rng, 8192 / r->elem);
            st_fill(buf, n * r->elem, r->seed, v.len * r->elem);
            op = "extend";
            e = n == 1 ? da_vec_push(&v, buf) : da_vec_extend(&v, buf, n);
        } else if (k < 95 && v.len * r->elem < r->max_bytes) {
            op = "sync";
            e = sync_told(r, &v);
        } else if (st_below(&r->rng, 2)) {
            /* truncate, make that length durable, give the space back */
            da_vec_truncate(&v, (size_t)st_below(&r->rng, v.len + 1));
            op = "sync after truncate";
            e = sync_told(r, &v);
            if (e == 0) {
                op = "shrink_to_fit";
                e = da_vec_shrink_to_fit(&v);
            }
        } else {
            /* shrink below the synced length: the vector must sync first */
            da_vec_truncate(&v, (size_t)st_below(&r->rng, v.len + 1));
            op = "shrink_to_fit after truncate";
            tell(r, 'S', v.len);
            e = da_vec_shrink_to_fit(&v);
            if (e == 0)
                tell(r, 'M', v.len);
        }
        if (e) {
            st_violation(&r->s, "child: %s: %s", op, da_strerror(e));
            return 1;
        }
    }
}

static void crash(run *r, const char *what, int status)
{
    printf("CRASH: %s ended with %s\nreplay: %s\n", what, fe_status_str(status), r->s.replay);
    fflush(stdout);
    r->s.crashes++;
}

typedef struct durable {
    size_t ok[16];   /* the last sync done, then the shrinks reported since */
    int nok;
    size_t inflight; /* the sync or shrink under way, SIZE_MAX if none */
} durable;

static void note(durable *d, const msg *m, uint64_t *syncs)
{
    if (m->kind == 'S') {
        d->inflight = m->len;
    } else if (m->kind == 'D') {
        d->ok[0] = m->len;
        d->nok = 1;
        d->inflight = SIZE_MAX;
        (*syncs)++;
    } else {
        d->ok[d->nok < 16 ? d->nok++ : 15] = m->len;
        d->inflight = SIZE_MAX;
    }
}

/* One round; returns the length the file now holds, or SIZE_MAX when it
 * could not be checked. */
static size_t round_(run *r, size_t base, uint64_t max_delay_us, uint64_t *syncs)
{
    int p[2];
    if (pipe(p) != 0)
        return SIZE_MAX;
    uint64_t child_seed = st_rand(&r->rng);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        r->pipe_w = p[1];
        st_rng_seed(&r->rng, child_seed);
        _exit(child(r));
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return SIZE_MAX;
    }
    /* The lengths the file may durably hold: the last sync done, plus those
     * of shrinks since (each synced or not), plus the operation in flight. */
    durable d = {{base}, 1, SIZE_MAX};
    /* When to kill: at a random time (sometimes at once, inside da_vec_open),
     * or just after the child reports a chosen kind of event — the moments
     * right after a sync or a shrink are where a missing sync shows.  Its own
     * generator: how many events arrive depends on timing, the run's stream
     * must not. */
    st_rng kr;
    st_rng_seed(&kr, st_rand(&r->rng));
    double deadline = st_now() + (st_below(&kr, 8) ? (double)st_below(&kr, max_delay_us) : 0) * 1e-6;
    char target = "SDM"[st_below(&kr, 3)];
    int on_event = st_below(&kr, 2) == 0;
    for (;;) {
        double left = deadline - st_now();
        if (left <= 0)
            break;
        struct pollfd pf = {p[0], POLLIN, 0};
        struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        if (ppoll(&pf, 1, &ts, NULL) <= 0)
            continue; /* timeout (the loop ends) or EINTR */
        msg m;
        if (read(p[0], &m, sizeof m) != (ssize_t)sizeof m)
            break; /* the child is gone */
        note(&d, &m, syncs);
        if (on_event && m.kind == target && st_below(&kr, 4) == 0)
            break;
    }
    kill(pid, SIGKILL);
    int status = fe_wait(pid);
    msg m;
    while (read(p[0], &m, sizeof m) == (ssize_t)sizeof m)
        note(&d, &m, syncs);
    close(p[0]);
    if (status != -SIGKILL)
        crash(r, "the child (not by our SIGKILL)", status);

    da_vec v;
    int e = da_vec_open(&v, r->path, r->elem, NULL);
    r->s.ops++;
    if (e) {
        st_violation(&r->s, "reopen after kill -9: %s (last sync done: length %zu)",
                     da_strerror(e), d.ok[0]);
        return SIZE_MAX;
    }
    int allowed = v.len == d.inflight;
    for (int i = 0; i < d.nok; i++)
        allowed |= v.len == d.ok[i];
    if (!allowed) {
        char in[32] = "none";
        if (d.inflight != SIZE_MAX)
            snprintf(in, sizeof in, "%zu", d.inflight);
        st_violation(&r->s, "reopened with length %zu; the last sync done had %zu (%d shrinks "
                            "since), in flight: %s", v.len, d.ok[0], d.nok - 1, in);
    }
    size_t bad = st_check(v.data, v.len * v.elem_size, r->seed, 0);
    if (bad != SIZE_MAX)
        st_violation(&r->s, "reopened vector: byte %zu (element %zu of %zu) is not the pattern",
                     bad, bad / v.elem_size, v.len);
    size_t len = v.len;
    e = da_vec_close(&v);
    if (e)
        st_violation(&r->s, "close after reopen: %s", da_strerror(e));
    return len;
}

int main(int argc, char **argv)
{
    st_opts o;
    st_parse(&o, argc, argv, 10.0);
    const char *dir = getenv("TMPDIR");
    dir = dir && *dir ? dir : "/var/tmp";
    for (int i = 1; i < o.argc; i++) {
        if (!strcmp(o.argv[i], "--dir") && i + 1 < o.argc) {
            dir = o.argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--seed N] [--seconds S] [--quick] [--dir DIR]\n",
                    argv[0]);
            return 2;
        }
    }
    static run r;
    st_begin(&r.s, "crash", &o, argc, argv);
    st_rng_seed(&r.rng, o.seed);
    static const size_t elems[] = {1, 8, 24, 100};
    r.seed = st_rand(&r.rng);
    r.elem = elems[st_below(&r.rng, 4)];
    r.max_bytes = o.quick ? (size_t)1 << 20 : (size_t)8 << 20;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/da-crash-XXXXXX", dir);
    if (!mkdtemp(tmp)) {
        printf("SKIP: mkdtemp in %s: %s\n", dir, strerror(errno));
        st_summary(&r.s, NULL);
        free(o.argv);
        return FE_SKIP_EXIT;
    }
    snprintf(r.path, sizeof r.path, "%s/crash.davec", tmp);
    double seconds = o.quick && o.seconds > 1.0 ? 1.0 : o.seconds;
    double end = st_now() + seconds;
    size_t len = 0, longest = 0;
    uint64_t rounds = 0, syncs = 0;
    while (st_now() < end && (!o.ops || r.s.ops < o.ops)) {
        len = round_(&r, len, o.quick ? 20000 : 50000, &syncs);
        if (len == SIZE_MAX)
            break; /* the file is unreadable: every later round would say so again */
        longest = len > longest ? len : longest;
        rounds++;
    }
    printf("crash: %llu kills, %llu syncs seen done, element size %zu, longest reopened %zu "
           "elements\n",
           (unsigned long long)rounds, (unsigned long long)syncs, r.elem, longest);
    if (rounds > 3 && syncs == 0)
        st_violation(&r.s, "no sync completed in %llu rounds: the test proved nothing",
                     (unsigned long long)rounds);
    unlink(r.path);
    free(o.argv); /* st_parse's copy */
    rmdir(tmp);
    return st_summary(&r.s, NULL);
}
