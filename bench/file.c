/* The file contenders: serializing the same u64s with write(2) through a
 * 1 MiB buffer (the "write a file instead" baseline), read back with
 * read(2)/pread(2); and dd, sequential write(2) of a constant 1 MiB block,
 * the file system's own limit.  Files are unnamed temp files in the same
 * directory as the vectors', so closing one discards its pages as closing
 * a vector does. */
#include "bench.h"
#include "diskalloc.h"

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
    off_t end;          /* bytes written */
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

/* The whole of n bytes at off, through short transfers and EINTR. */
static int io_all(int fd, void *p, size_t n, off_t off, int write)
{
    for (unsigned char *q = p; n > 0;) {
        ssize_t k = write ? pwrite(fd, q, n, off) : pread(fd, q, n, off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? errno : EIO;
        q += k;
        n -= (size_t)k;
        off += k;
    }
    return 0;
}

/* Append: the file grows as a serializer's output does. */
static int write_all(handle *d, const void *p, size_t n)
{
    int e = io_all(d->fd, (void *)p, n, d->end, 1);
    if (e == 0)
        d->end += (off_t)n;
    return e;
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
            int e = write_all(d, b, BENCH_IO);
            if (e)
                return e;
            k = 0;
        }
    }
    return k ? write_all(d, b, k * sizeof *b) : 0;
}

static int f_extend(void *h, const uint64_t *chunk, size_t n)
{
    handle *d = h;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < BENCH_CHUNK ? n - done : BENCH_CHUNK;
        int e = write_all(d, chunk, k * sizeof *chunk);
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
        int e = io_all(d->fd, d->buf, k * sizeof *b, (off_t)(at * sizeof *b), 0);
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
        int e = io_all(d->fd, &x, sizeof x, (off_t)(bench_rand(&seed) % n * sizeof x), 0);
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
        int e = io_all(d->fd, &x, sizeof x, off, 0);
        x++;
        if (e || (e = io_all(d->fd, &x, sizeof x, off, 1)) != 0)
            return e;
    }
    return 0;
}

static int f_shrink(void *h)
{
    handle *d = h;
    d->end = 0;
    return ftruncate(d->fd, 0) != 0 ? errno : 0;
}

static int f_sync(void *h) { return fsync(((handle *)h)->fd) != 0 ? errno : 0; }

/* The data of a vector file, where da_vec_inspect says it starts. */
static int open_data(const char *path, size_t n, int *fd, off_t *off)
{
    da_file_info info;
    int e = da_vec_inspect(path, &info);
    if (e == 0 && (info.in_force < 0 || info.len < n))
        e = DA_EBADFILE;
    if (e != 0)
        return e;
    *off = (off_t)info.data_off;
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    return *fd < 0 ? errno : 0;
}

/* read(2) in 1 MiB blocks: what a program that serialized the data does. */
static int f_scan_file(const char *path, size_t n, uint64_t *out)
{
    int fd = -1;
    off_t off = 0;
    int e = open_data(path, n, &fd, &off);
    uint64_t *b = e ? NULL : malloc(BENCH_IO), s = 0;
    if (e == 0 && !b)
        e = ENOMEM;
    if (e == 0 && lseek(fd, off, SEEK_SET) < 0)
        e = errno;
    for (size_t left = n * sizeof *b; e == 0 && left > 0;) {
        ssize_t k = read(fd, b, left < BENCH_IO ? left : BENCH_IO);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || k % (ssize_t)sizeof *b) {
            e = k < 0 ? errno : EIO;
            break;
        }
        for (size_t i = 0; i < (size_t)k / sizeof *b; i++)
            s += b[i];
        left -= (size_t)k;
    }
    free(b);
    if (fd >= 0)
        close(fd);
    *out = s;
    return e;
}

static int f_rand_file(const char *path, size_t n, size_t ops, uint64_t seed, uint64_t *out)
{
    int fd;
    off_t off;
    int e = open_data(path, n, &fd, &off);
    if (e != 0)
        return e;
    uint64_t s = 0, x;
    for (size_t i = 0; i < ops && e == 0; i++) {
        e = io_all(fd, &x, sizeof x, off + (off_t)(bench_rand(&seed) % n * sizeof x), 0);
        s += x;
    }
    close(fd);
    *out = s;
    return e;
}

static int dd_write(void *h, size_t n)
{
    handle *d = h;
    memset(d->buf, 0x5a, BENCH_IO);
    for (size_t left = n * sizeof(uint64_t); left > 0;) {
        size_t k = left < BENCH_IO ? left : BENCH_IO;
        int e = write_all(d, d->buf, k);
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
     f_sync, f_scan_file, f_rand_file},
    {"dd", "limit: sequential write(2) of a constant 1 MiB block to the same file system", 0, 0,
     f_open, f_close, dd_write, dd_extend, NULL, NULL, NULL, NULL, NULL, f_sync, NULL, NULL},
};
const size_t bench_n_file = sizeof bench_file / sizeof bench_file[0];
