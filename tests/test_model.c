/* Model test, a port of the diskallocator crate's random_operations test:
 * random push / push_fast / pop / extend (also from itself) / reserve /
 * reserve_exact / truncate / shrink_to_fit against a plain in-memory array,
 * compared after every operation (length, capacity, the touched elements) and
 * in full every 4096 operations and at the end.  Seeded: prints "seed = N";
 * STRESS_SEED=N replays, MODEL_OPS=N sets the count (default 1,000,000). */
#include "common.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static size_t max_len; /* elements: keeps compares and moves cheap */

static uint64_t seed, ops, total_ops; /* ops: this variant's count */
static size_t page;

static uint64_t rnd(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t *s, uint64_t n) { return n ? rnd(s) % n : 0; }

typedef struct model {
    unsigned char *bytes;
    size_t len, es;
} model;

static void replay_fail(uint64_t op, const char *what, const char *detail)
{
    print_error("op %ju: %s: %s\nreplay: STRESS_SEED=%ju MODEL_OPS=%ju build/tests/test_model\n",
                (uintmax_t)op, what, detail, (uintmax_t)seed, (uintmax_t)total_ops);
    fail();
}

#define EXPECT(cond, op, what)                                                             \
    do {                                                                                   \
        if (!(cond))                                                                       \
            replay_fail(op, what, #cond);                                                  \
    } while (0)

static void compare(const da_vec *v, const model *m, size_t from, size_t to, uint64_t op,
                    const char *what)
{
    if (to > m->len)
        to = m->len;
    if (from < to &&
        memcmp((unsigned char *)v->data + from * m->es, m->bytes + from * m->es,
               (to - from) * m->es) != 0) {
        char d[96];
        snprintf(d, sizeof d, "elements [%zu, %zu) differ from the model", from, to);
        replay_fail(op, what, d);
    }
}

/* Run `ops` random operations on v (in its own arena, or sharing one with
 * `other`, which grows now and then so that v's block moves). */
static uint64_t self_moves; /* extends from itself that moved the vector */

static void run_model(da_vec *v, da_vec *other, int big_extends, uint64_t rng)
{
    model m = {malloc(max_len * 2 * v->elem_size), 0, v->elem_size};
    unsigned char *elems = malloc(64 * m.es), *out = malloc(m.es);
    assert_non_null(m.bytes);
    void *home = v->data;
    for (uint64_t op = 0; op < ops; op++) {
        uint64_t r = below(&rng, 100), n;
        size_t before = m.len;
        const char *what;
        int e = 0;
        for (size_t i = 0; i < 64 * m.es; i++)
            elems[i] = (unsigned char)rnd(&rng);
        if (m.len >= max_len)
            r = 99; /* truncate */
        if (r < 35) {
            what = "push";
            e = da_vec_push(v, elems);
            memcpy(m.bytes + m.len++ * m.es, elems, m.es);
        } else if (r < 45) {
            what = "push_fast";
            e = da_vec_push_fast(v, elems);
            memcpy(m.bytes + m.len++ * m.es, elems, m.es);
        } else if (r < 60) {
            what = "pop";
            e = da_vec_pop(v, out);
            if (m.len == 0) {
                EXPECT(e == DA_EEMPTY, op, what);
                e = 0;
            } else {
                m.len--;
                EXPECT(e != 0 || memcmp(out, m.bytes + m.len * m.es, m.es) == 0, op, what);
            }
        } else if (r < 70) {
            n = below(&rng, 65);
            if (m.len && below(&rng, 2)) { /* the model has room: len + n < 2 * max_len */
                what = "extend from itself";
                size_t at = below(&rng, m.len);
                if (big_extends && below(&rng, 4) == 0) /* large enough to need growth */
                    n = below(&rng, m.len + 1);
                n = n > m.len - at ? m.len - at : n;
                void *was = v->data;
                e = da_vec_extend(v, (unsigned char *)v->data + at * m.es, n);
                self_moves += v->data != was;
                memmove(m.bytes + m.len * m.es, m.bytes + at * m.es, n * m.es);
            } else {
                what = "extend";
                e = da_vec_extend(v, elems, n);
                memcpy(m.bytes + m.len * m.es, elems, n * m.es);
            }
            m.len += n;
        } else if (r < 78) {
            what = "reserve";
            n = below(&rng, 5000);
            e = da_vec_try_reserve(v, n);
            EXPECT(e != 0 || v->cap >= m.len + n, op, what);
        } else if (r < 85) {
            what = "reserve_exact";
            n = below(&rng, 5000);
            e = da_vec_try_reserve_exact(v, n);
            EXPECT(e != 0 || v->cap >= m.len + n, op, what);
        } else if (r < 90) {
            what = "shrink_to_fit";
            e = da_vec_shrink_to_fit(v);
            size_t fit = (m.len * m.es + page - 1) / page * page / m.es;
            EXPECT(e != 0 || v->cap == fit, op, what);
        } else {
            what = "truncate";
            /* mostly a few elements: a uniform cut would keep len near zero */
            size_t to = below(&rng, 16) ? m.len - below(&rng, m.len / 4 + 2) : below(&rng, m.len + 1);
            to = to > m.len ? 0 : to;
            da_vec_truncate(v, to);
            if (to < m.len)
                m.len = to;
        }
        EXPECT(e == 0, op, what);
        EXPECT(v->len == m.len, op, what);
        EXPECT(v->cap >= v->len, op, what);
        EXPECT(!v->own_arena_ || v->data == home, op, "data pointer moved in an own arena");
        /* the elements this op wrote or read, and the one before them */
        size_t lo = before < m.len ? before : m.len;
        compare(v, &m, lo ? lo - 1 : 0, before > m.len ? before : m.len, op, what);
        if (op % 4096 == 0 || op + 1 == ops)
            compare(v, &m, 0, m.len, op, "full compare");
        if (other && below(&rng, 32) == 0) {
            /* the neighbour grows past its capacity: it moves to the end, so
             * v is no longer last and its next growth moves it */
            uint64_t x = op;
            assert_int_equal(da_vec_try_reserve_exact(other, other->cap - other->len + 1), 0);
            assert_int_equal(da_vec_push(other, &x), 0);
        }
    }
    free(m.bytes);
    free(elems);
    free(out);
}

static void own_arena(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 3, 8, 24};
    uint64_t rng = seed;
    size_t es = sizes[below(&rng, 4)];
    print_message("# own arena, element size %zu, %ju ops\n", es, (uintmax_t)ops);
    da_config c = t_config(0, t_fast_dir());
    da_vec v;
    max_len = (size_t)1 << 16;
    assert_int_equal(da_vec_init(&v, es, &c), 0);
    run_model(&v, NULL, 0, rng);
    assert_int_equal(da_vec_close(&v), 0);
}

static void shared_arena(void **state)
{
    (void)state;
    uint64_t rng = seed ^ 0x5bd1e995;
    size_t es = 8;
    uint64_t all = ops;
    /* every move leaves its old range behind (holes are never reused), so the
     * sparse file keeps growing and the kernel's cost with it: 50k ops here */
    ops = ops / 20 ? ops / 20 : 1;
    print_message("# shared arena, element size %zu, %ju ops\n", es, (uintmax_t)ops);
    da_config c = t_config(0, t_fast_dir());
    da_arena *a;
    max_len = (size_t)1 << 12; /* every growth copies the block here */
    da_vec v, other;
    assert_int_equal(da_arena_open(&a, &c), 0);
    assert_int_equal(da_vec_init_in(&v, es, a), 0);
    assert_int_equal(da_vec_init_in(&other, 8, a), 0);
    self_moves = 0;
    run_model(&v, &other, 1, rng);
    print_message("# %ju extends from itself moved the vector\n", (uintmax_t)self_moves);
    assert_true(ops < 20000 || self_moves > 0); /* the case this variant exists for */
    assert_true(other.len > 0);
    for (size_t i = 1; i < other.len; i++) /* the neighbour's pushes survived the moves */
        assert_true(*(uint64_t *)da_vec_at(&other, i - 1) < *(uint64_t *)da_vec_at(&other, i));
    ops = all;
    assert_int_equal(da_vec_close(&v), 0);
    assert_int_equal(da_vec_close(&other), 0);
    assert_int_equal(da_arena_close(a), 0);
}

int main(void)
{
    t_main_init();
    page = (size_t)sysconf(_SC_PAGESIZE);
    const char *s = getenv("STRESS_SEED"), *n = getenv("MODEL_OPS");
    seed = s && *s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    ops = total_ops = n && *n ? strtoull(n, NULL, 0) : 1000000;
    printf("# seed = %ju\n", (uintmax_t)seed);
    fflush(stdout);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(own_arena),
        cmocka_unit_test(shared_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
