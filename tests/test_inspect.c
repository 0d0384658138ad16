/* da_vec_inspect: a persistent vector file's headers read without opening it
 * as a vector.  Every field of da_file_info is checked against the file's
 * bytes, parsed here from the documented layout (C11: copy A at 0, copy B at
 * 512 in format 1 and 4096 in format 2), and against what da_vec_open makes
 * of the same file.  Damaged copies, empty, short and long files without a
 * header, paths that are not regular files, a missing file and failed reads
 * give the documented results, and inspecting never changes, locks or leaks
 * anything. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const unsigned char magic[8] = {'D', 'A', 'V', 'E', 'C', 0, 1, 0};

typedef struct files {
    char dir[PATH_MAX], path[PATH_MAX + 16], other[PATH_MAX + 16];
} files;

static int setup(void **state)
{
    files *f = calloc(1, sizeof *f);
    t_scratch(f->dir, sizeof f->dir);
    snprintf(f->path, sizeof f->path, "%s/v.davec", f->dir);
    snprintf(f->other, sizeof f->other, "%s/other", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    files *f = *state;
    t_fail_off();
    t_rm_rf(f->dir);
    free(f);
    return 0;
}

static void read_at(const char *path, size_t at, void *p, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, p, n, (off_t)at), (ssize_t)n);
    close(fd);
}

static void write_at(const char *path, size_t at, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, p, n, (off_t)at), (ssize_t)n);
    close(fd);
}

/* A new persistent vector of n 8-byte elements: its creation writes copy A
 * (length 0), its close copy B (length n). */
static void make_vec(const char *path, size_t n)
{
    da_vec v;
    assert_int_equal(da_vec_open(&v, path, 8, NULL), 0);
    for (uint64_t i = 0; i < n; i++)
        assert_int_equal(da_vec_push(&v, &i), 0);
    assert_int_equal(da_vec_close(&v), 0);
}

/* The copy at `at` as stored; valid by the documented checks. */
static int copy_valid(const t_vec_header *h, unsigned version, size_t file_size)
{
    size_t min_data = version == 1 ? 4096 : 8192;
    return memcmp(h->magic, magic, 8) == 0 && h->sum == t_header_sum(h) &&
           h->version == version && h->header_size == sizeof *h && h->elem_size != 0 &&
           h->data_off >= min_data && h->data_off % 4096 == 0 && h->data_off <= file_size &&
           h->len <= (file_size - h->data_off) / h->elem_size;
}

static void expect_copy(const da_header_info *c, size_t offset, const t_vec_header *h, int valid,
                        const char *what)
{
    if (c->offset != offset)
        fail_msg("%s: offset %zu, want %zu", what, c->offset, offset);
    if (c->valid != valid)
        fail_msg("%s: valid %d, want %d", what, c->valid, valid);
    assert_int_equal(c->version, h->version);
    assert_true(c->seq == h->seq);
    assert_true(c->elem_size == h->elem_size);
    assert_true(c->len == h->len);
    assert_true(c->data_off == h->data_off);
}

/* Everything da_vec_inspect reports about a file whose copy B is at slot_b,
 * from its bytes; the copy in force is the valid one with the newer seq. */
static void expect_info(const char *path, unsigned version, size_t slot_b, int want_in_force)
{
    long long size = t_path_size(path);
    uint64_t hash = t_path_hash(path);
    t_vec_header ha, hb;
    read_at(path, 0, &ha, sizeof ha);
    read_at(path, slot_b, &hb, sizeof hb);
    int va = copy_valid(&ha, version, (size_t)size), vb = copy_valid(&hb, version, (size_t)size);

    t_snap s;
    t_snap_take(&s, NULL, NULL);
    da_file_info in;
    memset(&in, 0xa5, sizeof in); /* every field must be written */
    assert_int_equal(da_vec_inspect(path, &in), 0);
    t_snap_same(&s, NULL, NULL);
    assert_int_equal(t_path_size(path), size);
    assert_true(t_path_hash(path) == hash);

    assert_int_equal(in.file_size, (size_t)size);
    expect_copy(&in.copies[0], 0, &ha, va, "copy A");
    expect_copy(&in.copies[1], slot_b, &hb, vb, "copy B");
    assert_int_equal(in.in_force, want_in_force);
    const t_vec_header *h = want_in_force == 0 ? &ha : &hb;
    assert_int_equal(in.version, version);
    assert_int_equal(in.elem_size, h->elem_size);
    assert_int_equal(in.len, h->len);
    assert_int_equal(in.data_off, h->data_off);
    assert_int_equal(in.cap, ((size_t)size - h->data_off) / h->elem_size);

    /* what da_vec_open makes of the same file */
    da_vec v;
    assert_int_equal(da_vec_open(&v, path, in.elem_size, NULL), 0);
    assert_int_equal(v.len, in.len);
    assert_int_equal(v.cap, in.cap);
    assert_ptr_equal(v.data, (char *)da_arena_base(da_vec_arena(&v)) + in.data_off);
    da_vec_truncate(&v, 0); /* close syncs: keep the file for the caller's next look */
    assert_int_equal(da_vec_close(&v), 0);
}

/* No copy valid: 0, in_force -1 and the summary zeroed. */
static void expect_no_header(const char *path, size_t want_size)
{
    long long size = t_path_size(path);
    uint64_t hash = t_path_hash(path);
    da_file_info in;
    memset(&in, 0xa5, sizeof in);
    assert_int_equal(da_vec_inspect(path, &in), 0);
    assert_int_equal(in.file_size, want_size);
    assert_int_equal(in.in_force, -1);
    assert_int_equal(in.version, 0);
    assert_int_equal(in.elem_size, 0);
    assert_int_equal(in.len, 0);
    assert_int_equal(in.data_off, 0);
    assert_int_equal(in.cap, 0);
    assert_int_equal(in.copies[0].valid, 0);
    assert_int_equal(in.copies[1].valid, 0);
    assert_int_equal(in.copies[0].offset, 0);
    assert_true(in.copies[1].offset == 512 || in.copies[1].offset == 4096);
    assert_int_equal(t_path_size(path), size);
    assert_true(t_path_hash(path) == hash);
}

static void v2_file(void **state)
{
    files *f = *state;
    make_vec(f->path, 1000);
    expect_info(f->path, 2, 4096, 1);
    /* after expect_info's own open and close (copy A again, length 0) */
    expect_info(f->path, 2, 4096, 0);
}

/* Format 1, written here by hand: copy B at 512, data at 4096. */
static void v1_file(void **state)
{
    files *f = *state;
    int fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 4096 + 8 * 300), 0);
    close(fd);
    t_vec_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, magic, 8);
    h.version = 1;
    h.header_size = sizeof h;
    h.elem_size = 8;
    h.data_off = 4096;
    h.len = 200;
    h.seq = 7;
    h.sum = t_header_sum(&h);
    write_at(f->path, 0, &h, sizeof h);
    h.len = 250;
    h.seq = 6; /* older: copy A is in force */
    h.sum = t_header_sum(&h);
    write_at(f->path, 512, &h, sizeof h);
    expect_info(f->path, 1, 512, 0);
}

/* The newer copy damaged (a flipped byte in its length): the older is in
 * force and the damaged one is reported as stored, invalid. */
static void damaged_copies(void **state)
{
    files *f = *state;
    make_vec(f->path, 500); /* copy B (seq 2) is newer */
    t_vec_header hb;
    read_at(f->path, 4096, &hb, sizeof hb);
    hb.len ^= 1;
    write_at(f->path, 4096, &hb, sizeof hb);
    expect_info(f->path, 2, 4096, 0);

    /* both damaged (expect_info's open and close rewrote copy B): no copy
     * in force, the fields still shown as stored */
    t_vec_header ha;
    read_at(f->path, 0, &ha, sizeof ha);
    read_at(f->path, 4096, &hb, sizeof hb);
    ha.elem_size ^= 2;
    hb.sum ^= 1;
    write_at(f->path, 0, &ha, sizeof ha);
    write_at(f->path, 4096, &hb, sizeof hb);
    long long size = t_path_size(f->path);
    da_file_info in;
    assert_int_equal(da_vec_inspect(f->path, &in), 0);
    assert_int_equal(in.in_force, -1);
    assert_int_equal(in.file_size, (size_t)size);
    assert_int_equal(in.version, 0);
    assert_int_equal(in.cap, 0);
    assert_int_equal(in.copies[0].valid, 0);
    assert_int_equal(in.copies[1].valid, 0);
    assert_true(in.copies[0].elem_size == ha.elem_size);
    assert_true(in.copies[0].seq == ha.seq);
    assert_true(in.copies[1].len == hb.len);
    /* da_vec_open agrees: not a vector file */
    da_vec v;
    assert_int_equal(da_vec_open(&v, f->path, 8, NULL), DA_EBADFILE);
    assert_int_equal(t_path_size(f->path), size);
}

/* Empty, short and long files without a header: 0 with in_force -1; the
 * size is the file's. */
static void files_without_header(void **state)
{
    files *f = *state;
    t_write_file(f->path, "", 0);
    expect_no_header(f->path, 0);
    static unsigned char junk[20000];
    memset(junk, 0x5a, sizeof junk);
    t_write_file(f->path, junk, 100);
    expect_no_header(f->path, 100);
    t_write_file(f->path, junk, sizeof junk);
    expect_no_header(f->path, sizeof junk);
    memset(junk, 0, sizeof junk);
    t_write_file(f->path, junk, 5000); /* a creation cut short: da_vec_open would start afresh */
    expect_no_header(f->path, 5000);
}

/* The file is not locked by inspect, and inspect works on a file a vector
 * holds open (and locked). */
static void open_vector_inspected(void **state)
{
    files *f = *state;
    da_vec v;
    assert_int_equal(da_vec_open(&v, f->path, 24, NULL), 0);
    unsigned char e[24] = {1};
    for (int i = 0; i < 10; i++)
        assert_int_equal(da_vec_push(&v, e), 0);
    assert_int_equal(da_vec_sync(&v), 0);
    da_file_info in;
    assert_int_equal(da_vec_inspect(f->path, &in), 0);
    assert_int_equal(in.in_force, 1);
    assert_int_equal(in.elem_size, 24);
    assert_int_equal(in.len, 10);
    assert_int_equal(in.file_size, (size_t)t_path_size(f->path));
    assert_int_equal(da_vec_close(&v), 0);
}

static void bad_paths(void **state)
{
    files *f = *state;
    da_file_info in;
    assert_int_equal(da_vec_inspect(NULL, &in), DA_EINVAL);
    assert_int_equal(da_vec_inspect(f->path, NULL), DA_EINVAL);
    t_snap s;
    t_snap_take(&s, NULL, NULL);
    assert_int_equal(da_vec_inspect(f->path, &in), ENOENT);
    assert_int_equal(in.in_force, -1);
    assert_int_equal(da_vec_inspect(f->dir, &in), DA_EBADFILE);
    assert_int_equal(da_vec_inspect("/dev/null", &in), DA_EBADFILE);
    assert_int_equal(mkfifo(f->other, 0600), 0); /* a FIFO: never opened, so nothing blocks */
    assert_int_equal(da_vec_inspect(f->other, &in), DA_EBADFILE);
    assert_int_equal(unlink(f->other), 0);
    make_vec(f->path, 3);
    assert_int_equal(symlink(f->path, f->other), 0);
    assert_int_equal(da_vec_inspect(f->other, &in), ELOOP);
    t_snap_same(&s, NULL, NULL);
    assert_int_equal(t_dir_entries(f->dir), 2);
}

/* A regular file whose read fails: /proc/self/mem at offset 0 (address 0 is
 * never mapped) is EIO, as is a header read the fail point refuses; an
 * interrupted read (EINTR) is retried. */
static void read_errors(void **state)
{
    files *f = *state;
    da_file_info in;
    t_snap s;
    t_snap_take(&s, NULL, NULL);
    assert_int_equal(da_vec_inspect("/proc/self/mem", &in), EIO);
    make_vec(f->path, 100);
    t_fail_once("diskalloc/pread", EIO);
    assert_int_equal(da_vec_inspect(f->path, &in), EIO);
    t_fail_off();
    t_fail_once("diskalloc/pread", EINTR);
    assert_int_equal(da_vec_inspect(f->path, &in), 0);
    t_fail_off();
    assert_int_equal(in.len, 100);
    assert_int_equal(in.in_force, 1);
    t_snap_same(&s, NULL, NULL);
}

/* The path renamed over between the probe and the open: the file opened is
 * not the one probed, DA_EBADFILE. */
static void swap_in(void *arg)
{
    files *f = arg;
    assert_int_equal(rename(f->other, f->path), 0);
}

static void replaced_after_probe(void **state)
{
    files *f = *state;
    make_vec(f->path, 10);
    make_vec(f->other, 20);
    t_snap s;
    t_snap_take(&s, NULL, NULL);
    da_file_info in;
    t_meanwhile("diskalloc/open", 2, swap_in, f, 0); /* 1: the probe, 2: the open */
    int e = da_vec_inspect(f->path, &in);
    t_fail_off();
    /* the file probed is the file read (through its O_PATH descriptor) */
    assert_int_equal(e, 0);
    assert_int_equal(in.len, 10);
    t_snap_same(&s, NULL, NULL);
    assert_int_equal(da_vec_inspect(f->path, &in), 0);
    assert_int_equal(in.len, 20);
}

int main(void)
{
    t_main_init();
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(v2_file),
        T(v1_file),
        T(damaged_copies),
        T(files_without_header),
        T(open_vector_inspected),
        T(bad_paths),
        T(read_errors),
        T(replaced_after_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
