/* libFuzzer target: the input is a persistent vector file (untrusted), opened
 * with da_vec_open.  A crafted file must give DA_EBADFILE or a vector that
 * agrees with the file format contract (vecformat.h, C11): the length of the
 * copy in force and its bytes.  The vector is then read to its last byte,
 * pushed and synced, twice: the file as a kill right after the sync leaves it
 * and the file after close must both reopen with the length that sync made
 * durable and every element intact, and an open with another element size
 * must be DA_EBADFILE without touching the file.
 *
 * Input: byte 0 = control, the rest = the file's bytes.
 *   bits 0-2  element size: 1, 4, 8, 16, 24, 3, 12, 40
 *   bit 3/4/5 recompute the checksum of the copy at 0 / 512 / 4096 before
 *             writing, so that mutated header fields reach the field checks
 *             instead of all failing the checksum.
 *   bit 6     also tear each sync's header write (check_torn).
 * Anything else than 0 or a documented error is a finding: abort(). */
#define _GNU_SOURCE
#include "diskalloc.h"
#include "vecformat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* small, so ASan's shadow and many arenas fit; larger than any input */
static const da_config cfg = {.reserve = (size_t)64 << 20, .dir = NULL, .flags = 0};
enum { ROUNDS = 2 };

static char dir[4096], path[4200], kill_path[4200];
static size_t cur_es, cur_size;

static void violation(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vecfile: VIOLATION: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " [elem_size %zu, file %zu bytes]\n", cur_es, cur_size);
    va_end(ap);
    abort();
}

static void cleanup(void)
{
    unlink(path);
    unlink(kill_path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/vecfile.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("vecfile: mkdtemp");
        exit(2);
    }
    snprintf(path, sizeof path, "%s/v", dir);
    snprintf(kill_path, sizeof kill_path, "%s/killed", dir);
    atexit(cleanup);
    return 0;
}

static void write_file(const char *p, const unsigned char *b, size_t n)
{
    unlink(p);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || (n && write(fd, b, n) != (ssize_t)n) || close(fd) != 0) {
        perror("vecfile: writing the input file");
        exit(2);
    }
}

/* The file's bytes now (malloc'd; caller frees). */
static unsigned char *read_file(const char *p, size_t *n)
{
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror("vecfile: reading the file back");
        exit(2);
    }
    *n = (size_t)st.st_size;
    unsigned char *b = malloc(*n ? *n : 1);
    if (!b || (*n && pread(fd, b, *n, 0) != (ssize_t)*n)) {
        perror("vecfile: reading the file back");
        exit(2);
    }
    close(fd);
    return b;
}

static void check_unchanged(const char *p, const unsigned char *before, size_t n,
                            const char *after)
{
    size_t m;
    unsigned char *now = read_file(p, &m);
    if (m != n || (n && memcmp(now, before, n) != 0))
        violation("%s changed the file (%zu -> %zu bytes%s)", after, n, m,
                  m == n ? ", contents differ" : "");
    free(now);
}

static void describe(const vf_expect *ex, char *s, size_t cap)
{
    size_t k = 0;
    s[0] = 0;
    for (int i = 0; i < ex->n && k < cap; i++) {
        const vf_outcome *o = &ex->o[i];
        k += (size_t)snprintf(s + k, cap - k, "%s", i ? " or " : "");
        if (k >= cap)
            break;
        if (o->kind == VF_BADFILE)
            k += (size_t)snprintf(s + k, cap - k, "DA_EBADFILE");
        else if (o->kind == VF_FRESH)
            k += (size_t)snprintf(s + k, cap - k, "a fresh empty vector");
        else
            k += (size_t)snprintf(s + k, cap - k, "len %llu at data_off %llu",
                                  (unsigned long long)o->len, (unsigned long long)o->data_off);
    }
}

static int expects_badfile(const vf_expect *ex)
{
    for (int i = 0; i < ex->n; i++)
        if (ex->o[i].kind == VF_BADFILE)
            return 1;
    return 0;
}

/* The outcome the open vector agrees with (length and every byte), or NULL. */
static const vf_outcome *match(const vf_expect *ex, const da_vec *v, const unsigned char *file)
{
    for (int i = 0; i < ex->n; i++) {
        const vf_outcome *o = &ex->o[i];
        if (o->kind == VF_FRESH && v->len == 0)
            return o;
        if (o->kind == VF_OPEN && o->len == v->len &&
            (v->len == 0 || memcmp(v->data, file + o->data_off, v->len * v->elem_size) == 0))
            return o;
    }
    return NULL;
}

/* Invariants of any open vector: its capacity lies in the file's bytes, so
 * every store within cap is a store into the file (never SIGBUS). */
static void check_shape(da_vec *v, size_t es, const char *when)
{
    da_arena *a = da_vec_arena(v);
    if (!a || v->elem_size != es || v->cap < v->len || (v->cap && !v->data))
        violation("%s: bad vector (elem_size %zu, len %zu, cap %zu, data %p)", when,
                  v->elem_size, v->len, v->cap, v->data);
    unsigned char *base = da_arena_base(a), *data = v->data;
    if (v->cap && (data < base || (size_t)(data - base) > da_arena_size(a) ||
                   v->cap > (da_arena_size(a) - (size_t)(data - base)) / es))
        violation("%s: capacity %zu at offset %td is not inside the file (%zu bytes)", when,
                  v->cap, data - base, da_arena_size(a));
    if (v->len && da_vec_at(v, v->len - 1) != data + (v->len - 1) * es)
        violation("%s: da_vec_at(len-1) is not data + (len-1)*elem_size", when);
    if (da_vec_at(v, v->len) != NULL)
        violation("%s: da_vec_at(len) is not NULL", when);
    /* every store within cap must succeed */
    if (v->cap > v->len)
        memset(data + v->len * es, 0x5a, (v->cap - v->len) * es);
}

static void pattern(unsigned char *e, size_t es, int round)
{
    for (size_t i = 0; i < es; i++)
        e[i] = (unsigned char)(0xc3 + 31 * i + 7 * (size_t)round);
}

static int growth_error(int e)
{
    return e == ENOSPC || e == EDQUOT || e == EFBIG || e == DA_ECAPACITY;
}

/* Open p, which must hold the keep elements of orig and then `pushed`
 * elements of rounds 0, 1, ... (or, with one_more, one more pushed element);
 * the vector stays open. */
static void expect_reopen(da_vec *v, const char *p, size_t es, const unsigned char *orig,
                          size_t keep, int pushed, int one_more, const char *what)
{
    unsigned char want[64];
    int e = da_vec_open(v, p, es, &cfg);
    if (e != 0)
        violation("%s: da_vec_open returned %d (%s)", what, e, da_strerror(e));
    if (one_more && v->len == keep + (size_t)pushed + 1)
        pushed++;
    if (v->len != keep + (size_t)pushed && one_more)
        violation("%s shows len %zu: neither the length durable before the torn sync (%zu) "
                  "nor that sync's (%zu)", what, v->len, keep + (size_t)pushed,
                  keep + (size_t)pushed + 1);
    if (v->len != keep + (size_t)pushed)
        violation("%s shows len %zu, the last sync made len %zu durable", what, v->len,
                  keep + (size_t)pushed);
    check_shape(v, es, what);
    if (keep && memcmp(v->data, orig, keep * es) != 0)
        violation("%s: the file's first %zu elements changed", what, keep);
    for (int k = 0; k < pushed; k++) {
        pattern(want, es, k);
        if (memcmp(da_vec_at(v, keep + (size_t)k), want, es) != 0)
            violation("%s: pushed element %zu (round %d) is not intact", what,
                      keep + (size_t)k, k);
    }
}

/* Control bit 6: a power loss tears the sync's header write.  The newest
 * valid copy after the sync (the one it wrote) is zeroed; the file must
 * reopen with the length of that sync or of the one before, never older:
 * what "written in two alternating copies" buys.  A sync that overwrites the
 * copy in force (say, a slot chosen by the parity of seq, in a file whose
 * copy A has an odd seq) loses two syncs to one torn write. */
static void check_torn(const unsigned char *after, size_t n, size_t es,
                       const unsigned char *orig, size_t keep, int r)
{
    static const size_t slots[] = {VF_SLOT_A, VF_SLOT_B_V1, VF_SLOT_B_V2};
    vf_header h, newest = {.seq = 0};
    int found = -1;
    for (int i = 0; i < 3; i++) {
        vf_get(after, n, slots[i], &h);
        if (vf_valid(&h, slots[i], n) && (found < 0 || (int64_t)(h.seq - newest.seq) > 0))
            newest = h, found = i;
    }
    if (found < 0)
        violation("after a sync the file has no valid header copy");
    unsigned char *torn = malloc(n);
    if (!torn)
        abort();
    memcpy(torn, after, n);
    memset(torn + slots[found], 0, VF_HDR_BYTES);
    write_file(kill_path, torn, n);
    free(torn);
    da_vec w;
    expect_reopen(&w, kill_path, es, orig, keep, r, 1,
                  "the file whose last header write was torn");
    int e = da_vec_close(&w);
    if (e != 0)
        violation("da_vec_close of the torn file returned %d (%s)", e, da_strerror(e));
    unlink(kill_path);
}

/* After the vector held keep elements equal to orig: push, sync, then both
 * the file as a kill right after the sync leaves it (no close: close syncs
 * again, which would hide a header the reopen does not pick) and the file
 * after close must reopen with that sync's length, and an open with another
 * element size must be refused without a change. ROUNDS times, so that
 * both header copies get written. */
static void push_sync_reopen(da_vec *v, size_t es, const unsigned char *orig, size_t keep,
                             int tear)
{
    unsigned char elem[64];
    for (int r = 0; r < ROUNDS; r++) {
        pattern(elem, es, r);
        int e = da_vec_push(v, elem);
        if (e != 0) {
            if (!growth_error(e))
                violation("da_vec_push returned %d (%s)", e, da_strerror(e));
            if (v->len != keep + (size_t)r)
                violation("a failed push changed len to %zu", v->len);
            da_vec_close(v);
            return;
        }
        if (v->len != keep + (size_t)r + 1 || memcmp(da_vec_at(v, v->len - 1), elem, es) != 0)
            violation("push: len %zu or the pushed element wrong", v->len);
        e = da_vec_sync(v);
        if (e != 0) {
            if (e != ENOSPC && e != EDQUOT)
                violation("da_vec_sync returned %d (%s)", e, da_strerror(e));
            da_vec_close(v);
            return;
        }
        size_t n;
        unsigned char *killed = read_file(path, &n);
        if (tear)
            check_torn(killed, n, es, orig, keep, r);
        e = da_vec_close(v);
        if (e != 0)
            violation("da_vec_close after a sync returned %d (%s)", e, da_strerror(e));

        write_file(kill_path, killed, n);
        free(killed);
        da_vec w;
        expect_reopen(&w, kill_path, es, orig, keep, r + 1, 0, "the file killed after a sync");
        if ((e = da_vec_close(&w)) != 0)
            violation("da_vec_close of the killed file returned %d (%s)", e, da_strerror(e));
        unlink(kill_path);

        unsigned char *closed = read_file(path, &n);
        e = da_vec_open(&w, path, es + 1, &cfg);
        if (e != DA_EBADFILE)
            violation("open with elem_size %zu of a file of elem_size %zu returned %d", es + 1,
                      es, e);
        check_unchanged(path, closed, n, "an open with another elem_size");
        free(closed);

        expect_reopen(v, path, es, orig, keep, r + 1, 0, "the file reopened after close");
    }
    int e = da_vec_close(v);
    if (e != 0)
        violation("final da_vec_close returned %d (%s)", e, da_strerror(e));
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
    unsigned ctl = n ? in[0] : 0;
    size_t es = vf_ctl_elem_sizes[ctl & VF_CTL_ELEM], size = n ? n - 1 : 0;
    unsigned char *file = malloc(size ? size : 1);
    if (!file)
        return 0;
    if (size)
        memcpy(file, in + 1, size);
    if (ctl & VF_CTL_FIX_A)
        vf_fix_sum(file, size, VF_SLOT_A);
    if (ctl & VF_CTL_FIX_B1)
        vf_fix_sum(file, size, VF_SLOT_B_V1);
    if (ctl & VF_CTL_FIX_B2)
        vf_fix_sum(file, size, VF_SLOT_B_V2);
    cur_es = es, cur_size = size;
    write_file(path, file, size);

    vf_expect ex;
    char want[512];
    vf_expect_open(file, size, es, &ex);
    describe(&ex, want, sizeof want);

    da_vec v;
    int e = da_vec_open(&v, path, es, &cfg);
    if (e != 0) {
        if (e == DA_EBADFILE && !expects_badfile(&ex))
            violation("da_vec_open: DA_EBADFILE, the contract says %s", want);
        if (e != DA_EBADFILE && e != ENOSPC && e != EDQUOT && e != ENOMEM)
            violation("da_vec_open returned %d (%s), the contract says %s", e, da_strerror(e),
                      want);
        check_unchanged(path, file, size, "a failed da_vec_open");
        if (v.data || v.len || v.cap || da_vec_close(&v) != 0)
            violation("a failed da_vec_open left a vector that is not zeroed");
        free(file);
        return 0;
    }
    const vf_outcome *o = match(&ex, &v, file);
    if (!o)
        violation("da_vec_open gave len %zu (or other bytes), the contract says %s", v.len, want);
    check_shape(&v, es, "open");
    push_sync_reopen(&v, es, o->kind == VF_OPEN ? file + o->data_off : NULL, v.len, ctl & VF_CTL_TEAR);
    free(file);
    return 0;
}
