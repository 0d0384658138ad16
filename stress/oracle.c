/* The oracle: see oracle.h.  Only the public API (core/diskalloc.h) is used,
 * so any implementation of it can be put to the test. */
#define _GNU_SOURCE
#include "oracle.h"

#include "diskalloc.h"
#include "env.h"
#include "fault.h"

#include <dirent.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_BLOCKS 8
#define RESERVE ((size_t)256 << 20) /* small, so DA_ECAPACITY is cheap to reach */
#define UNFORCED 1                  /* "any outcome the call's faults allow" */

enum { T, P, S, NVEC };
static const char vec_name[NVEC] = {'T', 'P', 'S'};
static const size_t vec_elem[NVEC] = {8, 24, 16};
static const size_t vec_lmax[NVEC] = {40000, 16000, 8000};

/* ---- which fail points each call may reach, as the header documents it ----
 * (short names; a name the implementation lacks is ignored).  Where the core
 * reaches a point its header does not list, the point is here with a note. */
enum call {
    C_GROW,       /* push, extend, reserve, reserve_exact, alloc, grow, shrink */
    C_SHRINKFIT,  /* shrink_to_fit of a temp or shared vector */
    C_SHRINKFIT_P,
    C_SYNC,
    C_CLOSE_P,
    C_CLOSE,      /* da_vec_close of an own arena, da_arena_close */
    C_VEC_INIT,   /* da_vec_init, da_arena_open */
    C_VEC_OPEN,
    C_OPEN_FD,
    C_NCALLS
};
static const char *const call_points[C_NCALLS] = {
    [C_GROW] = "fallocate ftruncate pwrite",
    [C_SHRINKFIT] = "fallocate ftruncate pwrite",
    /* C5: never syncs, never writes a header */
    [C_SHRINKFIT_P] = "fallocate ftruncate pwrite",
    [C_SYNC] = "msync fsync",
    [C_CLOSE_P] = "msync fsync munmap",
    [C_CLOSE] = "munmap",
    [C_VEC_INIT] = "open mkostemp unlink calloc mmap",
    /* fsync: the header lists msync only, the core also fsyncs a new header
     * (and, C6, its directory); C2: fallocate/pwrite allocate a reopened file
     * (lseek finds its holes where fallocate is missing) */
    [C_VEC_OPEN] = "open flock fstat pread calloc mmap fallocate lseek ftruncate pwrite msync fsync",
    /* flock: the header lists fcntl/fstat/mmap; the core also locks the file.
     * C3: its own open file description (open of /proc/self/fd/N); C2: the
     * file's blocks allocated (lseek: its holes, where fallocate is missing) */
    [C_OPEN_FD] = "open fstat flock calloc mmap fallocate lseek pwrite",
};

typedef struct seg {
    size_t start, end; /* element range in the vector */
    uint64_t gen;      /* which extend wrote it */
    int64_t delta;     /* element i holds pattern word (i + delta) of gen */
} seg;

typedef struct segs {
    seg *s;
    size_t n, cap;
} segs;

typedef struct mvec {
    da_vec v;
    int live;
    size_t elem, words, len;
    segs m;          /* the model */
    void *home;      /* own arenas: data never moves */
    /* persistent: the last successful sync, and the lowest length since */
    segs synced;
    size_t slen, low;
} mvec;

typedef struct block {
    void *p;
    size_t size, align;
    uint64_t gen;
} block;

typedef struct arena_model {
    int poisoned, sticky;
} arena_model;

struct or_ctx {
    or_config cfg;
    or_stats st;
    char dir[512], ppath[600], fdpath[600];
    uint64_t gen;
    mvec vec[NVEC];
    arena_model am[NVEC]; /* am[S] is the shared arena A */
    da_arena *a;
    block blk[MAX_BLOCKS];
    int nblk;
    uint64_t mask[C_NCALLS];
    uint64_t fires0[FAULT_MAX_POINTS];
    long maps0, fds0;
    const or_op *op;
    char why[1024];
    uint64_t *buf;
    size_t bufcap;
    da_config dcfg;
    unsigned char hdr[64 << 10]; /* P's header area, see header_take */
};

static int violation(or_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int violation(or_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    return 1;
}

const char *or_why(const or_ctx *c) { return c->why; }
const or_stats *or_stats_of(const or_ctx *c) { return &c->st; }

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }
static size_t round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

/* ---- segments: the model of a vector's contents ---------------------------- */

static void segs_push(segs *m, seg x)
{
    if (x.start == x.end)
        return;
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 16;
        m->s = realloc(m->s, m->cap * sizeof *m->s);
        if (!m->s)
            abort(); /* the harness itself out of memory: nothing to test */
    }
    m->s[m->n++] = x;
}

static void segs_copy(segs *dst, const segs *src)
{
    dst->n = 0;
    for (size_t i = 0; i < src->n; i++)
        segs_push(dst, src->s[i]);
}

static void segs_truncate(segs *m, size_t len)
{
    while (m->n && m->s[m->n - 1].start >= len)
        m->n--;
    if (m->n && m->s[m->n - 1].end > len)
        m->s[m->n - 1].end = len;
}

static uint64_t word_at(const or_ctx *c, const seg *s, size_t words, size_t i, size_t w)
{
    return st_pattern(c->cfg.seed ^ (s->gen * 0x9e3779b97f4a7c15ull),
                      (uint64_t)((int64_t)i + s->delta) * words + w);
}

static const seg *seg_of(const segs *m, size_t i)
{
    for (size_t k = m->n; k-- > 0;)
        if (m->s[k].start <= i && i < m->s[k].end)
            return &m->s[k];
    return NULL;
}

/* First element of data[from, to) that differs from the model m, or SIZE_MAX. */
static size_t vec_diff(const or_ctx *c, const segs *m, size_t words, const void *data,
                       size_t from, size_t to)
{
    const unsigned char *d = data;
    for (size_t k = 0; k < m->n; k++) {
        const seg *s = &m->s[k];
        size_t lo = s->start > from ? s->start : from, hi = s->end < to ? s->end : to;
        for (size_t i = lo; i < hi; i++)
            for (size_t w = 0; w < words; w++) {
                uint64_t x;
                memcpy(&x, d + (i * words + w) * 8, 8);
                if (x != word_at(c, s, words, i, w))
                    return i;
            }
    }
    return SIZE_MAX;
}

/* ---- fault bookkeeping around one call ------------------------------------- */

static uint64_t points_mask(const char *list);

static void call_begin(or_ctx *c)
{
    for (int i = 0; i < fault_npoints(); i++)
        c->fires0[i] = fault_thread_fires(i);
}

static uint64_t fired_mask(const or_ctx *c)
{
    uint64_t m = 0;
    for (int i = 0; i < fault_npoints(); i++)
        if (fault_thread_fires(i) != c->fires0[i])
            m |= 1ull << i;
    return m;
}

static int fired(const or_ctx *c, const char *point)
{
    int i = fault_point_index(point);
    return i >= 0 && (fired_mask(c) >> i & 1);
}

/* The outcome of a call: `forced` is the one result the state allows, or
 * UNFORCED when the call may fail with an errno injected during it at one of
 * the points `call` documents.  Counts clean errors; returns 0 or 1. */
static int expect(or_ctx *c, const char *what, int e, int forced, enum call call)
{
    if (forced != UNFORCED) {
        if (e != forced)
            return violation(c, "%s returned %s, expected %s", what, st_errname(e),
                             st_errname(forced));
    } else if (e != 0) {
        uint64_t m = fired_mask(c) & c->mask[call];
        int ok = 0;
        for (int i = 0; i < fault_npoints() && !ok; i++)
            ok = (m >> i & 1) && fault_get_errno(i) == e;
        if (!ok)
            return violation(c, "%s returned %s (%s), which no fault injected during the call "
                                "at a point it documents (%s) explains",
                             what, st_errname(e), da_strerror(e), call_points[call]);
    }
    c->st.clean_errors += e != 0;
    return 0;
}

/* ---- the file behind an arena, seen by the kernel --------------------------- */

static int file_stat(da_arena *a, struct stat *st)
{
    char path[128];
    unsigned char *b = da_arena_base(a);
    snprintf(path, sizeof path, "/proc/self/map_files/%lx-%lx", (unsigned long)b,
             (unsigned long)(b + da_arena_reserved(a)));
    return stat(path, st);
}

/* A fault can stand in for munmap: the mapping then stays.  It was our fake
 * failure, so we undo its leak, or the episode would run out of address space. */
static void undo_fake_munmap(or_ctx *c, void *base, size_t reserved)
{
    if (fired(c, "munmap"))
        munmap(base, reserved);
}

/* ---- checks after every operation ------------------------------------------- */

/* Shared mappings of this process: the arenas' reservations and nothing of
 * malloc's, whose own mappings come and go with the heap. */
static long count_shared_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512], perms[8];
    long n = 0;
    while (f && fgets(line, sizeof line, f))
        n += sscanf(line, "%*s %7s", perms) == 1 && perms[3] == 's';
    if (f)
        fclose(f);
    return f ? n : -1;
}

static int check_arena(or_ctx *c, da_arena *a, const arena_model *am, char name, int dense)
{
    if (da_arena_error(a) != am->sticky)
        return violation(c, "arena %c: da_arena_error %s, model %s", name,
                         st_errname(da_arena_error(a)), st_errname(am->sticky));
    struct stat st;
    if (file_stat(a, &st) != 0)
        return 0; /* no /proc/self/map_files here: the size check is skipped */
    if ((size_t)st.st_size != da_arena_size(a))
        return violation(c, "arena %c: file is %lld bytes, da_arena_size says %zu", name,
                         (long long)st.st_size, da_arena_size(a));
    if (dense && (size_t)st.st_blocks * 512 < (size_t)st.st_size)
        return violation(c, "arena %c: file of %lld bytes has only %lld allocated: capacity "
                            "not on disk (a store on a full disk would be SIGBUS; C2)",
                         name, (long long)st.st_size, (long long)st.st_blocks * 512);
    return 0;
}

static int check_vec(or_ctx *c, int k)
{
    mvec *m = &c->vec[k];
    if (!m->live)
        return 0;
    da_vec *v = &m->v;
    char n = vec_name[k];
    if (v->len != m->len)
        return violation(c, "vector %c: len %zu, model %zu", n, v->len, m->len);
    if (v->cap < v->len)
        return violation(c, "vector %c: cap %zu < len %zu", n, v->cap, v->len);
    if (v->elem_size != m->elem)
        return violation(c, "vector %c: elem_size %zu, expected %zu", n, v->elem_size, m->elem);
    da_arena *a = da_vec_arena(v);
    if (!a)
        return violation(c, "vector %c: no arena", n);
    unsigned char *base = da_arena_base(a), *d = v->data;
    if (k != S && !m->home && v->cap)
        m->home = v->data;
    if (k != S && m->home && v->data != m->home)
        return violation(c, "vector %c: data moved from %p to %p in its own arena", n, m->home,
                         v->data);
    if (v->cap && (d < base || (size_t)(d - base) + v->cap * v->elem_size > da_arena_size(a)))
        return violation(c, "vector %c: capacity %zu at offset %td is not backed by the file "
                            "(%zu bytes)",
                         n, v->cap, d - base, da_arena_size(a));
    size_t bad = vec_diff(c, &m->m, m->words, v->data, 0, m->len);
    if (bad != SIZE_MAX)
        return violation(c, "vector %c: element %zu of %zu differs from the model", n, bad,
                         m->len);
    for (size_t i = 0; i < m->len && i < 3; i++)
        if (da_vec_at(v, i) != d + i * m->elem)
            return violation(c, "vector %c: da_vec_at(%zu) is wrong", n, i);
    if (da_vec_at(v, m->len) != NULL)
        return violation(c, "vector %c: da_vec_at(len) is not NULL", n);
    return k == S ? 0 : check_arena(c, a, &c->am[k], n, 1);
}

static int overlaps(const void *p, size_t n, const void *q, size_t m)
{
    const char *a = p, *b = q;
    return n && m && a < b + m && b < a + n;
}

static int check_blocks(or_ctx *c)
{
    if (!c->a)
        return 0;
    unsigned char *base = da_arena_base(c->a);
    size_t size = da_arena_size(c->a);
    const da_vec *sv = &c->vec[S].v;
    for (int i = 0; i < c->nblk; i++) {
        const block *b = &c->blk[i];
        unsigned char *p = b->p;
        if (!p || ((uintptr_t)p & (b->align - 1)))
            return violation(c, "block %d: %p is not aligned to %zu", i, b->p, b->align);
        if (b->size == 0)
            continue;
        if (p < base || (size_t)(p - base) + b->size > size)
            return violation(c, "block %d (%zu bytes at offset %td) lies outside the file "
                                "(%zu bytes)",
                             i, b->size, p - base, size);
        size_t bad = st_check(p, b->size, c->cfg.seed ^ b->gen, 0);
        if (bad != SIZE_MAX)
            return violation(c, "block %d: byte %zu of %zu lost its contents", i, bad, b->size);
        for (int j = 0; j < i; j++)
            if (overlaps(p, b->size, c->blk[j].p, c->blk[j].size))
                return violation(c, "blocks %d and %d overlap", j, i);
        if (c->vec[S].live && overlaps(p, b->size, sv->data, sv->cap * sv->elem_size))
            return violation(c, "block %d overlaps vector S's capacity", i);
    }
    return check_arena(c, c->a, &c->am[S], 'A', 0);
}

static int check_all(or_ctx *c)
{
    for (int k = 0; k < NVEC; k++)
        if (check_vec(c, k))
            return 1;
    return check_blocks(c);
}

/* What a failed call may not change. */
typedef struct snap {
    size_t len, cap, asize;
    void *data;
} snap;

static snap take(const mvec *m)
{
    snap s = {m->v.len, m->v.cap, 0, m->v.data};
    if (m->live)
        s.asize = da_arena_size(da_vec_arena(&m->v));
    return s;
}

/* A failed call (or one that must do nothing: verb says which) left vector k alone. */
static int unchanged_as(or_ctx *c, int k, const snap *s, const char *what, const char *verb)
{
    snap now = take(&c->vec[k]);
    if (now.len != s->len || now.cap != s->cap || now.data != s->data || now.asize != s->asize)
        return violation(c, "%s %s but changed vector %c: len %zu->%zu cap %zu->%zu data "
                            "%p->%p file %zu->%zu",
                         what, verb, vec_name[k], s->len, now.len, s->cap, now.cap, s->data,
                         now.data, s->asize, now.asize);
    return 0;
}

static int unchanged(or_ctx *c, int k, const snap *s, const char *what)
{
    return unchanged_as(c, k, s, what, "failed");
}

/* ---- opening and closing the three vectors ---------------------------------- */

static void model_reset(mvec *m)
{
    m->len = 0;
    m->m.n = 0;
    m->home = NULL;
}

/* Own-arena data never moves once it has capacity. */
static void set_home(or_ctx *c, int k)
{
    c->vec[k].home = k != S && c->vec[k].v.cap ? c->vec[k].v.data : NULL;
}

/* Attempt to (re)create vector k (and for S its arena). */
static int vec_create(or_ctx *c, int k)
{
    mvec *m = &c->vec[k];
    char what[64];
    snprintf(what, sizeof what, "create %c", vec_name[k]);
    int e = 0;
    if (k == S && !c->a) {
        call_begin(c);
        e = da_arena_open(&c->a, &c->dcfg);
        if (expect(c, "da_arena_open", e, UNFORCED, C_VEC_INIT))
            return 1;
        if (e) {
            if (c->a)
                return violation(c, "da_arena_open failed but set *out");
            return 0;
        }
        c->am[S].poisoned = c->am[S].sticky = 0;
    }
    struct stat pst;
    int existed = k == P && stat(c->ppath, &pst) == 0;
    call_begin(c);
    if (k == T)
        e = da_vec_init(&m->v, m->elem, &c->dcfg);
    else if (k == P)
        e = da_vec_open(&m->v, c->ppath, m->elem, &c->dcfg);
    else
        e = da_vec_init_in(&m->v, m->elem, c->a);
    if (expect(c, what, e, k == S ? 0 : UNFORCED, k == P ? C_VEC_OPEN : C_VEC_INIT))
        return 1;
    if (e) {
        if (m->v.len || m->v.cap || m->v.data || da_vec_arena(&m->v))
            return violation(c, "%s failed with %s but left the vector non-zero", what,
                             st_errname(e));
        /* EWOULDBLOCK: another handle created or locked it meanwhile, as far
         * as the call can tell; the file is theirs then */
        if (k == P && !existed && e != EWOULDBLOCK && stat(c->ppath, &pst) == 0)
            return violation(c, "da_vec_open of a new file failed with %s and left the file "
                                "behind (%lld bytes; C6: nothing it created stays)",
                             st_errname(e), (long long)pst.st_size);
        return 0;
    }
    m->live = 1;
    if (k != S)
        c->am[k].poisoned = c->am[k].sticky = 0;
    if (k != P) {
        model_reset(m);
        set_home(c, k);
        return 0;
    }
    /* P reopens with its last successful sync: the length exactly, elements
     * below the lowest length since then exactly; above it the bytes may
     * have been rewritten in place (stores go to the shared mapping), so
     * they may hold the model's value at close instead. */
    if (m->v.len != m->slen)
        return violation(c, "reopened P has len %zu, its last successful sync had %zu",
                         m->v.len, m->slen);
    size_t bad = vec_diff(c, &m->synced, m->words, m->v.data, 0, m->low);
    if (bad != SIZE_MAX)
        return violation(c, "reopened P: element %zu differs from its last successful sync",
                         bad);
    for (size_t i = m->low; i < m->slen; i++) {
        const seg *s = seg_of(&m->synced, i), *t = seg_of(&m->m, i);
        const uint64_t *d = (const uint64_t *)((const char *)m->v.data + i * m->elem);
        /* t == NULL: rewritten, then cut off again; the contract says nothing */
        int as_synced = 1, as_model = t != NULL;
        for (size_t w = 0; w < m->words; w++) {
            as_synced &= d[w] == word_at(c, s, m->words, i, w);
            as_model &= t && d[w] == word_at(c, t, m->words, i, w);
        }
        if (!as_synced && !as_model && t)
            return violation(c, "reopened P: element %zu is neither its synced value nor "
                                "the one written after",
                             i);
        if (!as_synced) /* make the model exact again */
            for (size_t w = 0; w < m->words; w++)
                ((uint64_t *)((char *)m->v.data + i * m->elem))[w] =
                    word_at(c, s, m->words, i, w);
    }
    segs_copy(&m->m, &m->synced);
    m->len = m->low = m->slen;
    set_home(c, k);
    return 0;
}

static void synced_now(mvec *m)
{
    segs_copy(&m->synced, &m->m);
    m->slen = m->low = m->len;
}

/* Close vector k.  Its arena's poison is forgotten: the arena is gone. */
static int vec_close(or_ctx *c, int k)
{
    mvec *m = &c->vec[k];
    if (!m->live)
        return 0;
    da_arena *a = da_vec_arena(&m->v);
    void *base = da_arena_base(a);
    size_t reserved = da_arena_reserved(a);
    arena_model *am = &c->am[k];
    call_begin(c);
    int e = da_vec_close(&m->v);
    int forced = k == S ? 0 : am->poisoned ? am->sticky : UNFORCED;
    char what[32];
    snprintf(what, sizeof what, "da_vec_close(%c)", vec_name[k]);
    if (k != S)
        undo_fake_munmap(c, base, reserved);
    if (expect(c, what, e, forced, k == P ? C_CLOSE_P : C_CLOSE))
        return 1;
    if (k == P && !am->poisoned && !fired(c, "msync") && !fired(c, "fsync"))
        synced_now(m);
    if (m->v.len || m->v.cap || m->v.data || da_vec_arena(&m->v))
        return violation(c, "%s did not zero the vector", what);
    m->live = 0;
    if (k != S)
        am->poisoned = am->sticky = 0;
    return 0;
}

static int arena_close(or_ctx *c)
{
    if (vec_close(c, S))
        return 1;
    for (int i = 0; i < c->nblk; i++)
        da_free(c->a, c->blk[i].p, c->blk[i].size);
    c->nblk = 0;
    if (!c->a)
        return 0;
    void *base = da_arena_base(c->a);
    size_t reserved = da_arena_reserved(c->a);
    call_begin(c);
    int e = da_arena_close(c->a);
    c->a = NULL;
    undo_fake_munmap(c, base, reserved);
    int forced = c->am[S].poisoned ? c->am[S].sticky : UNFORCED;
    c->am[S].poisoned = c->am[S].sticky = 0;
    return expect(c, "da_arena_close(A)", e, forced, C_CLOSE);
}

/* ---- the operations ---------------------------------------------------------- */

static int op_truncate(or_ctx *c, int k, const or_op *op);

static uint64_t *scratch(or_ctx *c, size_t words)
{
    if (words > c->bufcap) {
        c->bufcap = words + 1024;
        c->buf = realloc(c->buf, c->bufcap * 8);
        if (!c->buf)
            abort();
    }
    return c->buf;
}

static int op_extend(or_ctx *c, int k, const or_op *op)
{
    mvec *m = &c->vec[k];
    da_vec *v = &m->v;
    size_t room = vec_lmax[k] > m->len ? vec_lmax[k] - m->len : 0;
    if (room == 0) /* full enough: make room instead */
        return op_truncate(c, k, op);
    int self = op->kind == OP_EXTEND && op->variant == 1 && m->len > 0;
    size_t n = op->kind == OP_PUSH ? 1 : op->a % (op->b % 3 == 0 ? 64 : op->b % 3 == 1 ? 2048 : room + 1);
    if (n > room)
        n = room;
    const void *src;
    segs add = {0};
    if (self) {
        size_t from = (size_t)(op->b % m->len);
        n = n < m->len - from ? n : m->len - from;
        src = (const char *)v->data + from * m->elem;
        for (size_t i = 0; i < m->m.n; i++) {
            seg s = m->m.s[i];
            size_t lo = s.start > from ? s.start : from;
            size_t hi = s.end < from + n ? s.end : from + n;
            if (lo < hi)
                segs_push(&add, (seg){m->len + lo - from, m->len + hi - from, s.gen,
                                      s.delta - (int64_t)(m->len - from)});
        }
    } else {
        uint64_t *b = scratch(c, n * m->words);
        seg s = {m->len, m->len + n, ++c->gen, 0};
        for (size_t i = 0; i < n; i++)
            for (size_t w = 0; w < m->words; w++)
                b[i * m->words + w] = word_at(c, &s, m->words, m->len + i, w);
        segs_push(&add, s);
        src = b;
    }
    snap before = take(m);
    int poisoned = c->am[k].poisoned;
    call_begin(c);
    int e;
    if (op->kind == OP_PUSH)
        e = op->variant ? da_vec_push_fast(v, src) : da_vec_push(v, src);
    else
        e = da_vec_extend(v, src, n);
    int forced = poisoned ? (n == 0 && e == 0 ? 0 : DA_EPOISONED)
               : n == 0 || before.len + n <= before.cap ? 0
                                                        : UNFORCED;
    char what[64];
    snprintf(what, sizeof what, "%s(%c, n=%zu%s)", op->kind == OP_PUSH ? "push" : "extend",
             vec_name[k], n, self ? ", from itself" : "");
    int bad = expect(c, what, e, forced, C_GROW);
    if (!bad && e == 0) {
        for (size_t i = 0; i < add.n; i++)
            segs_push(&m->m, add.s[i]);
        m->len += n;
    } else if (!bad) {
        bad = unchanged(c, k, &before, what);
    }
    free(add.s);
    return bad;
}

static uint64_t elem_at_end(const or_ctx *c, const mvec *m, size_t w)
{
    return word_at(c, seg_of(&m->m, m->len - 1), m->words, m->len - 1, w);
}

static int op_pop(or_ctx *c, int k)
{
    mvec *m = &c->vec[k];
    uint64_t out[3] = {0, 0, 0}, want[3] = {0, 0, 0};
    for (size_t w = 0; m->len && w < m->words; w++)
        want[w] = elem_at_end(c, m, w);
    snap before = take(m);
    call_begin(c);
    int e = da_vec_pop(&m->v, out);
    int forced = c->am[k].poisoned ? DA_EPOISONED : m->len == 0 ? DA_EEMPTY : 0;
    if (expect(c, "pop", e, forced, C_GROW))
        return 1;
    if (e)
        return unchanged(c, k, &before, "pop");
    if (memcmp(out, want, m->elem))
        return violation(c, "pop(%c) returned a value that is not the last element",
                         vec_name[k]);
    m->len--;
    segs_truncate(&m->m, m->len);
    if (m->low > m->len)
        m->low = m->len;
    return 0;
}

static int op_truncate(or_ctx *c, int k, const or_op *op)
{
    mvec *m = &c->vec[k];
    size_t len = m->len ? (size_t)(op->a % (m->len + m->len / 4 + 1)) : 0;
    da_vec_truncate(&m->v, len);
    if (len < m->len) {
        m->len = len;
        segs_truncate(&m->m, len);
        if (m->low > len)
            m->low = len;
    }
    return 0;
}

static int op_reserve(or_ctx *c, int k, const or_op *op)
{
    mvec *m = &c->vec[k];
    da_vec *v = &m->v;
    da_arena *a = da_vec_arena(v);
    size_t head = k == S ? 0 : (size_t)((char *)v->data - (char *)da_arena_base(a));
    size_t room = da_arena_reserved(a) - head, add;
    int how = (int)(op->b % 8); /* 0: overflow, 1: beyond the reservation, else small */
    if (how == 0)
        add = SIZE_MAX - (size_t)(op->a % 4);
    else if (how == 1)
        add = room / m->elem + 1 + (size_t)(op->a % 1000);
    else
        add = (size_t)(op->a % (2 * v->cap + 200));
    if (how > 1 && m->len + add > vec_lmax[k] * 2)
        add = vec_lmax[k] * 2 - m->len;
    int exact = op->variant & 1;
    int overflow = add > SIZE_MAX - m->len || m->len + add > (SIZE_MAX - page_size()) / m->elem;
    int forced;
    if (c->am[k].poisoned)
        forced = DA_EPOISONED;
    else if (add <= v->cap - m->len)
        forced = 0;
    else if (overflow)
        forced = DA_EOVERFLOW;
    else if (round_up((m->len + add) * m->elem, page_size()) > room)
        forced = DA_ECAPACITY;
    else
        forced = UNFORCED;
    snap before = take(m);
    call_begin(c);
    int e = exact ? da_vec_try_reserve_exact(v, add) : da_vec_try_reserve(v, add);
    char what[80];
    snprintf(what, sizeof what, "%s(%c, %zu)", exact ? "reserve_exact" : "reserve",
             vec_name[k], add);
    if (expect(c, what, e, forced, C_GROW))
        return 1;
    if (e)
        return unchanged(c, k, &before, what);
    if (v->cap - m->len < add)
        return violation(c, "%s succeeded but cap is %zu for len %zu", what, v->cap, m->len);
    return 0;
}

/* C5: shrink_to_fit never writes a header; a persistent vector's file keeps
 * room for the length of its last successful sync (da_vec_sync first to
 * release more), so a reopen still finds every synced element; a failed
 * truncation is reported, never swallowed, and changes nothing. */
/* P's header area (the file before its data) as it is now, in c->hdr; 0 when
 * it does not fit (then nothing is compared). */
static size_t header_take(or_ctx *c)
{
    const da_vec *v = &c->vec[P].v;
    size_t n = (size_t)((char *)v->data - (char *)da_arena_base(da_vec_arena(v)));
    if (n > sizeof c->hdr)
        return 0;
    memcpy(c->hdr, da_arena_base(da_vec_arena(v)), n);
    return n;
}

static int header_same(or_ctx *c, size_t n, const char *what, const char *rule)
{
    const unsigned char *now = da_arena_base(da_vec_arena(&c->vec[P].v));
    for (size_t i = 0; i < n; i++)
        if (now[i] != c->hdr[i])
            return violation(c, "%s wrote P's header (byte %zu of the %zu before its data "
                                "changed; %s)",
                             what, i, n, rule);
    return 0;
}

static int op_shrink(or_ctx *c, int k)
{
    mvec *m = &c->vec[k];
    da_vec *v = &m->v;
    size_t keep = k == P && m->slen > m->len ? m->slen : m->len;
    size_t want = round_up(keep * m->elem, page_size());
    size_t hdr = k == P ? header_take(c) : 0;
    snap before = take(m);
    call_begin(c);
    int e = da_vec_shrink_to_fit(v);
    int forced = c->am[k].poisoned ? DA_EPOISONED : UNFORCED;
    char what[32];
    snprintf(what, sizeof what, "shrink_to_fit(%c)", vec_name[k]);
    if (expect(c, what, e, forced, k == P ? C_SHRINKFIT_P : C_SHRINKFIT) ||
        header_same(c, hdr, what, "C5: it never writes one"))
        return 1;
    if (e)
        return unchanged(c, k, &before, what);
    if (k != S && fired(c, "ftruncate"))
        return violation(c, "%s returned 0 although its truncation failed (len %zu; C5: a "
                            "failed truncation is reported)",
                         what, m->len);
    if (v->cap != before.cap && v->cap != want / m->elem)
        return violation(c, "%s: cap %zu -> %zu, expected %zu (len %zu%s)", what, before.cap,
                         v->cap, want / m->elem, m->len,
                         k == P ? ", C5: room for the last synced length stays" : "");
    return 0;
}

static int op_sync(or_ctx *c, int k)
{
    mvec *m = &c->vec[k];
    arena_model *am = &c->am[k];
    snap before = take(m);
    call_begin(c);
    int e = da_vec_sync(&m->v);
    char what[32];
    snprintf(what, sizeof what, "sync(%c)", vec_name[k]);
    if (expect(c, what, e, am->poisoned ? am->sticky : UNFORCED, C_SYNC))
        return 1;
    if (e == 0 && k == P)
        synced_now(m);
    if (e && !am->poisoned) {
        am->poisoned = 1;
        am->sticky = e;
    }
    return unchanged(c, k, &before, what);
}

/* What cp --sparse=always, tar -S and rsync -S make of a file: every 4 KiB
 * block of zeros becomes a hole, the bytes stay. */
static void make_sparse(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    static const unsigned char zero[4096];
    unsigned char b[4096];
    ssize_t got;
    for (off_t off = 0; fd >= 0 && (got = pread(fd, b, sizeof b, off)) == (ssize_t)sizeof b;
         off += got)
        if (!memcmp(b, zero, sizeof b)) /* where holes are unsupported: nothing new tested */
            (void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, got);
    if (fd >= 0)
        close(fd);
}

/* Close and reopen vector k; P's file is made sparse in between when asked. */
static int op_recycle(or_ctx *c, int k, int sparse)
{
    if (k == S) {
        if (arena_close(c))
            return 1;
    } else if (vec_close(c, k)) {
        return 1;
    }
    if (k == P && sparse)
        make_sparse(c->ppath);
    return vec_create(c, k);
}

static void *sentinel(void) { return (void *)(uintptr_t)0x5e17; }

/* Check a block the allocator just returned or moved, fill its new bytes. */
static int block_accept(or_ctx *c, block *b, size_t keep, int zeroed, const char *what)
{
    unsigned char *p = b->p;
    if (!p || ((uintptr_t)p & (b->align - 1)))
        return violation(c, "%s returned %p, not aligned to %zu", what, b->p, b->align);
    if (b->size == 0) {
        unsigned char *base = da_arena_base(c->a);
        if (p >= base && p < base + da_arena_reserved(c->a))
            return violation(c, "%s of size 0 returned %p inside the arena", what, b->p);
        return 0;
    }
    size_t bad = st_check(p, keep, c->cfg.seed ^ b->gen, 0);
    if (bad != SIZE_MAX)
        return violation(c, "%s lost byte %zu of the %zu kept", what, bad, keep);
    for (size_t i = keep; zeroed && i < b->size; i++)
        if (p[i])
            return violation(c, "%s: byte %zu of the zeroed part is %d", what, i, p[i]);
    st_fill(p + keep, b->size - keep, c->cfg.seed ^ b->gen, keep);
    return 0;
}

static size_t block_size(uint64_t r)
{
    switch (r % 8) {
    case 0: return 0;
    case 1: case 2: case 3: return 1 + (size_t)(r >> 8) % 200;
    case 4: return 1 + (size_t)(r >> 8) % (64 << 10);
    default: return 1 + (size_t)(r >> 8) % (3 * page_size());
    }
}

static int op_alloc(or_ctx *c, const or_op *op)
{
    if (c->nblk == MAX_BLOCKS)
        return 0;
    block *b = &c->blk[c->nblk];
    b->size = block_size(op->a);
    b->align = (size_t)1 << (op->b % 14);
    b->gen = ++c->gen;
    b->p = sentinel();
    int zeroed = op->variant & 1;
    call_begin(c);
    int e = zeroed ? da_alloc_zeroed(c->a, b->size, b->align, &b->p)
                   : da_alloc(c->a, b->size, b->align, &b->p);
    char what[80];
    snprintf(what, sizeof what, "%s(A, %zu, align %zu)", zeroed ? "alloc_zeroed" : "alloc",
             b->size, b->align);
    int forced = c->am[S].poisoned ? DA_EPOISONED : b->size == 0 ? 0 : UNFORCED;
    if (expect(c, what, e, forced, C_GROW))
        return 1;
    if (e)
        return b->p != sentinel() ? violation(c, "%s failed but set *out", what) : 0;
    c->nblk++;
    return block_accept(c, b, 0, zeroed, what);
}

static int op_resize_block(or_ctx *c, const or_op *op)
{
    if (c->nblk == 0)
        return 0;
    block *b = &c->blk[op->a % (uint64_t)c->nblk];
    int grow = op->kind == OP_GROW, zeroed = grow && (op->variant & 1);
    size_t old = b->size, size, align = b->align;
    if (grow) {
        size = old + block_size(op->b);
        if (op->variant & 2) /* a stricter alignment may force a move */
            align <<= 1 + op->b % 3;
    } else {
        size = (size_t)(op->b % (old + 1));
    }
    void *p = b->p;
    size_t bad;
    if (old && (bad = st_check(p, old, c->cfg.seed ^ b->gen, 0)) != SIZE_MAX)
        return violation(c, "block lost byte %zu before the call", bad);
    call_begin(c);
    int e = grow ? (zeroed ? da_grow_zeroed(c->a, &p, old, size, align)
                           : da_grow(c->a, &p, old, size, align))
                 : da_shrink(c->a, &p, old, size, align);
    char what[96];
    snprintf(what, sizeof what, "%s(A, %zu -> %zu, align %zu)",
             grow ? (zeroed ? "grow_zeroed" : "grow") : "shrink", old, size, align);
    int forced = !grow && old == 0 ? 0 : c->am[S].poisoned ? DA_EPOISONED : UNFORCED;
    if (expect(c, what, e, forced, C_GROW))
        return 1;
    if (e)
        return p != b->p ? violation(c, "%s failed but moved the block", what) : 0;
    b->p = p;
    b->size = size;
    b->align = align;
    return block_accept(c, b, old < size ? old : size, zeroed, what);
}

static int op_free(or_ctx *c, const or_op *op)
{
    if (c->nblk == 0)
        return 0;
    int i = (int)(op->a % (uint64_t)c->nblk);
    da_free(c->a, c->blk[i].p, c->blk[i].size);
    c->blk[i] = c->blk[--c->nblk];
    return 0;
}

static int op_async(or_ctx *c)
{
    arena_model *am = &c->am[S];
    size_t size = da_arena_size(c->a);
    call_begin(c);
    int e = da_arena_sync(c->a);
    if (expect(c, "da_arena_sync(A)", e, am->poisoned ? am->sticky : UNFORCED, C_SYNC))
        return 1;
    if (e && !am->poisoned) {
        am->poisoned = 1;
        am->sticky = e;
    }
    return da_arena_size(c->a) != size ? violation(c, "da_arena_sync changed the size") : 0;
}

/* The file of op_openfd: size bytes of pattern, or (holes) with its second
 * page left a hole, as a sparse copy has them; want gets the bytes it holds. */
static int write_fd_file(int fd, unsigned char *want, size_t size, uint64_t pseed, int holes)
{
    size_t pg = page_size(), gap = holes && size > 2 * pg ? pg : 0;
    st_fill(want, size, pseed, 0);
    memset(want + pg, 0, gap);
    if (!gap)
        return write(fd, want, size) == (ssize_t)size ? 0 : -1;
    return pwrite(fd, want, pg, 0) == (ssize_t)pg && ftruncate(fd, (off_t)size) == 0 &&
                   pwrite(fd, want + 2 * pg, size - 2 * pg, (off_t)(2 * pg)) ==
                       (ssize_t)(size - 2 * pg)
               ? 0
               : -1;
}

/* Whether some other open file description can take the file's lock now. */
static int lock_free(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC), free_ = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (fd >= 0)
        close(fd);
    return free_;
}

/* da_arena_open_fd over a file with contents (variant bit 1: with a hole):
 * they must show at the base, count as allocated, have their blocks on disk
 * (C2), and the file must be free for the next opener.  Variant bit 0: the
 * caller holds a flock on its descriptor: the open must fail with
 * EWOULDBLOCK (C3: the arena's own open file description conflicts) and the
 * caller must still hold its lock afterwards. */
static int op_openfd(or_ctx *c, const or_op *op)
{
    size_t size = (size_t)(op->a % (3 * page_size() + 1));
    int locked = op->variant & 1, holes = op->variant >> 1 & 1;
    int fd = open(c->fdpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return violation(c, "harness: open %s: %s", c->fdpath, strerror(errno));
    unsigned char *buf = (unsigned char *)scratch(c, size / 8 + 1);
    if (write_fd_file(fd, buf, size, c->cfg.seed ^ op->b, holes) != 0 ||
        (locked && flock(fd, LOCK_EX | LOCK_NB) != 0)) {
        close(fd);
        return violation(c, "harness: preparing %s failed: %s", c->fdpath, strerror(errno));
    }
    da_arena *a = sentinel();
    call_begin(c);
    int e = da_arena_open_fd(&a, fd, &c->dcfg);
    int bad = expect(c, "da_arena_open_fd", e, locked && e == EWOULDBLOCK ? e : UNFORCED,
                     C_OPEN_FD);
    if (!bad && e && a != NULL)
        bad = violation(c, "da_arena_open_fd failed but *out is not NULL");
    if (!bad && !e && locked)
        bad = violation(c, "da_arena_open_fd succeeded on a file whose flock the caller holds "
                           "(C3: EWOULDBLOCK)");
    if (!e) {
        void *base = da_arena_base(a), *p = sentinel();
        size_t reserved = da_arena_reserved(a);
        struct stat st;
        if (!bad && da_arena_size(a) != size)
            bad = violation(c, "da_arena_open_fd: size %zu, file has %zu", da_arena_size(a),
                            size);
        if (!bad && memcmp(base, buf, size))
            bad = violation(c, "da_arena_open_fd: the file's bytes are not at the base");
        if (!bad && file_stat(a, &st) == 0 && (size_t)st.st_blocks * 512 < size)
            bad = violation(c, "da_arena_open_fd over a file of %zu bytes with a hole left "
                               "%lld allocated (C2: a store into it on a full disk is SIGBUS)",
                            size, (long long)st.st_blocks * 512);
        if (!bad) {
            call_begin(c);
            int ae = da_alloc(a, 64, 8, &p);
            bad = expect(c, "da_alloc after open_fd", ae, UNFORCED, C_GROW);
            if (!bad && !ae && (unsigned char *)p < (unsigned char *)base + size)
                bad = violation(c, "da_alloc placed a block inside the file's own bytes");
        }
        call_begin(c);
        int ce = da_arena_close(a);
        undo_fake_munmap(c, base, reserved);
        if (!bad)
            bad = expect(c, "da_arena_close(open_fd)", ce, UNFORCED, C_CLOSE);
    }
    if (!bad && locked && lock_free(c->fdpath))
        bad = violation(c, "da_arena_open_fd %s the flock the caller holds on its own "
                           "descriptor (C3)",
                        e ? "failed and released" : "released");
    if (locked)
        flock(fd, LOCK_UN);
    if (!bad && !lock_free(c->fdpath))
        bad = violation(c, "after da_arena_open_fd%s the file is still locked",
                        e ? " failed" : " and da_arena_close");
    close(fd);
    return bad;
}

/* ---- the raw interface on a vector's own arena (contract C1) -------------------
 * What a user may try with da_vec_arena(&v): a block beside the vector, the
 * vector's own block grown or shrunk, the file resized or a block freed, a
 * second vector in it.  Each call that would place, move or resize anything
 * is refused with DA_EINVAL and changes nothing; da_free is a no-op;
 * da_arena_sync works (for P it writes no header: the durable state stays).
 * Today's core accepted the blocks: P's next growth moved its data, its
 * header kept the old offset, and a reopen read zeros (issue 9, defect 1). */
enum { OWN_ALLOC, OWN_ALLOC_ZEROED, OWN_GROW, OWN_GROW_ZEROED, OWN_SHRINK, OWN_RESIZE,
       OWN_FREE, OWN_INIT_IN, OWN_SYNC, OWN_NCALLS };
static const char *const own_call[OWN_NCALLS] = {
    "da_alloc", "da_alloc_zeroed", "da_grow", "da_grow_zeroed", "da_shrink",
    "da_arena_resize", "da_free", "da_vec_init_in", "da_arena_sync",
};

static int own_target(const or_op *op) { return op->target % NVEC == P ? P : T; }

static int op_ownarena(or_ctx *c, const or_op *op)
{
    int k = own_target(op), how = (int)(op->b % OWN_NCALLS);
    mvec *m = &c->vec[k];
    da_vec *v = &m->v;
    da_arena *a = da_vec_arena(v);
    arena_model *am = &c->am[k];
    size_t bytes = v->cap * m->elem, size = block_size(op->a) | 1;
    size_t align = (size_t)1 << (op->a >> 40) % 13, asize = da_arena_size(a);
    if ((how == OWN_GROW || how == OWN_GROW_ZEROED || how == OWN_SHRINK) && !bytes)
        how = OWN_ALLOC; /* the vector has no block yet */
    void *p = how == OWN_FREE && (op->a & 1) ? (char *)da_arena_base(a) + op->a % (asize + 1)
              : bytes ? v->data
                      : sentinel();
    void *out = sentinel(), *p0 = p;
    da_vec w;
    memset(&w, 0x5e, sizeof w);
    size_t hdr = k == P ? header_take(c) : 0;
    snap before = take(m);
    char what[96];
    snprintf(what, sizeof what, "%s on %c's own arena", own_call[how], vec_name[k]);
    call_begin(c);
    int e = 0;
    switch (how) {
    case OWN_ALLOC: e = da_alloc(a, size, align, &out); break;
    case OWN_ALLOC_ZEROED: e = da_alloc_zeroed(a, size, align, &out); break;
    case OWN_GROW: e = da_grow(a, &p, bytes, bytes + size, page_size()); break;
    case OWN_GROW_ZEROED: e = da_grow_zeroed(a, &p, bytes, bytes + size, page_size()); break;
    case OWN_SHRINK: e = da_shrink(a, &p, bytes, (size_t)(op->a % bytes), page_size()); break;
    case OWN_RESIZE: e = da_arena_resize(a, op->a & 2 && asize > 1 ? asize / 2 : asize + size); break;
    case OWN_FREE: da_free(a, p, (op->a & 1) ? size : bytes); break;
    case OWN_INIT_IN: e = da_vec_init_in(&w, m->elem, a); break;
    case OWN_SYNC: e = da_arena_sync(a); break;
    }
    if (how == OWN_SYNC) {
        if (expect(c, what, e, am->poisoned ? am->sticky : UNFORCED, C_SYNC))
            return 1;
        if (e && !am->poisoned) {
            am->poisoned = 1;
            am->sticky = e;
        }
    } else if (how == OWN_INIT_IN && e == 0) {
        da_vec_close(&w);
        return violation(c, "%s returned 0: a second vector in it (C1: DA_EINVAL)", what);
    } else if (how == OWN_INIT_IN && (w.len || w.cap || w.data || da_vec_arena(&w))) {
        return violation(c, "%s failed but left the vector non-zero", what);
    } else if (how != OWN_FREE && e != DA_EINVAL && !(am->poisoned && e == DA_EPOISONED)) {
        return violation(c, "%s returned %s, expected DA_EINVAL (C1: a vector's own arena "
                            "refuses the raw interface and changes nothing)",
                         what, st_errname(e));
    }
    if (out != sentinel() || p != p0)
        return violation(c, "%s failed but set %s", what, out != sentinel() ? "*out" : "*p");
    if (how != OWN_SYNC)
        c->st.clean_errors += e != 0;
    return header_same(c, hdr, what, "C1: it changes nothing") ||
           unchanged_as(c, k, &before, what,
                        how == OWN_FREE ? "is a no-op (C1)" : e ? "failed" : "succeeded");
}

static int run_op(or_ctx *c, const or_op *op)
{
    int k = op->target % NVEC;
    if (op->kind <= OP_SYNC && !c->vec[k].live)
        return vec_create(c, k);
    if (op->kind >= OP_ALLOC && op->kind <= OP_ASYNC && !c->a)
        return vec_create(c, S);
    if (op->kind == OP_OWNARENA && !c->vec[own_target(op)].live)
        return vec_create(c, own_target(op));
    switch (op->kind) {
    case OP_PUSH:
    case OP_EXTEND: return op_extend(c, k, op);
    case OP_POP: return op_pop(c, k);
    case OP_TRUNCATE: return op_truncate(c, k, op);
    case OP_RESERVE: return op_reserve(c, k, op);
    case OP_SHRINK: return op_shrink(c, k);
    case OP_SYNC: return op_sync(c, k);
    case OP_RECYCLE: return op_recycle(c, k, op->variant == 3);
    case OP_ALLOC: return op_alloc(c, op);
    case OP_GROW:
    case OP_SHRINKB: return op_resize_block(c, op);
    case OP_FREE: return op_free(c, op);
    case OP_ASYNC: return op_async(c);
    case OP_OPENFD: return op_openfd(c, op);
    case OP_OWNARENA: return op_ownarena(c, op);
    }
    return violation(c, "harness: unknown op kind %d", op->kind);
}

static const char *const env_point[] = {NULL, "open", "fallocate"};
static const char *const env_name[] = {NULL, "no O_TMPFILE", "no fallocate"};

/* The points an operation reaches, by the calls it makes. */
static uint64_t op_mask(const or_op *op, int env)
{
    static const char *const by_kind[OP_NKINDS] = {
        [OP_PUSH] = "fallocate ftruncate", [OP_EXTEND] = "fallocate ftruncate",
        [OP_POP] = "", [OP_TRUNCATE] = "", [OP_RESERVE] = "fallocate ftruncate",
        [OP_SHRINK] = "ftruncate fallocate", [OP_SYNC] = "msync fsync",
        [OP_RECYCLE] = "open calloc mmap munmap msync fsync flock fstat pread fallocate ftruncate",
        [OP_ALLOC] = "fallocate ftruncate", [OP_GROW] = "fallocate ftruncate",
        [OP_SHRINKB] = "ftruncate fallocate", [OP_FREE] = "ftruncate fallocate",
        [OP_ASYNC] = "msync fsync", [OP_OPENFD] = "open fstat flock calloc mmap munmap fallocate pwrite",
        [OP_OWNARENA] = "fallocate ftruncate msync fsync",
    };
    /* under an environment, aim at the fallback it makes run */
    if (env == 1)
        return points_mask("mkostemp unlink");
    if (env == 2)
        return points_mask("pwrite ftruncate lseek");
    return op->kind < OP_NKINDS ? points_mask(by_kind[op->kind]) : 0;
}

/* The point op's fault goes to, or -1. */
static int op_point(const or_op *op, int env)
{
    int np = fault_npoints();
    if (op->fpoint < 0 || np == 0)
        return -1;
    uint64_t m = op_mask(op, env);
    int n = __builtin_popcountll(m);
    if (n == 0 || op->fseed % 4 == 3)
        return op->fpoint % np;
    for (int i = 0, k = op->fpoint % n;; i++)
        if ((m >> i & 1) && k-- == 0)
            return i;
}

int or_exec(or_ctx *c, const or_op *op)
{
    int np = fault_npoints();
    /* the environment first: a fault on the same point replaces it */
    int env = c->cfg.vary_errno && op->env < 3 ? op->env : 0;
    if (env && np > 0) {
        fault_plan plan = {FAULT_ALWAYS, 0, 0, EOPNOTSUPP, 0};
        if (fault_arm_thread(env_point[env], &plan) < 0)
            env = 0; /* this implementation has no such point */
    }
    int i = op_point(op, env);
    if (i >= 0) {
        fault_plan plan = {(enum fault_mode)op->fmode, op->fp, op->fn,
                           c->cfg.vary_errno ? fault_errno_pick(i, op->ferr) : 0, op->fseed};
        if (fault_arm_thread(fault_point_name(i), &plan) < 0)
            return violation(c, "harness: %s", fault_why());
    }
    c->op = op;
    int bad = run_op(c, op);
    /* disarm what this operation armed; a plan armed around a whole
     * workload (the sweep's) stays */
    const fault_plan off = {FAULT_OFF, 0, 0, 0, 0};
    if (env)
        fault_arm_thread(env_point[env], &off);
    if (i >= 0)
        fault_arm_thread(fault_point_name(i), &off);
    c->st.ops++;
    return bad || check_all(c);
}

/* ---- episodes ------------------------------------------------------------------- */

static uint64_t points_mask(const char *list)
{
    uint64_t m = 0;
    char name[32];
    for (const char *s = list; *s;) {
        size_t n = strcspn(s, " ");
        snprintf(name, sizeof name, "%.*s", (int)n, s);
        int i = fault_point_index(name);
        if (i >= 0)
            m |= 1ull << i;
        s += n + (s[n] == ' ');
    }
    return m;
}

or_ctx *or_open(const or_config *cfg, char *why, size_t n)
{
    or_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(why, n, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    const char *tmp = cfg->dir ? cfg->dir : getenv("TMPDIR");
    snprintf(c->dir, sizeof c->dir, "%s/da-oracle-XXXXXX", tmp && *tmp ? tmp : "/var/tmp");
    if (!mkdtemp(c->dir)) {
        snprintf(why, n, "mkdtemp %s: %s", c->dir, strerror(errno));
        free(c);
        return NULL;
    }
    snprintf(c->ppath, sizeof c->ppath, "%s/p.vec", c->dir);
    snprintf(c->fdpath, sizeof c->fdpath, "%s/fd.dat", c->dir);
    c->dcfg.reserve = RESERVE;
    c->dcfg.dir = c->dir;
    for (int i = 0; i < C_NCALLS; i++)
        c->mask[i] = points_mask(call_points[i]);
    c->maps0 = cfg->check_leaks ? count_shared_maps() : -1;
    c->fds0 = cfg->check_leaks ? fe_count_fds() : -1;
    /* the vectors are created by the first operation on each, under its fault */
    for (int k = 0; k < NVEC; k++) {
        c->vec[k].elem = vec_elem[k];
        c->vec[k].words = vec_elem[k] / 8;
    }
    return c;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1024];
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

int or_close(or_ctx *c, char *why, size_t n)
{
    fault_disarm_thread();
    int bad = 0;
    /* P once more through close and reopen: the model's promise at the end */
    if (!bad && c->vec[P].live)
        bad = op_recycle(c, P, 0) || check_vec(c, P);
    for (int k = 0; k < NVEC && !bad; k++)
        bad = k == S ? arena_close(c) : vec_close(c, k);
    if (bad) { /* release what is left, without judging */
        for (int k = 0; k < NVEC; k++)
            if (c->vec[k].live)
                da_vec_close(&c->vec[k].v);
        for (int i = 0; i < c->nblk && c->a; i++)
            da_free(c->a, c->blk[i].p, c->blk[i].size);
        da_arena_close(c->a);
    }
    long maps = c->cfg.check_leaks ? count_shared_maps() : -1;
    long fds = c->cfg.check_leaks ? fe_count_fds() : -1;
    if (!bad && (maps != c->maps0 || fds != c->fds0))
        bad = violation(c, "after closing everything: %ld shared mappings (%ld before), %ld fds (%ld "
                           "before)",
                        maps, c->maps0, fds, c->fds0);
    snprintf(why, n, "%s", bad ? c->why : "");
    remove_dir(c->dir);
    for (int k = 0; k < NVEC; k++) {
        free(c->vec[k].m.s);
        free(c->vec[k].synced.s);
    }
    free(c->buf);
    free(c);
    return bad;
}

/* ---- crashes ---------------------------------------------------------------------- */

static _Thread_local char crash_replay[1200];

void or_crash_replay(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(crash_replay, sizeof crash_replay, fmt, ap);
    va_end(ap);
}

static void put(const char *s) { (void)!write(STDOUT_FILENO, s, strlen(s)); }

static void on_crash(int sig)
{
    put(sig == SIGBUS ? "CRASH: SIGBUS" : sig == SIGSEGV ? "CRASH: SIGSEGV" : "CRASH: SIGABRT");
    put(" (a driver killed by a signal counts as a crash)\nreplay: ");
    put(crash_replay);
    put("\n");
    signal(sig, SIG_DFL);
    raise(sig);
}

void or_crash_handlers(void)
{
    signal(SIGBUS, on_crash);
    signal(SIGSEGV, on_crash);
    signal(SIGABRT, on_crash);
}

/* ---- generating and describing operations ---------------------------------------- */

static const struct {
    const char *name;
    unsigned weight;
} kinds[OP_NKINDS] = {
    [OP_PUSH] = {"push", 14},      [OP_EXTEND] = {"extend", 14}, [OP_POP] = {"pop", 6},
    [OP_TRUNCATE] = {"truncate", 4}, [OP_RESERVE] = {"reserve", 8}, [OP_SHRINK] = {"shrink_to_fit", 5},
    [OP_SYNC] = {"sync", 6},       [OP_RECYCLE] = {"close+reopen", 3}, [OP_ALLOC] = {"alloc", 9},
    [OP_GROW] = {"grow", 8},       [OP_SHRINKB] = {"shrink", 5}, [OP_FREE] = {"free", 5},
    [OP_ASYNC] = {"arena_sync", 2}, [OP_OPENFD] = {"arena_open_fd", 2},
    [OP_OWNARENA] = {"own-arena", 5},
};

void or_gen(st_rng *r, const or_config *cfg, or_op *op)
{
    unsigned total = 0, pick;
    for (int k = 0; k < OP_NKINDS; k++)
        total += kinds[k].weight;
    pick = (unsigned)st_below(r, total);
    memset(op, 0, sizeof *op);
    while (pick >= kinds[op->kind].weight)
        pick -= kinds[op->kind++].weight;
    op->target = (uint8_t)st_below(r, NVEC);
    op->variant = (uint8_t)st_below(r, 4);
    op->a = st_rand(r);
    op->b = st_rand(r);
    op->fpoint = -1;
    if (st_below(r, 100) < (uint64_t)cfg->fault_percent) {
        op->fpoint = (int)st_below(r, FAULT_MAX_POINTS);
        uint64_t m = st_below(r, 10);
        op->fmode = m < 4 ? FAULT_NTH : m < 7 ? FAULT_FROM : m < 9 ? FAULT_PROB : FAULT_ALWAYS;
        op->fn = 1 + (uint32_t)st_below(r, 3);
        op->fp = 0.1 * (double)(1 + st_below(r, 5));
        op->ferr = st_rand(r);
        op->fseed = st_rand(r);
    }
    op->env = st_below(r, 100) < 15 ? (uint8_t)(1 + st_below(r, 2)) : 0;
}

void or_describe(const or_op *op, int vary_errno, char *buf, size_t n)
{
    int len = snprintf(buf, n, "%s", op->kind < OP_NKINDS ? kinds[op->kind].name : "?");
    if (op->kind <= OP_RECYCLE)
        len += snprintf(buf + len, n - (size_t)len, " %c", vec_name[op->target % NVEC]);
    if (op->kind == OP_OWNARENA)
        len += snprintf(buf + len, n - (size_t)len, " %c %s", vec_name[own_target(op)],
                        own_call[op->b % OWN_NCALLS]);
    len += snprintf(buf + len, n - (size_t)len, " v%u a=%llu b=%llu", op->variant,
                    (unsigned long long)(op->a % 100000), (unsigned long long)(op->b % 100000));
    if (op->env && op->env < 3 && vary_errno && len > 0 && (size_t)len < n)
        len += snprintf(buf + len, n - (size_t)len, "  on a file system with %s",
                        env_name[op->env]);
    int i = op_point(op, vary_errno && op->env < 3 ? op->env : 0);
    if (i < 0 || len < 0 || (size_t)len >= n)
        return;
    static const char *const modes[] = {"off", "always", "prob", "nth", "from"};
    len += snprintf(buf + len, n - (size_t)len, "  + fault %s %s", fault_point_short(i),
                    modes[op->fmode % 5]);
    if (op->fmode == FAULT_PROB)
        len += snprintf(buf + len, n - (size_t)len, "=%.1f", op->fp);
    else if (op->fmode == FAULT_NTH || op->fmode == FAULT_FROM)
        len += snprintf(buf + len, n - (size_t)len, "=%u", op->fn);
    int e = vary_errno ? fault_errno_pick(i, op->ferr) : fault_get_errno(i);
    snprintf(buf + len, n - (size_t)len, " %s", st_errname(e));
}

or_op *or_episode(uint64_t seed, uint64_t episode, const or_config *cfg, size_t *count)
{
    st_rng r;
    st_rng_seed(&r, seed + episode * 0x9e3779b97f4a7c15ull);
    size_t n = 40 + (size_t)st_below(&r, 400);
    or_op *ops = malloc(n * sizeof *ops);
    if (!ops)
        abort();
    for (size_t i = 0; i < n; i++)
        or_gen(&r, cfg, &ops[i]);
    *count = n;
    return ops;
}

long or_run(const or_config *cfg, const or_op *ops, const size_t *idx, size_t n, or_stats *st,
            char *why, size_t wn)
{
    or_ctx *c = or_open(cfg, why, wn);
    if (!c)
        return -2;
    long at = -1;
    for (size_t k = 0; k < n && at < 0; k++)
        if (or_exec(c, &ops[idx ? idx[k] : k])) {
            at = (long)k;
            snprintf(why, wn, "%s", c->why);
        }
    if (st) {
        st->ops += c->st.ops;
        st->clean_errors += c->st.clean_errors;
    }
    char fin[1024];
    if (or_close(c, fin, sizeof fin) && at < 0) {
        at = (long)n;
        snprintf(why, wn, "%s", fin);
    }
    return at;
}
