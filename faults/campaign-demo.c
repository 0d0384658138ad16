/* campaign-demo — the example program faults/campaign runs in `make check`.
 *
 *   campaign-demo run PATH N [EVERY]   push N elements into a temporary da_vec,
 *       check them, then push N elements into the persistent vector at PATH,
 *       syncing every EVERY elements (default N/4) and at the end
 *   campaign-demo verify PATH          check what PATH holds
 *
 * `run` exits 0, or 1 with a message on stderr naming the failed call.  After
 * each successful sync it appends the synced length to PATH.log; a plain
 * write is enough, since the campaign kills processes, not the kernel.
 * A temporary vector whose contents are wrong in memory is data loss that no
 * later check could see: `run` records it in PATH.corrupt.
 *
 * `verify` exits 0 when PATH is absent and no sync was logged, or holds a
 * consistent prefix: every element i < len has its value, and len is at least
 * the last logged synced length.  Else it prints why and exits 1.
 */
#define _POSIX_C_SOURCE 200809L
#include "diskalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t value(uint64_t i) { return (i + 1) * 0x9E3779B97F4A7C15u; }

static int fail(const char *what, int err)
{
    fprintf(stderr, "campaign-demo: %s: %s\n", what, da_strerror(err));
    return 1;
}

static void note(const char *path, const char *suffix, const char *line)
{
    char name[4096];
    snprintf(name, sizeof name, "%s%s", path, suffix);
    int fd = open(name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line))
        fprintf(stderr, "campaign-demo: cannot write %s: %s\n", name, strerror(errno));
    if (fd >= 0)
        close(fd);
}

static int temp_vector(const char *path, size_t n)
{
    da_vec v;
    int err = da_vec_init(&v, sizeof(uint64_t), NULL);
    if (err)
        return fail("da_vec_init", err);
    for (size_t i = 0; i < n && !err; i++) {
        uint64_t x = value(i);
        err = da_vec_push(&v, &x);
    }
    if (err) {
        da_vec_close(&v);
        return fail("da_vec_push (temporary vector)", err);
    }
    for (size_t i = 0; i < n; i++) {
        const uint64_t *p = da_vec_at(&v, i);
        if (!p || *p != value(i)) {
            char line[128];
            snprintf(line, sizeof line, "temporary vector: element %zu of %zu is wrong\n", i, n);
            note(path, ".corrupt", line);
            fprintf(stderr, "campaign-demo: %s", line);
            da_vec_close(&v);
            return 1;
        }
    }
    err = da_vec_close(&v);
    return err ? fail("da_vec_close (temporary vector)", err) : 0;
}

static int persistent_vector(const char *path, size_t n, size_t every)
{
    da_vec v;
    int err = da_vec_open(&v, path, sizeof(uint64_t), NULL);
    if (err)
        return fail("da_vec_open", err);
    size_t start = v.len; /* a fresh file is empty; a reopened one continues */
    for (size_t i = start; i < start + n; i++) {
        uint64_t x = value(i);
        if ((err = da_vec_push(&v, &x)) != 0) {
            fail("da_vec_push", err);
            break;
        }
        if ((i + 1 - start) % every == 0 || i + 1 == start + n) {
            if ((err = da_vec_sync(&v)) != 0) {
                fail("da_vec_sync", err);
                break;
            }
            char line[64];
            snprintf(line, sizeof line, "synced %zu\n", v.len);
            note(path, ".log", line);
        }
    }
    int cerr = da_vec_close(&v);
    if (cerr)
        fail("da_vec_close", cerr);
    return err || cerr;
}

/* The largest length a successful sync reported, from PATH.log. */
static size_t last_synced(const char *path)
{
    char name[4096];
    snprintf(name, sizeof name, "%s.log", path);
    FILE *f = fopen(name, "r");
    size_t best = 0, len;
    if (!f)
        return 0;
    while (fscanf(f, "synced %zu\n", &len) == 1)
        if (len > best)
            best = len;
    fclose(f);
    return best;
}

static int verify(const char *path)
{
    char name[4096];
    struct stat st;
    snprintf(name, sizeof name, "%s.corrupt", path);
    if (stat(name, &st) == 0) {
        fprintf(stderr, "verify: %s exists: the run saw corrupt data in memory\n", name);
        return 1;
    }
    size_t synced = last_synced(path);
    if (stat(path, &st) != 0) {
        if (synced == 0)
            return 0;
        fprintf(stderr, "verify: %s is gone, but %zu elements were synced\n", path, synced);
        return 1;
    }
    da_vec v;
    int err = da_vec_open(&v, path, sizeof(uint64_t), NULL);
    if (err) {
        fprintf(stderr, "verify: cannot reopen %s (%zu elements synced): %s\n", path, synced,
                da_strerror(err));
        return 1;
    }
    int bad = 0;
    if (v.len < synced) {
        fprintf(stderr, "verify: %s holds %zu elements, %zu were synced\n", path, v.len, synced);
        bad = 1;
    }
    for (size_t i = 0; i < v.len && !bad; i++) {
        const uint64_t *p = da_vec_at(&v, i);
        if (!p || *p != value(i)) {
            fprintf(stderr, "verify: %s: element %zu of %zu is wrong\n", path, i, v.len);
            bad = 1;
        }
    }
    size_t len = v.len;
    da_vec_close(&v); /* a verifier only reads: a sync error here is not the run's */
    if (!bad)
        printf("verify: %s holds a consistent prefix of %zu elements (%zu synced)\n", path,
               len, synced);
    return bad;
}

static size_t count(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno || *end || n == 0 || n > SIZE_MAX / 2) {
        fprintf(stderr, "campaign-demo: '%s' is not a positive count\n", s);
        exit(2);
    }
    return (size_t)n;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "verify") == 0)
        return verify(argv[2]);
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "run") == 0) {
        size_t n = count(argv[3]);
        size_t every = argc == 5 ? count(argv[4]) : (n + 3) / 4;
        int r = temp_vector(argv[2], n);
        return r ? r : persistent_vector(argv[2], n, every);
    }
    fprintf(stderr, "usage: %s run PATH N [EVERY] | verify PATH\n", argv[0]);
    return 2;
}
