/* What the unit tests share: the "on failure nothing changes" snapshot,
 * process-resource counters (/proc/self/maps lines, open fds), fail-point
 * arming over libfiu, scratch directories and forked children.
 *
 * Code that runs in a forked child must not use cmocka's assertions (they
 * would longjmp into the child's copy of the runner): it uses C_CHECK and
 * returns an exit code instead. */
#ifndef TESTS_COMMON_H
#define TESTS_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "diskalloc.h"

/* ---- process resources ---------------------------------------------------- */
int t_maps_count(void);                  /* shared mappings in /proc/self/maps */
int t_fd_count(void);                    /* open descriptors of this process */
size_t t_mapping_len(const void *start); /* the mapping that starts at start, 0 if none */
int t_mappings_in(const void *p, size_t len); /* mappings overlapping [p, p + len) */
/* Descriptors open on the file mapped at the arena's base; returns how many,
 * storing up to max of them in fds. */
int t_arena_fds(const da_arena *a, int *fds, int max);
void t_arena_stat(const da_arena *a, struct stat *st); /* asserts the file is found */
uint64_t t_hash(const void *p, size_t n);

/* ---- the snapshot of everything a failed call must leave alone -------------- */
typedef struct t_snap {
    void *base, *data;
    size_t size, reserved, mapping, len, cap;
    int error, maps, fds;
    long long file_size;
    uint64_t file_hash, vec_hash;
} t_snap;
/* a and v may be NULL: a failed open then still must not leak maps or fds. */
void t_snap_take(t_snap *s, const da_arena *a, const da_vec *v);
/* Nonzero when something changed, described in why: for forked children. */
int t_snap_diff(const t_snap *before, const da_arena *a, const da_vec *v, char *why, size_t n);
void t_snap_check(const t_snap *before, const da_arena *a, const da_vec *v, const char *file,
                  int line);
#define t_snap_same(before, a, v) t_snap_check(before, a, v, __FILE__, __LINE__)

/* Every test main calls this first: fail points ready, and TEST_FILTER=glob
 * runs only the matching tests. */
void t_main_init(void);

/* ---- fail points (libfiu) ------------------------------------------------------ */
void t_fiu_init(void);                           /* fiu_init(0) once */
void t_fail_once(const char *point, int err);    /* the next reach fails */
void t_fail_always(const char *point, int err);  /* every reach fails */
void t_fail_nth(const char *point, int err, unsigned n); /* only the nth reach fails */
/* At the nth reach of point, fn(arg) runs first: what another thread or
 * process does between two steps of the core, made deterministic.  The point
 * then fails with err, or not at all when err is 0.  fn must not use libfiu
 * or the library (libfiu's lock is held). */
void t_meanwhile(const char *point, unsigned n, void (*fn)(void *), void *arg, int err);
void t_count(const char *point);                 /* count reaches, fail none */
unsigned t_reached(const char *point);           /* reaches since armed (nth/count) */
void t_fail_off(void);                           /* disarm every diskalloc point */

/* ---- files, directories, children ------------------------------------------------ */
/* A fresh empty directory under $TMPDIR or /var/tmp; t_rm_rf removes it. */
void t_scratch(char *dir, size_t n);
void t_rm_rf(const char *dir);
int t_dir_entries(const char *dir); /* names other than . and .. */
long long t_path_size(const char *path); /* -1 if missing */
uint64_t t_path_hash(const char *path);
void t_write_file(const char *path, const void *p, size_t n);

void t_copy_file(const char *from, const char *to); /* read through the page cache */

/* The persistent file's header as documented (issue 9, C11), written by the
 * tests themselves so a core that misreads its own format cannot agree with
 * itself: copy A at 0, copy B at 512 (format 1) or 4096 (format 2). */
typedef struct t_vec_header {
    unsigned char magic[8]; /* "DAVEC\0\1\0" */
    uint32_t version, header_size;
    uint64_t elem_size, len, data_off, seq, sum;
} t_vec_header;
uint64_t t_header_sum(const t_vec_header *h); /* FNV-1a 64 of the bytes before sum */

/* Soft checks: a test that walks many cases reports each failing one and
 * goes on, then fails at its end (T_SOFT_END) with the count. */
extern int t_soft_failures; /* reset by t_soft_reset in the test's setup */
#define T_SOFT_FAIL(...)                                                                 \
    do {                                                                                 \
        print_error(__VA_ARGS__);                                                        \
        print_error("\n");                                                               \
        t_soft_failures++;                                                               \
    } while (0)
void t_soft_reset(void);
void t_soft_end(void); /* fails the test when a soft check failed */

/* Run fn(arg) in a forked child; returns its wait status. */
void t_child_init(void); /* first thing in any forked child: default fatal signals */
int t_child(int (*fn)(void *), void *arg);
void t_child_exit(int code); /* _exit, after flushing coverage counters */
/* The status of a child that exited with code 0. */
#define T_CHILD_OK(status) (WIFEXITED(status) && WEXITSTATUS(status) == 0)
void t_assert_child_ok(int status, const char *what);

#define C_CHECK(cond)                                                                    \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: child check failed: %s\n", __FILE__, __LINE__, #cond); \
            return 1;                                                                    \
        }                                                                                \
    } while (0)

/* A skipped test says why (cmocka's skip() takes no message); tests/run-tap.sh
 * turns cmocka's "not ok N # SKIP" into a TAP skip line carrying the reason. */
#define T_SKIP(...)                                                                      \
    do {                                                                                 \
        printf("# SKIP: ");                                                              \
        printf(__VA_ARGS__);                                                             \
        printf("\n");                                                                    \
        fflush(stdout);                                                                  \
        skip();                                                                          \
    } while (0)

/* An all-defaults config whose reservation is explicit: tests that depend on
 * the reserve set it, the others follow DISKALLOC_RESERVE (valgrind runs). */
da_config t_config(size_t reserve, const char *dir);

/* A tmpfs directory (/dev/shm) where one exists, else NULL (the default):
 * for loops of many resizes whose subject is not the file system (ext4
 * truncation costs ~150 us each here, tmpfs ~5 us). */
const char *t_fast_dir(void);

/* Running under valgrind: a 512 GiB reservation is refused there. */
int t_under_valgrind(void);

#endif
