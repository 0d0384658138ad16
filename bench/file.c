/* The file contenders: serializing the same u64s with write(2) through a
 * 1 MiB buffer (the "write a file instead" baseline), read back with
 * read(2)/pread(2); and dd, sequential write(2) of a constant 1 MiB block,
 * the file system's own limit.  Files are unnamed temp files in the same
 * directory as the vectors', so closing one discards its pages as closing
 * a vector does. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int fd;
    unsigned char *buf; /* BENCH_IO bytes */
    size_t fill;        /* bytes waiting in buf */
} handle;

static int temp_fd(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
        return fd;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/bench-XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static int write_all(int fd, const void *p, size_t n)
{
    for (const unsigned char *q = p; n > 0;) {
        ssize_t w = write(fd, q, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        q += w;
        n -= (size_t)w;
    }
    return 0;
}

static int pread_all(int fd, void *p, size_t n, off_t off)
{
    for (unsigned char *q = p; n > 0;) {
        ssize_t r = pread(fd, q, n, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? errno : EIO;
        q += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

static int f_open(void **h, size_t n, const char *dir)
{
    (void)n;
    handle *d = calloc(1, sizeof *d);
    if (!d)
        return ENOMEM;
    d->buf = malloc(BENCH_IO);
    d->fd = d->buf ? temp_fd(dir) : -1;
    if (d->fd < 0) {
        int e = d->buf ? errno : ENOMEM;
        free(d->buf);
        free(d);
        return e;
    }
    *h = d;
    return 0;
}

static int f_close(void *h)
{
    handle *d = h;
    int e = close(d->fd) != 0 ? errno : 0;
    free(d->buf);
    free(d);
    return e;
}

static int f_push(void *h, size_t n)
{
    handle *d = h;
    uint64_t *b = (uint64_t *)d->buf;
    const size_t per = BENCH_IO / sizeof *b;
    size_t k = 0;
    for (uint64_t i = 0; i < n; i++) {
        b[k++] = i;
        if (k == per) {
            int e = write_all(d->fd, b, BENCH_IO);
            if (e)
                return e;
            k = 0;
        }
    }
    return k ? write_all(d->fd, b, k * sizeof *b) : 0;
}

static int f_extend(void *h, const uint64_t *chunk, size_t n)
{
    handle *d = h;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < BENCH_CHUNK ? n - done : BENCH_CHUNK;
        int e = write_all(d->fd, chunk, k * sizeof *chunk);
        if (e)
            return e;
        done += k;
    }
    return 0;
}

static int f_sum(void *h, size_t n, uint64_t *out)
{
    handle *d = h;
    const uint64_t *b = (const uint64_t *)d->buf;
    uint64_t s = 0;
    for (size_t at = 0; at < n;) {
        size_t k = n - at < BENCH_IO / sizeof *b ? n - at : BENCH_IO / sizeof *b;
        int e = pread_all(d->fd, d->buf, k * sizeof *b, (off_t)(at * sizeof *b));
        if (e)
            return e;
        for (size_t i = 0; i < k; i++)
            s += b[i];
        at += k;
    }
    *out = s;
    return 0;
}

static int f_rand_read(void *h, size_t n, size_t ops, uint64_t seed, uint64_t *out)
{
    handle *d = h;
    uint64_t s = 0, x;
    for (size_t i = 0; i < ops; i++) {
        int e = pread_all(d->fd, &x, sizeof x, (off_t)(bench_rand(&seed) % n * sizeof x));
        if (e)
            return e;
        s += x;
    }
    *out = s;
    return 0;
}

static int f_rand_update(void *h, size_t n, size_t ops, uint64_t seed)
{
    handle *d = h;
    uint64_t x;
    for (size_t i = 0; i < ops; i++) {
        off_t off = (off_t)(bench_rand(&seed) % n * sizeof x);
        int e = pread_all(d->fd, &x, sizeof x, off);
        x++;
        if (e == 0 && pwrite(d->fd, &x, sizeof x, off) != (ssize_t)sizeof x)
            e = errno ? errno : EIO;
        if (e)
            return e;
    }
    return 0;
}

static int f_shrink(void *h) { return ftruncate(((handle *)h)->fd, 0) != 0 ? errno : 0; }

static int f_sync(void *h) { return fsync(((handle *)h)->fd) != 0 ? errno : 0; }

static int dd_write(void *h, size_t n)
{
    handle *d = h;
    memset(d->buf, 0x5a, BENCH_IO);
    for (size_t left = n * sizeof(uint64_t); left > 0;) {
        size_t k = left < BENCH_IO ? left : BENCH_IO;
        int e = write_all(d->fd, d->buf, k);
        if (e)
            return e;
        left -= k;
    }
    return 0;
}

static int dd_extend(void *h, const uint64_t *chunk, size_t n)
{
    (void)chunk;
    return dd_write(h, n);
}

const contender bench_file[] = {
    {"write", "serialize instead: write(2) of the same u64s via a 1 MiB buffer; pread(2) back", 1,
     0, f_open, f_close, f_push, f_extend, f_sum, f_rand_read, f_rand_update, NULL, f_shrink,
     f_sync},
    {"dd", "limit: sequential write(2) of a constant 1 MiB block to the same file system", 0, 0,
     f_open, f_close, dd_write, dd_extend, NULL, NULL, NULL, NULL, NULL, f_sync},
};
const size_t bench_n_file = sizeof bench_file / sizeof bench_file[0];
