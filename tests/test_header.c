/* The persistent file format, read as untrusted input (contracts C9, C11 of
 * issue 9): each header copy is checked field by field (header_size too);
 * when the newest copy fails a check the older valid one is in force;
 * sequence numbers compare wrap-safe; new files put the two copies in
 * separate 4 KiB blocks (format 2), and format-1 files still open, grow,
 * sync and reopen as format 1.
 *
 * The files are built here byte by byte from the documented layout (the
 * checksum too), not with the core's own code, so that a core which
 * misreads its own format cannot agree with itself. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the documented layout (C11) ----------------------------------------------- */

typedef t_vec_header header;

static const unsigned char magic[8] = {'D', 'A', 'V', 'E', 'C', 0, 1, 0};

/* Where copy B sits and where data may start, per format version. */
typedef struct {
    uint32_t version;
    size_t slot_b, min_data;
} format;

static const format v1 = {1, 512, 4096};
static const format v2 = {2, 4096, 8192};

static header make_header(const format *f, uint64_t len, uint64_t seq)
{
    header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, magic, 8);
    h.version = f->version;
    h.header_size = sizeof(header);
    h.elem_size = 8;
    h.len = len;
    h.data_off = f->min_data;
    h.seq = seq;
    return h;
}

static void seal(header *h) { h->sum = t_header_sum(h); }

static int header_valid_sum(const header *h)
{
    return memcmp(h->magic, magic, 8) == 0 && h->sum == t_header_sum(h);
}

static uint64_t value(uint64_t i) { return i * 0x9E3779B97F4A7C15ull + 3; }

/* A vector file: copies a (at 0) and b (at f->slot_b), either NULL for
 * zeros, sealed here; n elements at data_off; size bytes in all. */
static void write_vec_file(const char *path, const format *f, header *a, header *b,
                           uint64_t data_off, size_t n, size_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    if (a) {
        seal(a);
        assert_int_equal(pwrite(fd, a, sizeof *a, 0), (ssize_t)sizeof *a);
    }
    if (b) {
        seal(b);
        assert_int_equal(pwrite(fd, b, sizeof *b, (off_t)f->slot_b), (ssize_t)sizeof *b);
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t x = value(i);
        assert_int_equal(pwrite(fd, &x, 8, (off_t)(data_off + 8 * i)), 8);
    }
    close(fd);
}

static void read_at(const char *path, off_t at, void *p, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, p, n, at), (ssize_t)n);
    close(fd);
}

/* ---- fixture -------------------------------------------------------------------- */

typedef struct files {
    char dir[PATH_MAX], path[PATH_MAX + 16], saved[PATH_MAX + 16];
} files;

static int setup(void **state)
{
    files *f = calloc(1, sizeof *f);
    t_scratch(f->dir, sizeof f->dir);
    snprintf(f->path, sizeof f->path, "%s/v.davec", f->dir);
    snprintf(f->saved, sizeof f->saved, "%s/saved.davec", f->dir);
    *state = f;
    t_soft_reset();
    return 0;
}

static int teardown(void **state)
{
    files *f = *state;
    t_rm_rf(f->dir);
    free(f);
    return 0;
}

/* Open, check every element, close; the error or 0, the length in *len. */
static int open_check(const char *path, size_t *len)
{
    da_vec v;
    int e = da_vec_open(&v, path, 8, NULL);
    *len = v.len;
    if (e)
        return e;
    for (size_t i = 0; i < v.len; i++)
        if (*(uint64_t *)da_vec_at(&v, i) != value(i))
            fail_msg("%s: element %zu of %zu does not hold its value", path, i, v.len);
    assert_int_equal(da_vec_close(&v), 0);
    return 0;
}

/* A refused file is left exactly as it was. */
static void expect_badfile(const char *path, const char *why)
{
    long long size = t_path_size(path);
    uint64_t hash = t_path_hash(path);
    t_snap s;
    t_snap_take(&s, NULL, NULL);
    size_t len;
    int e = open_check(path, &len);
    if (e != DA_EBADFILE) { /* an open that succeeded wrote on close: no more to check */
        T_SOFT_FAIL("%s: open returned %d (len %zu), not DA_EBADFILE (%d)", why, e, len,
                  DA_EBADFILE);
        return;
    }
    t_snap_same(&s, NULL, NULL);
    assert_int_equal(t_path_size(path), size);
    assert_true(t_path_hash(path) == hash);
}

/* 1 when the file opens with want elements, each with its value. */
static int expect_len(const char *path, size_t want, const char *why)
{
    size_t len;
    int e = open_check(path, &len);
    if (e != 0 || len != want) {
        T_SOFT_FAIL("%s: open returned %d with len %zu, want 0 with len %zu", why, e, len, want);
        return 0;
    }
    return 1;
}

static const format *const formats[] = {&v1, &v2};

/* ---- C11: every field checked ------------------------------------------------------ */

/* A header claiming 4000 bytes is not this format: alone, the file is
 * DA_EBADFILE; next to a valid older copy, that copy is in force. */
static void header_size_checked(void **state)
{
    files *f = *state;
    for (int i = 0; i < 2; i++) {
        const format *fm = formats[i];
        size_t size = fm->min_data + 4096;
        header a = make_header(fm, 100, 2);
        a.header_size = 4000;
        write_vec_file(f->path, fm, &a, NULL, fm->min_data, 100, size);
        expect_badfile(f->path, fm == &v1 ? "v1, only copy has header_size 4000"
                                          : "v2, only copy has header_size 4000");

        header b = make_header(fm, 60, 1);
        write_vec_file(f->path, fm, &a, &b, fm->min_data, 100, size);
        expect_len(f->path, 60, fm == &v1 ? "v1, newest copy has header_size 4000"
                                          : "v2, newest copy has header_size 4000");
    }
    t_soft_end();
}

/* The newest copy fails one structural check (its checksum is right): the
 * older valid copy is in force, whichever slot each is in, and the next
 * sync and reopen go on from it. */
static void newest_copy_invalid_older_used(void **state)
{
    files *f = *state;
    enum { OLD_LEN = 50, NEW_LEN = 70, N = 100 };
    struct {
        const char *why;
        int field; /* which field to spoil */
    } spoil[] = {
        {"len beyond the file", 0},
        {"data_off not a multiple of 4096", 1},
        {"data_off beyond the file", 2},
        {"version of the other format for its slot", 3},
        {"header_size 4000", 4},
        {"data_off inside the header area", 5},
        {"elem_size 0", 6},
    };
    for (int fi = 0; fi < 2; fi++) {
        const format *fm = formats[fi];
        size_t size = fm->min_data + 8 * 4096;
        for (size_t s = 0; s < sizeof spoil / sizeof spoil[0]; s++) {
            for (int newest_in_b = 0; newest_in_b < 2; newest_in_b++) {
                /* seq parity as the core writes it: odd in copy B */
                uint64_t old_seq = newest_in_b ? 2 : 1;
                header older = make_header(fm, OLD_LEN, old_seq);
                header newer = make_header(fm, NEW_LEN, old_seq + 1);
                switch (spoil[s].field) {
                case 0: newer.len = (size - fm->min_data) / 8 + 1; break;
                case 1: newer.data_off = fm->min_data + 512; break;
                case 2: newer.data_off = size + 4096; break;
                case 3: newer.version = fm->version == 1 ? 2 : 1; break;
                case 4: newer.header_size = 4000; break;
                case 5: newer.data_off = fm->min_data - 4096; break;
                case 6: newer.elem_size = 0; break;
                }
                /* a format-1 copy at 0 of a format-2 file reads as a format-1
                 * file whose copy B is missing: no verdict to check there */
                if (spoil[s].field == 3 && fm == &v2 && !newest_in_b)
                    continue;
                header *a = newest_in_b ? &older : &newer, *b = newest_in_b ? &newer : &older;
                write_vec_file(f->path, fm, a, b, fm->min_data, N, size);
                char why[160];
                snprintf(why, sizeof why, "format %u, newest copy (in %s) has %s", fm->version,
                         newest_in_b ? "B" : "A", spoil[s].why);
                if (!expect_len(f->path, OLD_LEN, why))
                    continue;

                /* and the file goes on from the copy in force */
                da_vec v;
                assert_int_equal(da_vec_open(&v, f->path, 8, NULL), 0);
                uint64_t x = value(OLD_LEN);
                assert_int_equal(da_vec_push(&v, &x), 0);
                assert_int_equal(da_vec_sync(&v), 0);
                assert_int_equal(da_vec_close(&v), 0);
                expect_len(f->path, OLD_LEN + 1, why);
            }
        }
    }
    t_soft_end();
}

/* Neither copy valid: DA_EBADFILE, the file untouched. */
static void both_copies_invalid(void **state)
{
    files *f = *state;
    for (int fi = 0; fi < 2; fi++) {
        const format *fm = formats[fi];
        header a = make_header(fm, 10, 2), b = make_header(fm, 10, 1);
        a.header_size = 4000;
        b.data_off = fm->min_data + 512;
        write_vec_file(f->path, fm, &a, &b, fm->min_data, 10, fm->min_data + 4096);
        expect_badfile(f->path, fm == &v1 ? "v1, both copies invalid" : "v2, both copies invalid");
    }
    t_soft_end();
}

/* ---- C9: wrap-safe sequence numbers ------------------------------------------------- */

/* The copy in force has seq 2^64-1 (the other 2^64-2).  A sync after more
 * pushes writes seq 0; a crash right after that sync (the file's bytes at
 * that moment restored after the close) must reopen with the new length. */
static void seq_wraps(void **state)
{
    files *f = *state;
    for (int fi = 0; fi < 2; fi++) {
        const format *fm = formats[fi];
        header a = make_header(fm, 10, UINT64_MAX - 1), b = make_header(fm, 20, UINT64_MAX);
        write_vec_file(f->path, fm, &a, &b, fm->min_data, 40, fm->min_data + 4096);
        const char *why = fm == &v1 ? "v1, seq 2^64-1 in force" : "v2, seq 2^64-1 in force";
        if (!expect_len(f->path, 20, why))
            continue;

        da_vec v;
        assert_int_equal(da_vec_open(&v, f->path, 8, NULL), 0);
        for (uint64_t i = 20; i < 30; i++) {
            uint64_t x = value(i);
            assert_int_equal(da_vec_push(&v, &x), 0);
        }
        assert_int_equal(da_vec_sync(&v), 0);
        t_copy_file(f->path, f->saved); /* the file as a crash right here leaves it */
        assert_int_equal(da_vec_close(&v), 0);
        t_copy_file(f->saved, f->path);
        char w[96];
        snprintf(w, sizeof w, "%s, then a sync of 30 elements and a crash", why);
        expect_len(f->path, 30, w);
    }
    t_soft_end();
}

/* ---- C11: the layout of new files, and format 1 kept ----------------------------------- */

/* A new file: format 2, copy A at 0 and copy B at 4096 (each in its own
 * 4 KiB block), data at a multiple of 4096 and of the page size, >= 8192. */
static void new_file_is_format_2(void **state)
{
    files *f = *state;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    da_vec v;
    assert_int_equal(da_vec_open(&v, f->path, 8, NULL), 0);
    size_t data_off = (size_t)((char *)v.data - (char *)da_arena_base(da_vec_arena(&v)));
    for (uint64_t i = 0; i < 1000; i++) {
        uint64_t x = value(i);
        assert_int_equal(da_vec_push(&v, &x), 0);
    }
    assert_int_equal(da_vec_sync(&v), 0); /* two headers written by now: creation + this */
    assert_int_equal(da_vec_close(&v), 0);

    header a, b, at512;
    read_at(f->path, 0, &a, sizeof a);
    read_at(f->path, 4096, &b, sizeof b);
    read_at(f->path, 512, &at512, sizeof at512);
    if (data_off < 8192 || data_off % 4096 != 0 || data_off % page != 0)
        fail_msg("new file's data at offset %zu: want >= 8192, a multiple of 4096 and of the "
                 "page size %zu",
                 data_off, page);
    if (!header_valid_sum(&a) || !header_valid_sum(&b))
        fail_msg("new file: copy A at 0 %s, copy B at 4096 %s", header_valid_sum(&a) ? "valid" : "INVALID",
                 header_valid_sum(&b) ? "valid" : "INVALID");
    assert_false(header_valid_sum(&at512)); /* no copy left where format 1 kept it */
    const header *h[2] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(h[i]->version, 2);
        assert_int_equal(h[i]->header_size, sizeof(header));
        assert_int_equal(h[i]->elem_size, 8);
        assert_int_equal(h[i]->data_off, data_off);
    }
    assert_true(a.seq != b.seq);
    assert_int_equal(a.seq > b.seq ? a.len : b.len, 1000);
    expect_len(f->path, 1000, "new file reopened");
}

/* A format-1 file (copy B at 512, data at 4096) written by today's core: it
 * opens, reads, grows, syncs and reopens, and stays format 1. */
static void format_1_kept(void **state)
{
    files *f = *state;
    for (int both = 0; both < 2; both++) {
        header a = make_header(&v1, 100, 2), b = make_header(&v1, 90, 1);
        write_vec_file(f->path, &v1, &a, both ? &b : NULL, 4096, 100, 4096 + 4096);
        expect_len(f->path, 100, both ? "v1 file, both copies" : "v1 file, copy A only");

        da_vec v;
        assert_int_equal(da_vec_open(&v, f->path, 8, NULL), 0);
        assert_int_equal((char *)v.data - (char *)da_arena_base(da_vec_arena(&v)), 4096);
        for (uint64_t i = 100; i < 3000; i++) { /* past the file's first size */
            uint64_t x = value(i);
            assert_int_equal(da_vec_push(&v, &x), 0);
        }
        assert_int_equal(da_vec_sync(&v), 0);
        for (uint64_t i = 3000; i < 3100; i++) {
            uint64_t x = value(i);
            assert_int_equal(da_vec_push(&v, &x), 0);
        }
        assert_int_equal(da_vec_close(&v), 0); /* a second header */
        expect_len(f->path, 3100, "v1 file grown and reopened");

        header h0, h1;
        read_at(f->path, 0, &h0, sizeof h0);
        read_at(f->path, 512, &h1, sizeof h1);
        assert_true(header_valid_sum(&h0) && header_valid_sum(&h1));
        const header *newest = h0.seq > h1.seq ? &h0 : &h1;
        assert_int_equal(h0.version, 1);
        assert_int_equal(h1.version, 1);
        assert_int_equal(newest->data_off, 4096);
        assert_int_equal(newest->len, 3100);
        uint64_t first;
        read_at(f->path, 4096, &first, 8); /* the data was not moved for a format-2 header */
        assert_true(first == value(0));
    }
}

/* ---- the file changed by another process during the open -------------------------- */

/* What a process that ignores the lock writes between the open's check of
 * the headers (before anything is mapped) and its reading of the mapping. */
typedef struct meddler {
    const char *path;
    int what; /* 0: headers of another element size, 1: headers zeroed, 2: a stray byte */
    long long size;
    uint64_t hash; /* the file as the meddler left it */
} meddler;

static void meddle(void *arg)
{
    meddler *m = arg;
    int fd = open(m->path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    if (m->what == 2) {
        assert_int_equal(pwrite(fd, "x", 1, 77), 1);
    } else {
        for (size_t at = 0; at <= v2.slot_b; at += v2.slot_b) {
            header h;
            assert_int_equal(pread(fd, &h, sizeof h, (off_t)at), (ssize_t)sizeof h);
            if (m->what == 0) {
                h.elem_size = 16;
                h.len /= 2;
                seal(&h);
            } else {
                memset(&h, 0, sizeof h);
            }
            assert_int_equal(pwrite(fd, &h, sizeof h, (off_t)at), (ssize_t)sizeof h);
        }
    }
    close(fd);
    m->size = t_path_size(m->path);
    m->hash = t_path_hash(m->path);
}

/* The mapping is checked again: a file whose headers changed to another
 * element size, or vanished, or an all-zero file that gained a byte, is
 * refused and left as the other process wrote it (never initialised). */
static void file_changed_during_open(void **state)
{
    files *f = *state;
    static const char *const what[] = {"headers rewritten for 16-byte elements",
                                       "headers zeroed", "a byte written into a zero file"};
    for (int w = 0; w < 3; w++) {
        if (w == 2) {
            static const unsigned char zeros[3000];
            t_write_file(f->path, zeros, sizeof zeros);
        } else {
            header a = make_header(&v2, 100, 1), b = make_header(&v2, 300, 2);
            write_vec_file(f->path, &v2, &a, &b, v2.min_data, 300, v2.min_data + 8 * 400);
        }
        meddler m = {f->path, w, 0, 0};
        t_snap s;
        t_snap_take(&s, NULL, NULL);
        t_meanwhile("diskalloc/mmap", 1, meddle, &m, 0);
        da_vec v;
        int e = da_vec_open(&v, f->path, 8, NULL);
        t_fail_off();
        if (e == 0)
            assert_int_equal(da_vec_close(&v), 0);
        if (e != DA_EBADFILE)
            T_SOFT_FAIL("%s during the open: returned %d, want DA_EBADFILE", what[w], e);
        t_snap_same(&s, NULL, NULL);
        if (t_path_size(f->path) != m.size || t_path_hash(f->path) != m.hash)
            T_SOFT_FAIL("%s during the open: the refused file was changed", what[w]);
    }
    t_soft_end();
}

int main(void)
{
    t_main_init();
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(header_size_checked),
        T(newest_copy_invalid_older_used),
        T(both_copies_invalid),
        T(seq_wraps),
        T(new_file_is_format_2),
        T(format_1_kept),
        T(file_changed_during_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
