/* da_strerror says what the library did (contracts C12, C13 of issue 9):
 * every DA_E* code (DA_EFORKED included) has a text naming it; the errnos a
 * failed sync poisons the arena with (EINTR, EIO, ENOSPC, EDQUOT) have texts
 * that tell the poisoned case (da_arena_error) from the growth case, where
 * nothing changed; the ENOMEM text names the address space only when this
 * thread's last ENOMEM came from a reservation; da_arena_error(NULL) is
 * DA_EINVAL. */
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

static size_t page;

static void every_code_names_itself(void **state)
{
    (void)state;
    static const struct { int code; const char *name; } codes[] = {
        {DA_ECAPACITY, "DA_ECAPACITY"}, {DA_EOVERFLOW, "DA_EOVERFLOW"},
        {DA_EBADFILE, "DA_EBADFILE"},   {DA_EPOISONED, "DA_EPOISONED"},
        {DA_EEMPTY, "DA_EEMPTY"},       {DA_EINVAL, "DA_EINVAL"},
#ifdef DA_EFORKED
        {DA_EFORKED, "DA_EFORKED"},
#endif
    };
    char unknown[1024];
    snprintf(unknown, sizeof unknown, "%s", da_strerror(-30899));
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *t = da_strerror(codes[i].code);
        assert_non_null(t);
        if (!strstr(t, codes[i].name) || strcmp(t, unknown) == 0)
            fail_msg("da_strerror(%d) does not name %s: \"%s\"", codes[i].code, codes[i].name, t);
    }
}

/* C4 adds DA_EFORKED = -30807; a header without it fails here, visibly. */
static void eforked_exists(void **state)
{
    (void)state;
#ifdef DA_EFORKED
    assert_int_equal(DA_EFORKED, -30807);
#else
    fail_msg("DA_EFORKED is not defined in diskalloc.h (contract C4: -30807)");
#endif
}

static da_arena *small_arena(void)
{
    da_config c = t_config(16 * page, t_fast_dir());
    da_arena *a;
    assert_int_equal(da_arena_open(&a, &c), 0);
    assert_int_equal(da_arena_resize(a, page), 0);
    return a;
}

/* The text of err must let the reader tell which case they are in: the
 * arena poisoned by a failed sync (da_arena_error() returns err), or a
 * failed growth that changed nothing.  Each case is produced here first, so
 * the check is about a state the library really reaches. */
static void check_sync_errno(int err, const char *name)
{
    da_arena *a = small_arena();
    t_fail_once("diskalloc/fsync", err);
    assert_int_equal(da_arena_sync(a), err);
    t_fail_off();
    assert_int_equal(da_arena_error(a), err); /* poisoned by the sync */
    assert_int_equal(da_arena_close(a), err);

    a = small_arena();
    t_fail_once("diskalloc/fallocate", err);
    assert_int_equal(da_arena_resize(a, 2 * page), err);
    t_fail_off();
    assert_int_equal(da_arena_error(a), 0); /* from growth: nothing changed */
    assert_int_equal(da_arena_size(a), page);
    assert_int_equal(da_arena_close(a), 0);

    const char *t = da_strerror(err);
    if (!strstr(t, "da_arena_error") || !strstr(t, "sync"))
        fail_msg("%s: the text does not tell a failed sync (arena poisoned, da_arena_error() "
                 "returns it) from a failed growth (nothing changed): \"%s\"",
                 name, t);
}

static void eintr_text_conditional(void **state)
{
    (void)state;
    check_sync_errno(EINTR, "EINTR");
}

static void eio_text_conditional(void **state)
{
    (void)state;
    check_sync_errno(EIO, "EIO");
}

/* fsync reports a full disk too (thin provisioning, NFS, ...): the same
 * poisoned state, which "the call changed nothing" would deny. */
static void enospc_edquot_text_conditional(void **state)
{
    (void)state;
    check_sync_errno(ENOSPC, "ENOSPC");
    check_sync_errno(EDQUOT, "EDQUOT");
}

/* ---- C13: the ENOMEM text is about this thread's last ENOMEM ------------------------- */

/* An arena open that cannot reserve its range: ENOMEM from the mmap. */
static int failed_reservation(void)
{
    da_config c = t_config((size_t)1 << 60, t_fast_dir());
    da_arena *a;
    return da_arena_open(&a, &c);
}

static void *reserve_in_thread(void *arg)
{
    *(int *)arg = failed_reservation();
    return NULL;
}

static void enomem_text_is_current(void **state)
{
    (void)state;
    da_arena *a = small_arena(); /* opened before: its growth fails later */
    int e = failed_reservation();
    if (e != ENOMEM) {
        assert_int_equal(da_arena_close(a), 0);
        T_SKIP("a 2^60-byte reservation gave %d here, not ENOMEM", e);
    }
    int named = strstr(da_strerror(ENOMEM), "address space") != NULL;

    /* a later, unrelated ENOMEM in this thread: growing a file */
    t_fail_once("diskalloc/fallocate", ENOMEM);
    int grow = da_arena_resize(a, 2 * page);
    t_fail_off();
    char later[1024];
    snprintf(later, sizeof later, "%s", da_strerror(ENOMEM));
    assert_int_equal(da_arena_close(a), 0); /* before any verdict: nothing left mapped */
    assert_int_equal(grow, ENOMEM);
    if (!named)
        fail_msg("after a failed reservation the ENOMEM text does not name the address space");
    if (strstr(later, "address space"))
        fail_msg("an ENOMEM from growth after an earlier failed reservation still names the "
                 "address space: \"%s\"",
                 later);

    /* an ENOMEM from memory, not address space, in an open */
    assert_int_equal(failed_reservation(), ENOMEM);
    t_fail_once("diskalloc/calloc", ENOMEM);
    da_config c = t_config(16 * page, t_fast_dir());
    assert_int_equal(da_arena_open(&a, &c), ENOMEM);
    t_fail_off();
    assert_null(strstr(da_strerror(ENOMEM), "address space"));

    /* another thread's failed reservation is not this thread's */
    pthread_t th;
    int other = 0;
    assert_int_equal(pthread_create(&th, NULL, reserve_in_thread, &other), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(other, ENOMEM);
    assert_null(strstr(da_strerror(ENOMEM), "address space"));
}

static void arena_error_of_null(void **state)
{
    (void)state;
    assert_int_equal(da_arena_error(NULL), DA_EINVAL);
}

int main(void)
{
    t_main_init();
    page = (size_t)sysconf(_SC_PAGESIZE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_names_itself),
        cmocka_unit_test(eforked_exists),
        cmocka_unit_test(eintr_text_conditional),
        cmocka_unit_test(eio_text_conditional),
        cmocka_unit_test(enospc_edquot_text_conditional),
        cmocka_unit_test(enomem_text_is_current),
        cmocka_unit_test(arena_error_of_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
