/* The allocator contract: the last block grows and shrinks in place and moves
 * the end of the file; any other block moves (copied) when it grows; freed or
 * shrunk blocks that are not last give back their pages; every power-of-two
 * alignment up to 1 GiB is honoured as an address; _zeroed means zeros, also
 * in reused space; da_free never fails; zero-size requests; the reservation
 * is a hard bound.  Argument errors (DA_EINVAL) are in test_errors. */
#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t page;

static void fill(void *p, size_t n, unsigned seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 131 + seed);
}

static void assert_filled(const void *p, size_t n, unsigned seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(i * 131 + seed))
            fail_msg("byte %zu of the block (seed %u) is %u, not %u", i, seed, b[i],
                     (unsigned char)(i * 131 + seed));
}

static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

static size_t off(da_arena *a, const void *p)
{
    return (size_t)((const unsigned char *)p - (const unsigned char *)da_arena_base(a));
}

static size_t round_page(size_t n) { return (n + page - 1) / page * page; }

static long long file_size(da_arena *a)
{
    struct stat st;
    t_arena_stat(a, &st);
    return (long long)st.st_size;
}

static long long file_bytes(da_arena *a)
{
    struct stat st;
    t_arena_stat(a, &st);
    return (long long)st.st_blocks * 512;
}

static void grow_first_of_two_moves_and_copies(void **state)
{
    (void)state;
    da_arena *a;
    void *x, *y;
    assert_int_equal(da_arena_open(&a, NULL), 0);
    assert_int_equal(da_alloc(a, 3 * page + 100, 16, &x), 0);
    assert_int_equal(da_alloc(a, 5000, 16, &y), 0);
    assert_ptr_equal(x, da_arena_base(a));
    assert_true((char *)y >= (char *)x + 3 * page + 100);
    fill(x, 3 * page + 100, 1);
    fill(y, 5000, 2);
    void *x0 = x;

    assert_int_equal(da_grow(a, &x, 3 * page + 100, 50000, 16), 0);
    assert_ptr_not_equal(x, x0);
    assert_true((char *)x >= (char *)y + 5000); /* allocated at the end */
    assert_filled(x, 3 * page + 100, 1);        /* contents copied */
    assert_filled(y, 5000, 2);                  /* the neighbour untouched */
    assert_int_equal(da_arena_size(a), round_page(off(a, x) + 50000));
    assert_int_equal(file_size(a), (long long)da_arena_size(a));
    /* the old block's whole pages went back to the file system */
    assert_true(all_zero(x0, 3 * page));

    /* growing the (now first) y moves it too, and _zeroed zeroes the new tail */
    void *y0 = y;
    assert_int_equal(da_grow_zeroed(a, &y, 5000, 9000, 16), 0);
    assert_ptr_not_equal(y, y0);
    assert_filled(y, 5000, 2);
    assert_true(all_zero((char *)y + 5000, 4000));
    assert_filled(x, 3 * page + 100, 1);
    assert_int_equal(da_arena_close(a), 0);
}

static void last_block_in_place(void **state)
{
    (void)state;
    da_arena *a;
    void *x, *y;
    assert_int_equal(da_arena_open(&a, NULL), 0);
    assert_int_equal(da_alloc(a, 100, 8, &x), 0);
    assert_int_equal(da_alloc(a, 3000, 8, &y), 0);
    fill(x, 100, 3);
    fill(y, 3000, 4);
    void *y0 = y;
    size_t o = off(a, y);

    assert_int_equal(da_grow(a, &y, 3000, 100000, 8), 0);
    assert_ptr_equal(y, y0);
    assert_int_equal(da_arena_size(a), round_page(o + 100000));
    assert_int_equal(file_size(a), (long long)round_page(o + 100000));
    assert_true(file_bytes(a) >= (long long)round_page(o + 100000)); /* real blocks */
    assert_filled(y, 3000, 4);
    memset((char *)y + 3000, 0x5A, 97000);

    assert_int_equal(da_shrink(a, &y, 100000, 10, 8), 0);
    assert_ptr_equal(y, y0);
    assert_int_equal(da_arena_size(a), round_page(o + 10));
    assert_int_equal(file_size(a), (long long)round_page(o + 10));
    assert_filled(y, 10, 4);

    /* bytes the shrink kept in the last page are old data: _zeroed clears them */
    assert_int_equal(da_grow_zeroed(a, &y, 10, 20000, 8), 0);
    assert_ptr_equal(y, y0);
    assert_filled(y, 10, 4);
    assert_true(all_zero((char *)y + 10, 20000 - 10));
    assert_filled(x, 100, 3);

    /* freeing the last block moves the end of the file back */
    da_free(a, y, 20000);
    assert_int_equal(da_arena_size(a), round_page(100));
    assert_int_equal(file_size(a), (long long)round_page(100));
    assert_filled(x, 100, 3);
    assert_int_equal(da_arena_close(a), 0);
}

static void shrink_not_last_releases_pages(void **state)
{
    (void)state;
    da_arena *a;
    void *x, *y;
    assert_int_equal(da_arena_open(&a, NULL), 0);
    assert_int_equal(da_alloc(a, 8 * page, page, &x), 0);
    assert_int_equal(da_alloc(a, 100, 8, &y), 0);
    memset(x, 0x77, 8 * page);
    fill(y, 100, 5);
    long long before = file_bytes(a);
    void *x0 = x;
    assert_int_equal(da_shrink(a, &x, 8 * page, page + 1, page), 0);
    assert_ptr_equal(x, x0); /* in place */
    assert_int_equal(((unsigned char *)x)[page], 0x77);
    assert_true(all_zero((char *)x + 2 * page, 6 * page)); /* punched */
    assert_true(file_bytes(a) <= before - (long long)(6 * page));
    assert_int_equal(da_arena_size(a), round_page(off(a, y) + 100)); /* the end stays */
    assert_filled(y, 100, 5);
    assert_int_equal(da_arena_close(a), 0);
}

/* Alignment is a property of the address, whatever the base's alignment. */
static void alignments_up_to_1g(void **state)
{
    (void)state;
    da_config c = t_config((size_t)8 << 30, NULL);
    da_arena *a;
    void *p[31];
    assert_int_equal(da_arena_open(&a, &c), 0);
    for (int k = 0; k <= 30; k++) {
        size_t align = (size_t)1 << k;
        assert_int_equal((k & 1 ? da_alloc_zeroed : da_alloc)(a, 3, align, &p[k]), 0);
        if ((uintptr_t)p[k] % align)
            fail_msg("alignment %zu not honoured: %p", align, p[k]);
        memset(p[k], k, 3);
    }
    for (int k = 0; k <= 30; k++)
        assert_true(((unsigned char *)p[k])[0] == k && ((unsigned char *)p[k])[2] == k);
    /* gaps the alignment skips are holes, not disk blocks */
    assert_true(file_size(a) > (long long)1 << 30);
    assert_true(file_bytes(a) < (long long)64 << 20);

    /* a grow that asks for a stricter alignment moves the block there */
    void *q = p[3], *last;
    assert_int_equal(da_grow(a, &q, 3, 10, (size_t)1 << 20), 0);
    assert_int_equal((uintptr_t)q % ((size_t)1 << 20), 0);
    assert_true(((unsigned char *)q)[0] == 3 && ((unsigned char *)q)[2] == 3);
    /* ... also for the last block, and for a shrink */
    last = q;
    assert_int_equal(da_grow(a, &last, 10, 20, (size_t)1 << 30), 0);
    assert_int_equal((uintptr_t)last % ((size_t)1 << 30), 0);
    assert_int_equal(((unsigned char *)last)[0], 3);
    void *s = last;
    assert_int_equal(da_shrink(a, &s, 20, 2, (size_t)1 << 30), 0);
    assert_ptr_equal(s, last); /* already aligned: in place */
    void *t;
    assert_int_equal(da_alloc(a, 64, 8, &t), 0);
    memset(t, 9, 64);
    void *t0 = t;
    assert_int_equal(da_shrink(a, &t, 64, 16, 4096), 0);
    if ((uintptr_t)t0 % 4096)
        assert_ptr_not_equal(t, t0);
    assert_int_equal((uintptr_t)t % 4096, 0);
    assert_true(((unsigned char *)t)[15] == 9);
    assert_int_equal(da_arena_close(a), 0);
}

static void zeroed_also_when_reusing(void **state)
{
    (void)state;
    da_arena *a;
    void *x, *y, *z;
    assert_int_equal(da_arena_open(&a, NULL), 0);
    assert_int_equal(da_alloc_zeroed(a, 5000, 8, &x), 0); /* fresh space */
    assert_true(all_zero(x, 5000));
    assert_int_equal(da_alloc(a, 3 * page, 8, &y), 0);
    memset(y, 0xAA, 3 * page);
    size_t size = da_arena_size(a);

    /* the file cannot shrink: the freed space stays and is handed out again */
    t_fail_always("diskalloc/ftruncate", EIO);
    da_free(a, y, 3 * page);
    t_fail_off();
    assert_int_equal(da_arena_size(a), size);
    assert_int_equal(file_size(a), (long long)size);
    assert_int_equal(da_alloc_zeroed(a, 2 * page, 8, &z), 0);
    assert_ptr_equal(z, y);
    assert_true(all_zero(z, 2 * page));
    assert_int_equal(da_arena_size(a), size); /* no growth needed */
    assert_true(all_zero(x, 5000));
    assert_int_equal(da_arena_close(a), 0);
}

static void free_never_fails(void **state)
{
    (void)state;
    da_arena *a;
    void *x, *y;
    assert_int_equal(da_arena_open(&a, NULL), 0);
    assert_int_equal(da_alloc(a, page, 8, &x), 0);
    assert_int_equal(da_alloc(a, 4 * page, 8, &y), 0);
    fill(x, page, 6);
    memset(y, 1, 4 * page);
    size_t size = da_arena_size(a);
    t_fail_always("diskalloc/ftruncate", EIO);
    t_fail_always("diskalloc/fallocate", EIO);
    da_free(a, y, 4 * page); /* last: truncation refused */
    da_free(a, x, page);     /* now last: refused too */
    assert_int_equal(da_arena_size(a), size);
    assert_int_equal(da_arena_error(a), 0); /* not an I/O error of the data */
    void *z;
    assert_int_equal(da_alloc(a, page, 8, &z), 0); /* reuses, needs no syscall */
    assert_ptr_equal(z, x);
    t_fail_off();
    da_free(a, z, page);
    assert_int_equal(da_arena_size(a), 0);
    assert_int_equal(file_size(a), 0);
    assert_int_equal(da_arena_close(a), 0);
}

static void zero_size_blocks(void **state)
{
    (void)state;
    da_arena *a;
    void *p, *q;
    assert_int_equal(da_arena_open(&a, NULL), 0);
    unsigned char *base = da_arena_base(a);
    size_t reserved = da_arena_reserved(a);
    t_snap s;
    t_snap_take(&s, a, NULL);
    assert_int_equal(da_alloc(a, 0, 64, &p), 0);
    assert_int_equal(da_alloc_zeroed(a, 0, 1 << 20, &q), 0);
    assert_non_null(p);
    assert_non_null(q);
    assert_int_equal((uintptr_t)p % 64, 0);
    assert_int_equal((uintptr_t)q % (1 << 20), 0);
    assert_false((unsigned char *)p >= base && (unsigned char *)p < base + reserved);
    assert_false((unsigned char *)q >= base && (unsigned char *)q < base + reserved);
    da_free(a, p, 0);
    da_free(a, q, 0);
    assert_int_equal(da_shrink(a, &p, 0, 0, 64), 0);
    t_snap_same(&s, a, NULL);

    /* a zero-size block grows into a real one, and shrinks back out */
    assert_int_equal(da_grow(a, &p, 0, 100, 64), 0);
    assert_true((unsigned char *)p >= base && (unsigned char *)p < base + reserved);
    assert_int_equal((uintptr_t)p % 64, 0);
    memset(p, 1, 100);
    assert_int_equal(da_shrink(a, &p, 100, 0, 64), 0);
    assert_false((unsigned char *)p >= base && (unsigned char *)p < base + reserved);
    assert_int_equal((uintptr_t)p % 64, 0);
    assert_int_equal(da_arena_size(a), 0);
    assert_int_equal(da_arena_close(a), 0);
}

static void reservation_is_a_hard_bound(void **state)
{
    (void)state;
    da_config c = t_config(16 * page, NULL);
    da_arena *a;
    void *x, *y, *q = NULL;
    assert_int_equal(da_arena_open(&a, &c), 0);
    assert_int_equal(da_alloc(a, 4 * page, 8, &x), 0);
    assert_int_equal(da_alloc(a, 10 * page, 8, &y), 0);
    fill(x, 4 * page, 7);
    fill(y, 10 * page, 8);
    t_snap s;
    t_snap_take(&s, a, NULL);
    void *x0 = x, *y0 = y;
    assert_int_equal(da_alloc(a, 2 * page + 1, 1, &q), DA_ECAPACITY);
    assert_int_equal(da_alloc_zeroed(a, SIZE_MAX, 1, &q), DA_ECAPACITY);
    assert_int_equal(da_alloc(a, 1, (size_t)1 << 40, &q), DA_ECAPACITY);
    assert_int_equal(da_grow(a, &y, 10 * page, 12 * page + 1, 8), DA_ECAPACITY); /* last */
    assert_int_equal(da_grow(a, &y, 10 * page, SIZE_MAX, 8), DA_ECAPACITY);
    assert_int_equal(da_grow(a, &x, 4 * page, 7 * page, 8), DA_ECAPACITY);
    assert_int_equal(da_grow_zeroed(a, &x, 4 * page, 5 * page, 8), DA_ECAPACITY); /* moves */
    assert_int_equal(da_arena_resize(a, 16 * page + 1), DA_ECAPACITY);
    /* the largest alignment and size: an error, never success */
    int e = da_alloc(a, SIZE_MAX, (size_t)1 << 63, &q);
    assert_true(e == DA_ECAPACITY || e == DA_EOVERFLOW);
    assert_null(q);
    assert_ptr_equal(x, x0);
    assert_ptr_equal(y, y0);
    t_snap_same(&s, a, NULL);
    assert_filled(x, 4 * page, 7);
    assert_filled(y, 10 * page, 8);

    /* up to the bound exactly: fine */
    assert_int_equal(da_alloc(a, 2 * page, 1, &q), 0);
    memset(q, 1, 2 * page);
    assert_int_equal(da_arena_size(a), 16 * page);
    assert_int_equal(da_alloc(a, 1, 1, &q), DA_ECAPACITY);
    assert_int_equal(da_arena_close(a), 0);
}

int main(void)
{
    t_main_init();
    page = (size_t)sysconf(_SC_PAGESIZE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grow_first_of_two_moves_and_copies),
        cmocka_unit_test(last_block_in_place),
        cmocka_unit_test(shrink_not_last_releases_pages),
        cmocka_unit_test(alignments_up_to_1g),
        cmocka_unit_test(zeroed_also_when_reusing),
        cmocka_unit_test(free_never_fails),
        cmocka_unit_test(zero_size_blocks),
        cmocka_unit_test(reservation_is_a_hard_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
