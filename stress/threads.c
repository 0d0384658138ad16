/* threads — the model's operations in 4 to 8 threads at once, one set of
 * arenas per thread (the header's promise: distinct arenas share nothing).
 * Each thread arms its faults for itself only (fault_arm_thread: its own
 * Nth-call counters and random stream), so what each thread does depends on
 * its seed alone; the errno of each point is fixed for the run (libfiu keeps
 * one per point) and comes from the run's seed.
 *
 * A violation names the thread's episode and the single-threaded command
 * that replays it (the model driver with the same seeds), where it can be
 * shrunk; a failure that only shows with threads is a data race of the
 * implementation: run `make stress-tsan`.
 *
 * Options: --threads N (default 4 + seed % 5). */
#define _GNU_SOURCE
#include "common.h"
#include "fault.h"
#include "oracle.h"

#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shared {
    pthread_mutex_t lock;
    st_stats *s;
    uint64_t seed;
    double end;
    uint64_t ops_each;
    char model[512]; /* path of the model driver, for the replay line */
} shared;

typedef struct worker {
    shared *sh;
    int id;
    pthread_t tid;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    uint64_t seed = st_pattern(sh->seed, (uint64_t)w->id + 1);
    or_config cfg = {.seed = seed, .fault_percent = 35};
    or_stats st = {0, 0};
    char why[1024];
    for (uint64_t e = 0; st_now() < sh->end && (!sh->ops_each || st.ops < sh->ops_each); e++) {
        size_t n;
        or_op *ops = or_episode(seed, e, &cfg, &n);
        or_crash_replay("%s --seed %llu --episode %llu --errno-seed %llu  # thread %d alone",
                        sh->model, (unsigned long long)seed, (unsigned long long)e,
                        (unsigned long long)sh->seed, w->id);
        long at = or_run(&cfg, ops, NULL, n, &st, why, sizeof why);
        free(ops);
        if (at == -1)
            continue;
        pthread_mutex_lock(&sh->lock);
        if (at == -2) {
            printf("thread %d: environment: %s\n", w->id, why);
            sh->s->crashes++;
        } else {
            /* the threads run itself replays with the same seed; the model
             * replays this thread's episode alone, and shrinks it */
            printf("thread %d, episode %llu, operation %ld of %zu\n", w->id,
                   (unsigned long long)e, at, n);
            printf("replay this thread alone: %s --seed %llu --episode %llu --errno-seed %llu\n",
                   sh->model, (unsigned long long)seed, (unsigned long long)e,
                   (unsigned long long)sh->seed);
            st_violation(sh->s, "thread %d: %s", w->id, why);
        }
        pthread_mutex_unlock(&sh->lock);
        break;
    }
    pthread_mutex_lock(&sh->lock);
    sh->s->ops += st.ops;
    sh->s->clean_errors += st.clean_errors;
    pthread_mutex_unlock(&sh->lock);
    return NULL;
}

int main(int argc, char **argv)
{
    st_opts o;
    st_parse(&o, argc, argv, 10);
    int nthreads = 0;
    for (int i = 1; i < o.argc; i++) {
        if (!strcmp(o.argv[i], "--threads") && i + 1 < o.argc) {
            nthreads = atoi(o.argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--seed N] [--seconds S] [--ops N] [--quick] "
                            "[--threads N]\n",
                    argv[0]);
            return 2;
        }
    }
    if (nthreads <= 0)
        nthreads = 4 + (int)(o.seed % 5);
    if (nthreads > 64)
        nthreads = 64;
    if (o.quick)
        o.seconds = 1.5;
    st_stats s;
    st_begin(&s, "threads", &o, argc, argv);
    if (fault_init(o.seed) != 0) {
        printf("fault layer: %s\n", fault_why());
        s.crashes++;
        return st_summary(&s, NULL);
    }
    shared sh = {PTHREAD_MUTEX_INITIALIZER, &s, o.seed, st_now() + o.seconds,
                 o.ops ? o.ops / (uint64_t)nthreads + 1 : 0, ""};
    char dir[512];
    snprintf(dir, sizeof dir, "%s", argv[0]);
    snprintf(sh.model, sizeof sh.model, "%s/model", dirname(dir));
    or_crash_handlers();
    printf("%d threads\n", nthreads);
    fflush(stdout);
    worker w[64];
    int started = 0;
    for (int i = 0; i < nthreads; i++) {
        w[i] = (worker){&sh, i, 0};
        if (pthread_create(&w[i].tid, NULL, work, &w[i]) != 0) {
            printf("pthread_create failed after %d threads\n", i);
            s.crashes++;
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++)
        pthread_join(w[i].tid, NULL);
    char faults[1024];
    free(o.argv);
    return st_summary(&s, fault_summary(faults, sizeof faults));
}
