/* Fault control over libfiu: see fault.h. */
#define _GNU_SOURCE
#include "fault.h"

#include "diskalloc.h"

#include <errno.h>
#define FIU_ENABLE 1 /* the real fiu_init, not fiu-local's no-op macro */
#include <fiu-control.h>
#include <fiu.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* The errnos each system call really returns in the situations a
 * disk-backed allocator meets (its man page's ERRORS, minus the ones the
 * core's arguments rule out).  Keyed by the short point name; fault_init
 * walks da_failpoint_names(), so a point the core adds without an entry
 * here is an error, not a silent EIO. */
static const struct {
    const char *name;
    int errs[FAULT_MAX_ERRNOS];
} errno_table[] = {
    {"open", {EACCES, EMFILE, ENOSPC, EOPNOTSUPP, EROFS}},
    {"mkostemp", {EACCES, EMFILE, ENOSPC, EEXIST}},
    {"unlink", {EACCES, EPERM, EROFS, EIO, EBUSY}},
    {"fstat", {EIO, ENOMEM, EOVERFLOW}},
    {"flock", {EWOULDBLOCK, EINTR, ENOLCK}},
    {"calloc", {ENOMEM}},
    {"mmap", {ENOMEM, EAGAIN, ENODEV, EACCES}},
    {"munmap", {ENOMEM, EINVAL}},
    {"ftruncate", {EFBIG, EIO, EINTR, EPERM}},
    {"fallocate", {ENOSPC, EDQUOT, EFBIG, EIO, EOPNOTSUPP, EINTR}},
    {"pwrite", {ENOSPC, EDQUOT, EFBIG, EIO, EINTR}},
    {"msync", {EIO, ENOSPC, ENOMEM}},
    {"fsync", {EIO, ENOSPC, EDQUOT}},
    /* SEEK_HOLE/SEEK_DATA on NFS, FUSE: no ENXIO, which SEEK_DATA returns for
     * "a hole up to the end" (injected, the core would take data for a hole) */
    {"lseek", {EIO, EOVERFLOW}},
    /* no EINTR: the core retries it, so a persistent one would spin */
    {"pread", {EIO}},
};

#define PREFIX "diskalloc/"

typedef struct slot {
    fault_plan plan;
    uint64_t calls, fires; /* global slots: under lock; thread slots: owner only */
    uint64_t rng;
    int used;
} slot;

static struct point {
    const char *name, *short_name;
    const int *errs;
    int nerr;
    atomic_int err;
    atomic_ullong calls, fires;
    atomic_int armed, fired; /* since fault_mark */
} pts[FAULT_MAX_POINTS];
static int npts;

/* process-wide plans: gplan[i] points into gpool; guarded by lock */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static slot gpool[2 * FAULT_MAX_POINTS];
static slot *gplan[FAULT_MAX_POINTS];

static _Thread_local slot tpool[2 * FAULT_MAX_POINTS];
static _Thread_local slot *tplan[FAULT_MAX_POINTS];
static _Thread_local uint64_t tcalls[FAULT_MAX_POINTS], tfires[FAULT_MAX_POINTS];

static char why[256];

static int fail_why(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail_why(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return -1;
}

const char *fault_why(void) { return why; }

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* One call reached an armed plan: does it fail? */
static int decide(slot *s)
{
    uint64_t n = ++s->calls;
    int fire = 0;
    switch (s->plan.mode) {
    case FAULT_ALWAYS: fire = 1; break;
    case FAULT_PROB: fire = (double)(splitmix(&s->rng) >> 11) * 0x1p-53 < s->plan.p; break;
    case FAULT_NTH: fire = n == s->plan.n; break;
    case FAULT_FROM: fire = n >= s->plan.n; break;
    case FAULT_OFF: break;
    }
    s->fires += (uint64_t)fire;
    return fire;
}

/* libfiu calls this under its read lock for every call of an enabled point;
 * failnum carries the point's index + 1 (set once, only read here). */
static int on_call(const char *name, int *failnum, void **failinfo, unsigned *flags)
{
    (void)name, (void)failinfo, (void)flags;
    int i = *failnum - 1, fire = 0;
    if (i < 0 || i >= npts)
        return 0;
    atomic_fetch_add(&pts[i].calls, 1);
    tcalls[i]++;
    if (tplan[i]) {
        fire = decide(tplan[i]);
    } else {
        pthread_mutex_lock(&lock);
        fire = gplan[i] ? decide(gplan[i]) : 0;
        pthread_mutex_unlock(&lock);
    }
    if (fire) {
        atomic_fetch_add(&pts[i].fires, 1);
        atomic_store(&pts[i].fired, 1);
        tfires[i]++;
    }
    return fire;
}

int fault_set_errno(int i, int err)
{
    if (i < 0 || i >= npts || err <= 0)
        return fail_why("fault_set_errno: bad point %d or errno %d", i, err);
    atomic_store(&pts[i].err, err);
    /* a new entry carries the new failinfo; libfiu 1.1 leaks the name of an
     * entry replaced in place, so the old one is removed first */
    fiu_disable(pts[i].name);
    if (fiu_enable_external(pts[i].name, i + 1, (void *)(intptr_t)err, 0, on_call) != 0)
        return fail_why("fiu_enable_external(%s) failed", pts[i].name);
    return 0;
}

int fault_get_errno(int i) { return i >= 0 && i < npts ? atomic_load(&pts[i].err) : 0; }

int fault_init(uint64_t seed)
{
    if (fiu_init(0) != 0)
        return fail_why("fiu_init failed");
    const char *const *names = da_failpoint_names();
    int n = 0;
    for (; names && names[n]; n++) {
        if (n == FAULT_MAX_POINTS)
            return fail_why("more than %d fail points", FAULT_MAX_POINTS);
        const char *s = names[n];
        if (!strncmp(s, PREFIX, strlen(PREFIX)))
            s += strlen(PREFIX);
        size_t k = 0;
        while (k < sizeof errno_table / sizeof *errno_table && strcmp(errno_table[k].name, s))
            k++;
        if (k == sizeof errno_table / sizeof *errno_table)
            return fail_why("fail point %s has no errno table entry in faults/fault.c",
                            names[n]);
        if (npts > n && strcmp(pts[n].name, names[n]))
            return fail_why("fail point list changed under fault_init");
        pts[n].name = names[n];
        pts[n].short_name = s;
        pts[n].errs = errno_table[k].errs;
        pts[n].nerr = 0;
        while (pts[n].nerr < FAULT_MAX_ERRNOS && errno_table[k].errs[pts[n].nerr])
            pts[n].nerr++;
    }
    npts = n;
    for (int i = 0; i < npts; i++) {
        uint64_t x = seed ^ ((uint64_t)(i + 1) << 32);
        if (fault_set_errno(i, fault_errno_pick(i, splitmix(&x))) != 0)
            return -1;
    }
    return 0;
}

int fault_npoints(void) { return npts; }
const char *fault_point_name(int i) { return i >= 0 && i < npts ? pts[i].name : NULL; }
const char *fault_point_short(int i) { return i >= 0 && i < npts ? pts[i].short_name : NULL; }

int fault_point_index(const char *name)
{
    for (int i = 0; name && i < npts; i++)
        if (!strcmp(name, pts[i].name) || !strcmp(name, pts[i].short_name))
            return i;
    return -1;
}

const int *fault_errnos(int i, int *n)
{
    if (i < 0 || i >= npts) {
        *n = 0;
        return NULL;
    }
    *n = pts[i].nerr;
    return pts[i].errs;
}

int fault_errno_pick(int i, uint64_t r)
{
    return i >= 0 && i < npts ? pts[i].errs[r % (uint64_t)pts[i].nerr] : EIO;
}

static int matches(const char *pattern, int i)
{
    return !strcmp(pattern, pts[i].short_name) || fnmatch(pattern, pts[i].name, 0) == 0;
}

static slot *free_slot(slot *pool, slot **plans)
{
    for (size_t k = 0; k < 2 * FAULT_MAX_POINTS; k++) {
        int referenced = 0;
        for (int i = 0; i < npts && !referenced; i++)
            referenced = plans[i] == &pool[k];
        if (!referenced)
            return &pool[k];
    }
    return NULL; /* cannot happen: at most npts slots are referenced */
}

static int arm(const char *pattern, const fault_plan *plan, slot *pool, slot **plans,
               int global)
{
    if (!pattern || !plan || plan->mode < FAULT_OFF || plan->mode > FAULT_FROM ||
        ((plan->mode == FAULT_NTH || plan->mode == FAULT_FROM) && plan->n == 0) ||
        (plan->mode == FAULT_PROB && !(plan->p >= 0 && plan->p <= 1)))
        return fail_why("invalid plan for %s", pattern ? pattern : "(null)");
    int hit[FAULT_MAX_POINTS], nhit = 0;
    for (int i = 0; i < npts; i++)
        if (matches(pattern, i))
            hit[nhit++] = i;
    if (nhit == 0)
        return fail_why("no fail point matches %s", pattern);
    for (int k = 0; k < nhit; k++)
        if (plan->err > 0 && plan->err != fault_get_errno(hit[k]) &&
            fault_set_errno(hit[k], plan->err) != 0)
            return -1;
    if (global)
        pthread_mutex_lock(&lock);
    slot *s = NULL;
    if (plan->mode != FAULT_OFF) {
        s = free_slot(pool, plans);
        memset(s, 0, sizeof *s);
        s->plan = *plan;
        s->rng = plan->seed;
    }
    for (int k = 0; k < nhit; k++) {
        plans[hit[k]] = s;
        if (s)
            atomic_store(&pts[hit[k]].armed, 1);
    }
    if (global)
        pthread_mutex_unlock(&lock);
    return nhit;
}

int fault_arm(const char *pattern, const fault_plan *plan)
{
    return arm(pattern, plan, gpool, gplan, 1);
}

int fault_arm_thread(const char *pattern, const fault_plan *plan)
{
    return arm(pattern, plan, tpool, tplan, 0);
}

void fault_disarm_thread(void) { memset(tplan, 0, sizeof tplan); }

void fault_disarm_all(void)
{
    pthread_mutex_lock(&lock);
    memset(gplan, 0, sizeof gplan);
    pthread_mutex_unlock(&lock);
    fault_disarm_thread();
}

uint64_t fault_calls(int i) { return i >= 0 && i < npts ? atomic_load(&pts[i].calls) : 0; }
uint64_t fault_fires(int i) { return i >= 0 && i < npts ? atomic_load(&pts[i].fires) : 0; }
uint64_t fault_thread_calls(int i) { return i >= 0 && i < npts ? tcalls[i] : 0; }
uint64_t fault_thread_fires(int i) { return i >= 0 && i < npts ? tfires[i] : 0; }

uint64_t fault_thread_fires_total(void)
{
    uint64_t n = 0;
    for (int i = 0; i < npts; i++)
        n += tfires[i];
    return n;
}

static uint64_t plan_count(int i, int fires)
{
    if (i < 0 || i >= npts)
        return 0;
    if (tplan[i])
        return fires ? tplan[i]->fires : tplan[i]->calls;
    pthread_mutex_lock(&lock);
    uint64_t n = gplan[i] ? (fires ? gplan[i]->fires : gplan[i]->calls) : 0;
    pthread_mutex_unlock(&lock);
    return n;
}

uint64_t fault_plan_calls(int i) { return plan_count(i, 0); }
uint64_t fault_plan_fires(int i) { return plan_count(i, 1); }

void fault_mark(void)
{
    for (int i = 0; i < npts; i++) {
        atomic_store(&pts[i].armed, 0);
        atomic_store(&pts[i].fired, 0);
    }
}

/* Append "name" to a comma-separated list in buf, truncating quietly. */
static void list_add(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void list_add(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    if (*len >= size)
        return;
    if (*len > 0 && *len + 1 < size)
        buf[(*len)++] = ',', buf[*len] = '\0';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    *len += n > 0 ? (size_t)n : 0;
}

int fault_unfired(char *buf, size_t size)
{
    size_t len = 0;
    int count = 0;
    if (size)
        buf[0] = '\0';
    for (int i = 0; i < npts; i++) {
        if (atomic_load(&pts[i].armed) && !atomic_load(&pts[i].fired)) {
            list_add(buf, size, &len, "%s", pts[i].short_name);
            count++;
        }
    }
    return count;
}

char *fault_summary(char *buf, size_t size)
{
    size_t len = 0;
    if (size)
        buf[0] = '\0';
    for (int i = 0; i < npts; i++) {
        uint64_t f = atomic_load(&pts[i].fires);
        if (f)
            list_add(buf, size, &len, "%s:%llu", pts[i].short_name, (unsigned long long)f);
    }
    if (len == 0 && size > 1)
        snprintf(buf, size, "-");
    return buf;
}
