/* Vectors: every call; pop on empty; extend from the vector itself (also
 * when that moves it, in a shared arena); reserve amortized and exact;
 * shrink_to_fit gives disk blocks back; the data pointer never moves in an
 * own arena; two vectors sharing one arena. */
#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t page;

typedef struct rec { uint64_t key; uint32_t sum; unsigned char tag[12]; } rec; /* 24 bytes */

static rec make(uint64_t i)
{
    rec r;
    memset(&r, 0, sizeof r);
    r.key = i * 2654435761u;
    r.sum = (uint32_t)(i ^ 0x5bd1e995);
    memset(r.tag, (int)(i & 0xff), sizeof r.tag);
    return r;
}

static void assert_rec(const da_vec *v, size_t i, uint64_t want)
{
    rec r = make(want);
    const rec *got = da_vec_at(v, i);
    assert_non_null(got);
    if (memcmp(got, &r, sizeof r) != 0)
        fail_msg("element %zu holds key %ju, expected the one made from %ju", i,
                 (uintmax_t)got->key, (uintmax_t)want);
}

static long long file_bytes(const da_vec *v)
{
    struct stat st;
    t_arena_stat(da_vec_arena(v), &st);
    return (long long)st.st_blocks * 512;
}

static void push_at_pop(void **state)
{
    (void)state;
    da_vec v;
    const size_t n = 10000;
    assert_int_equal(da_vec_init(&v, sizeof(rec), NULL), 0);
    assert_int_equal(v.len, 0);
    assert_int_equal(v.cap, 0);
    assert_int_equal(v.elem_size, sizeof(rec));
    assert_non_null(da_vec_arena(&v));
    void *data = v.data;
    assert_ptr_equal(data, da_arena_base(da_vec_arena(&v)));
    for (size_t i = 0; i < n; i++) {
        rec r = make(i);
        assert_int_equal(i & 1 ? da_vec_push_fast(&v, &r) : da_vec_push(&v, &r), 0);
        assert_int_equal(v.len, i + 1);
        assert_true(v.cap >= v.len);
    }
    assert_ptr_equal(v.data, data);
    for (size_t i = 0; i < n; i++)
        assert_rec(&v, i, i);
    assert_null(da_vec_at(&v, n));
    assert_null(da_vec_at(&v, SIZE_MAX));
    assert_true(da_arena_size(da_vec_arena(&v)) >= n * sizeof(rec));

    rec out;
    for (size_t i = n; i-- > n / 2;) {
        assert_int_equal(da_vec_pop(&v, &out), 0);
        rec want = make(i);
        assert_memory_equal(&out, &want, sizeof out);
    }
    while (v.len)
        assert_int_equal(da_vec_pop(&v, NULL), 0);
    t_snap s;
    t_snap_take(&s, da_vec_arena(&v), &v);
    assert_int_equal(da_vec_pop(&v, &out), DA_EEMPTY);
    assert_int_equal(da_vec_pop(&v, NULL), DA_EEMPTY);
    t_snap_same(&s, da_vec_arena(&v), &v);
    assert_ptr_equal(v.data, data);
    assert_int_equal(da_vec_close(&v), 0);
    assert_null(v.data);
    assert_null(da_vec_arena(&v));
    assert_int_equal(da_vec_close(&v), 0); /* a closed vector closes again as a no-op */
}

static void truncate_keeps_capacity(void **state)
{
    (void)state;
    da_vec v;
    uint32_t x[100];
    for (uint32_t i = 0; i < 100; i++)
        x[i] = i * 7;
    assert_int_equal(da_vec_init(&v, 4, NULL), 0);
    assert_int_equal(da_vec_extend(&v, x, 100), 0);
    size_t cap = v.cap;
    da_vec_truncate(&v, 100); /* not shorter: no-op */
    da_vec_truncate(&v, 1000);
    assert_int_equal(v.len, 100);
    da_vec_truncate(&v, 40);
    assert_int_equal(v.len, 40);
    assert_int_equal(v.cap, cap);
    assert_null(da_vec_at(&v, 40));
    assert_memory_equal(v.data, x, 40 * 4);
    da_vec_truncate(&v, 0);
    assert_int_equal(v.len, 0);
    assert_int_equal(v.cap, cap);
    assert_int_equal(da_vec_close(&v), 0);
}

/* The source range is read after the growth that may move the vector: with
 * `other` in the same arena, other grows first so that ours is not last and
 * the extend has to move it. */
static void check_extend_from_self(da_vec *v, size_t n, da_vec *other)
{
    for (uint64_t i = 0; i < n; i++) {
        rec r = make(i);
        assert_int_equal(da_vec_push(v, &r), 0);
    }
    while (v->cap - v->len >= n) { /* make sure the next extend must grow */
        rec r = make(v->len);
        assert_int_equal(da_vec_push(v, &r), 0);
    }
    if (other)
        assert_int_equal(da_vec_try_reserve_exact(other, other->cap - other->len + 1), 0);
    size_t len = v->len;
    void *before = v->data;
    assert_int_equal(da_vec_extend(v, v->data, len), 0); /* the whole vector */
    assert_int_equal(v->len, 2 * len);
    if (other)
        assert_ptr_not_equal(v->data, before);
    else
        assert_ptr_equal(v->data, before);
    for (size_t i = 0; i < len; i++) {
        assert_rec(v, i, i);
        assert_rec(v, len + i, i);
    }
    if (other) /* once more for a slice from the middle */
        assert_int_equal(da_vec_try_reserve_exact(other, other->cap - other->len + 1), 0);
    while (v->cap - v->len >= 5) {
        rec r = make(v->len);
        assert_int_equal(da_vec_push(v, &r), 0);
    }
    size_t at = v->len;
    before = v->data;
    assert_int_equal(da_vec_extend(v, da_vec_at(v, 10), 5), 0);
    if (other)
        assert_ptr_not_equal(v->data, before);
    for (size_t i = 0; i < 5; i++)
        assert_rec(v, at + i, 10 + i);
}

static void extend_from_itself(void **state)
{
    (void)state;
    da_vec v, other;
    da_arena *a;
    assert_int_equal(da_vec_init(&v, sizeof(rec), NULL), 0);
    check_extend_from_self(&v, 3000, NULL);
    assert_int_equal(da_vec_close(&v), 0);

    /* shared arena, another block after ours: the growth moves the vector */
    assert_int_equal(da_arena_open(&a, NULL), 0);
    assert_int_equal(da_vec_init_in(&v, sizeof(rec), a), 0);
    assert_int_equal(da_vec_init_in(&other, 8, a), 0);
    rec r = make(0);
    assert_int_equal(da_vec_push(&v, &r), 0);
    uint64_t marker = 0xfeedfacecafebeefull;
    assert_int_equal(da_vec_push(&other, &marker), 0);
    void *first = v.data;
    da_vec_truncate(&v, 0);
    check_extend_from_self(&v, 3000, &other);
    assert_ptr_not_equal(v.data, first);
    assert_memory_equal(other.data, &marker, 8);
    assert_int_equal(da_vec_close(&v), 0);
    assert_int_equal(da_vec_close(&other), 0);
    assert_int_equal(da_arena_close(a), 0);
}

static void reserve_amortized_and_exact(void **state)
{
    (void)state;
    da_vec v;
    assert_int_equal(da_vec_init(&v, 8, NULL), 0);
    void *data = v.data;
    assert_int_equal(da_vec_try_reserve(&v, 1), 0);
    assert_int_equal(v.cap, (64 << 10) / 8); /* the first step: 64 KiB */
    assert_int_equal(v.len, 0);
    assert_int_equal(da_arena_size(da_vec_arena(&v)), 64 << 10);
    size_t cap = v.cap;
    t_snap s;
    t_snap_take(&s, da_vec_arena(&v), &v);
    assert_int_equal(da_vec_try_reserve(&v, cap), 0); /* fits: nothing changes */
    assert_int_equal(da_vec_try_reserve_exact(&v, cap), 0);
    t_snap_same(&s, da_vec_arena(&v), &v);
    assert_int_equal(da_vec_try_reserve(&v, cap + 1), 0); /* doubles */
    assert_int_equal(v.cap, 2 * cap);
    assert_int_equal(da_vec_try_reserve(&v, 2 * cap + 1), 0);
    assert_int_equal(v.cap, 4 * cap);
    /* far beyond doubling: exactly what was asked, in pages */
    assert_int_equal(da_vec_try_reserve(&v, 100 * cap + 3), 0);
    assert_int_equal(v.cap, (((100 * cap + 3) * 8 + page - 1) / page * page) / 8);
    assert_int_equal(da_vec_try_reserve_exact(&v, 200 * cap + 1), 0);
    assert_int_equal(v.cap, (((200 * cap + 1) * 8 + page - 1) / page * page) / 8);
    assert_ptr_equal(v.data, data);
    assert_int_equal(da_arena_size(da_vec_arena(&v)), v.cap * 8);
    assert_int_equal(da_vec_close(&v), 0);

    /* an element size that does not divide the page: capacity rounds down */
    assert_int_equal(da_vec_init(&v, 3, NULL), 0);
    assert_int_equal(da_vec_try_reserve_exact(&v, 5), 0);
    assert_int_equal(v.cap, page / 3);
    assert_int_equal(da_vec_close(&v), 0);
}

static void reserve_errors_change_nothing(void **state)
{
    (void)state;
    da_config c = t_config(96 << 10, NULL);
    da_vec v;
    assert_int_equal(da_vec_init(&v, 8, &c), 0);
    for (uint64_t i = 0; i < 100; i++)
        assert_int_equal(da_vec_push(&v, &i), 0);
    t_snap s;
    t_snap_take(&s, da_vec_arena(&v), &v);
    assert_int_equal(da_vec_try_reserve(&v, SIZE_MAX), DA_EOVERFLOW);
    assert_int_equal(da_vec_try_reserve_exact(&v, SIZE_MAX - 50), DA_EOVERFLOW);
    assert_int_equal(da_vec_try_reserve(&v, SIZE_MAX / 8), DA_EOVERFLOW);
    assert_int_equal(da_vec_try_reserve(&v, (96 << 10) / 8), DA_ECAPACITY);
    assert_int_equal(da_vec_try_reserve_exact(&v, (96 << 10) / 8), DA_ECAPACITY);
    assert_int_equal(da_vec_extend(&v, v.data, SIZE_MAX / 4), DA_EOVERFLOW);
    t_snap_same(&s, da_vec_arena(&v), &v);

    /* fill the first 64 KiB step; the doubled step does not fit in 96 KiB:
     * the amortized reserve settles for a smaller one that does */
    while (v.len < v.cap) {
        uint64_t x = v.len;
        assert_int_equal(da_vec_push_fast(&v, &x), 0);
    }
    assert_int_equal(v.cap, (64 << 10) / 8);
    uint64_t x = 42;
    assert_int_equal(da_vec_push(&v, &x), 0);
    assert_true(v.cap > (64 << 10) / 8 && v.cap <= (96 << 10) / 8);
    while (da_vec_push(&v, &x) == 0) {
    }
    assert_int_equal(v.cap, (96 << 10) / 8); /* the whole reservation, then DA_ECAPACITY */
    t_snap_take(&s, da_vec_arena(&v), &v);
    assert_int_equal(da_vec_push(&v, &x), DA_ECAPACITY);
    assert_int_equal(da_vec_push_fast(&v, &x), DA_ECAPACITY);
    t_snap_same(&s, da_vec_arena(&v), &v);
    for (uint64_t i = 0; i < 100; i++)
        assert_int_equal(*(uint64_t *)da_vec_at(&v, i), i);
    assert_int_equal(da_vec_close(&v), 0);
}

static void shrink_to_fit_releases_blocks(void **state)
{
    (void)state;
    da_vec v;
    const size_t n = (size_t)1 << 20; /* 8 MiB */
    assert_int_equal(da_vec_init(&v, 8, NULL), 0);
    void *data = v.data;
    assert_int_equal(da_vec_try_reserve_exact(&v, n), 0);
    for (uint64_t i = 0; i < n; i++)
        assert_int_equal(da_vec_push_fast(&v, &i), 0);
    assert_true(file_bytes(&v) >= (long long)(n * 8));
    assert_int_equal(da_vec_shrink_to_fit(&v), 0); /* already fits: nothing to do */
    assert_int_equal(v.cap, n);

    da_vec_truncate(&v, 1000);
    assert_int_equal(da_vec_shrink_to_fit(&v), 0);
    size_t bytes = (8000 + page - 1) / page * page;
    assert_int_equal(v.cap, bytes / 8);
    assert_int_equal(da_arena_size(da_vec_arena(&v)), bytes);
    assert_true(file_bytes(&v) <= (long long)bytes + (64 << 10));
    assert_ptr_equal(v.data, data);
    for (uint64_t i = 0; i < 1000; i++)
        assert_int_equal(*(uint64_t *)da_vec_at(&v, i), i);

    da_vec_truncate(&v, 0);
    assert_int_equal(da_vec_shrink_to_fit(&v), 0);
    assert_int_equal(v.cap, 0);
    assert_int_equal(da_arena_size(da_vec_arena(&v)), 0);
    assert_ptr_equal(v.data, data); /* an empty own vector keeps its address */
    uint64_t x = 5;
    assert_int_equal(da_vec_push(&v, &x), 0);
    assert_ptr_equal(v.data, data);
    assert_int_equal(*(uint64_t *)v.data, 5);
    assert_int_equal(da_vec_close(&v), 0);
}

static void two_vectors_share_an_arena(void **state)
{
    (void)state;
    da_arena *a;
    da_vec v, w;
    assert_int_equal(da_arena_open(&a, NULL), 0);
    assert_int_equal(da_vec_init_in(&v, 8, a), 0);
    assert_int_equal(da_vec_init_in(&w, sizeof(rec), a), 0);
    assert_ptr_equal(da_vec_arena(&v), a);
    assert_ptr_equal(da_vec_arena(&w), a);
    assert_null(v.data);
    const size_t n = 20000;
    int v_moved = 0;
    for (uint64_t i = 0; i < n; i++) {
        void *before = v.data;
        assert_int_equal(da_vec_push(&v, &i), 0);
        v_moved += before && v.data != before;
        rec r = make(i);
        assert_int_equal(da_vec_push(&w, &r), 0);
    }
    assert_true(v_moved > 0); /* growing a block that is not last moved it */
    unsigned char *base = da_arena_base(a);
    assert_true((unsigned char *)v.data >= base && (unsigned char *)w.data >= base);
    for (uint64_t i = 0; i < n; i++) {
        assert_int_equal(*(uint64_t *)da_vec_at(&v, i), i);
        assert_rec(&w, i, i);
    }
    /* the blocks do not overlap */
    uintptr_t v0 = (uintptr_t)v.data, v1 = v0 + v.cap * 8;
    uintptr_t w0 = (uintptr_t)w.data, w1 = w0 + w.cap * sizeof(rec);
    assert_true(v1 <= w0 || w1 <= v0);
    assert_int_equal(da_vec_close(&v), 0);
    for (uint64_t i = 0; i < n; i++)
        assert_rec(&w, i, i);
    rec r = make(n);
    assert_int_equal(da_vec_push(&w, &r), 0);
    assert_int_equal(da_vec_close(&w), 0);
    assert_int_equal(da_arena_close(a), 0);
}

int main(void)
{
    t_main_init();
    page = (size_t)sysconf(_SC_PAGESIZE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(push_at_pop),
        cmocka_unit_test(truncate_keeps_capacity),
        cmocka_unit_test(extend_from_itself),
        cmocka_unit_test(reserve_amortized_and_exact),
        cmocka_unit_test(reserve_errors_change_nothing),
        cmocka_unit_test(shrink_to_fit_releases_blocks),
        cmocka_unit_test(two_vectors_share_an_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
