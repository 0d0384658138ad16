/* tool/file.c: what the diskalloc tool reads from a vector file besides its
 * header copies (those are da_vec_inspect's): its unallocated blocks, its
 * lock, its bytes, and whether da_vec_open would start it afresh.  Never
 * writes the file. */
#define _GNU_SOURCE
#include "file.h"

#include "diskalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* After da_vec_inspect found a regular file: open it without following a
 * link, taking a terminal or blocking on a FIFO, in case the path changed. */
int open_regular(const char *path, int access, int *fd_out)
{
    int fd = open(path, access | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno;
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : S_ISREG(st.st_mode) ? 0 : DA_EBADFILE;
    if (e != 0) {
        close(fd);
        return e;
    }
    *fd_out = fd;
    return 0;
}

int read_exact(int fd, unsigned char *buf, size_t n, off_t at)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(fd, buf + got, n - got, at + (off_t)got);
        if (r > 0)
            got += (size_t)r;
        else if (r == 0)
            return DA_EBADFILE; /* shorter than its header says: it changed under us */
        else if (errno != EINTR)
            return errno;
    }
    return 0;
}

/* Allocation is not what SEEK_HOLE measures: ext4 and tmpfs report blocks
 * that were fallocated and never written (unwritten extents) as holes unless
 * their pages happen to be cached, so right after `allocate` a file looked
 * as sparse as before.  FIEMAP lists extents, unwritten ones included; where
 * the file system has none (tmpfs, NFS), st_blocks against the size counts
 * every allocated block but cannot say where the holes are (and also counts
 * blocks past the end and the file system's own indirect blocks, so a small
 * hole can hide).  SEEK_HOLE is the last resort, for a file system that
 * reports no blocks at all for a file with data. */
#define FIEMAP_BATCH 64

/* *mapped = bytes of [from, to) inside extents; ENOTSUP etc.: no FIEMAP. */
static int fiemap_mapped(int fd, off_t from, off_t to, unsigned long long *mapped)
{
    *mapped = 0;
    struct fiemap *fm = malloc(sizeof *fm + FIEMAP_BATCH * sizeof(struct fiemap_extent));
    if (!fm)
        return ENOMEM;
    int e = 0;
    unsigned long long end = (unsigned long long)to;
    for (unsigned long long at = (unsigned long long)from; at < end;) {
        memset(fm, 0, sizeof *fm);
        fm->fm_start = at;
        fm->fm_length = end - at;
        fm->fm_extent_count = FIEMAP_BATCH;
        if (ioctl(fd, FS_IOC_FIEMAP, fm) != 0) {
            e = errno;
            break;
        }
        if (fm->fm_mapped_extents == 0)
            break;
        unsigned long long next = at;
        int last = 0;
        for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
            const struct fiemap_extent *x = &fm->fm_extents[i];
            unsigned long long lo = x->fe_logical < at ? at : x->fe_logical;
            unsigned long long hi = x->fe_logical + x->fe_length;
            hi = hi > end ? end : hi;
            *mapped += hi > lo ? hi - lo : 0;
            next = hi > next ? hi : next;
            last |= (x->fe_flags & FIEMAP_EXTENT_LAST) != 0;
        }
        if (last || next <= at) /* next <= at: no progress, the list is odd */
            break;
        at = next;
    }
    free(fm);
    return e;
}

/* Bytes in [from, to) that SEEK_HOLE/SEEK_DATA call holes. */
static int seek_holes(int fd, off_t from, off_t to, unsigned long long *out)
{
    *out = 0;
    for (off_t at = from; at < to;) {
        off_t hole = lseek(fd, at, SEEK_HOLE);
        if (hole < 0)
            return errno == ENXIO ? 0 : errno; /* ENXIO: at is past the end */
        if (hole >= to)
            break;
        off_t data = lseek(fd, hole, SEEK_DATA);
        if (data < 0 && errno != ENXIO) /* ENXIO: a hole up to the end */
            return errno;
        off_t end = data < 0 || data > to ? to : data;
        *out += (unsigned long long)(end - hole);
        at = end;
    }
    return 0;
}

int count_unallocated(int fd, off_t size, off_t from, alloc_count *out)
{
    memset(out, 0, sizeof *out);
    unsigned long long all, tail = 0, span = (unsigned long long)size;
    unsigned long long tail_span = from < size ? (unsigned long long)(size - from) : 0;
    int e = fiemap_mapped(fd, 0, size, &all);
    if (e == 0 && tail_span)
        e = fiemap_mapped(fd, from, size, &tail);
    if (e == 0) {
        out->method = "fiemap";
        out->holes = span > all ? span - all : 0; /* extents never overlap, but */
        out->have_tail = 1;
        out->tail_holes = tail_span > tail ? tail_span - tail : 0;
        return 0;
    }
    if (e != EOPNOTSUPP && e != ENOTTY && e != EINVAL)
        return e;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno;
    unsigned long long blocks = (unsigned long long)st.st_blocks * 512;
    off_t data = st.st_blocks == 0 && size > 0 ? lseek(fd, 0, SEEK_DATA) : -1;
    if (data < 0 || data >= size) { /* blocks, or no data to have blocks */
        out->method = "st_blocks";
        out->holes = span > blocks ? span - blocks : 0;
        return 0;
    }
    out->method = "seek_hole";
    out->have_tail = 1;
    e = seek_holes(fd, 0, size, &out->holes);
    return e ? e : seek_holes(fd, from, size, &out->tail_holes);
}

/* Is the file locked by another open file description?  A shared lock taken
 * and dropped at once: da_vec_open's exclusive lock conflicts with it.
 * (A writer opening the file in that instant gets EWOULDBLOCK.) */
int probe_lock(int fd, int *held)
{
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK)
            return errno;
        *held = 1;
        return 0;
    }
    (void)flock(fd, LOCK_UN);
    *held = 0;
    return 0;
}

/* A file with no valid header copy that da_vec_open still opens, as a new
 * empty vector: one whose creation was cut short (a crash before its first
 * header was durable) leaves it all zeros and short.  Which sizes qualify is
 * the library's rule, not ours: try da_vec_open on a temporary file of the
 * same size, all zeros, never on the file itself.  Only files up to
 * FRESH_LIMIT are read (a fresh file spans a header block and a page). */
#define FRESH_LIMIT ((size_t)1 << 20)

static int all_zero(const char *path, size_t size, int *zero)
{
    *zero = 0;
    int fd = -1;
    int e = open_regular(path, O_RDONLY, &fd);
    unsigned char *buf = e == 0 && size ? malloc(size) : NULL;
    if (e == 0 && size && !buf)
        e = ENOMEM;
    if (e == 0 && size)
        e = read_exact(fd, buf, size, 0);
    if (e == 0) {
        size_t i = 0;
        while (i < size && buf[i] == 0)
            i++;
        *zero = i == size;
    }
    free(buf);
    if (fd >= 0)
        close(fd);
    return e;
}

static int trial_open(const char *tmp, size_t size, int *fresh)
{
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s/diskalloc-check-XXXXXX", tmp) >= (int)sizeof dir)
        return ENAMETOOLONG;
    if (!mkdtemp(dir))
        return errno;
    char file[4200];
    snprintf(file, sizeof file, "%s/zeros", dir);
    int e = 0, fd = open(file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0)
        e = errno;
    if (fd >= 0)
        close(fd);
    if (e == 0) {
        da_config cfg = {0};
        cfg.reserve = 2 * FRESH_LIMIT;
        da_vec v;
        e = da_vec_open(&v, file, 1, &cfg);
        *fresh = e == 0 && v.len == 0;
        if (e == 0)
            e = da_vec_close(&v);
        else if (e == DA_EBADFILE) /* refused: not a fresh file */
            e = 0;
    }
    (void)unlink(file);
    (void)rmdir(dir);
    return e;
}

int starts_afresh(const char *path, size_t size, int *fresh)
{
    *fresh = 0;
    int zero;
    int e = size <= FRESH_LIMIT ? all_zero(path, size, &zero) : 0;
    if (e != 0 || size > FRESH_LIMIT || !zero)
        return e;
    /* /dev/shm first: $TMPDIR may be the full disk being tested */
    const char *tmp[] = {"/dev/shm", getenv("TMPDIR"), "/tmp"};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) {
        if (!tmp[i] || !*tmp[i])
            continue;
        e = trial_open(tmp[i], size, fresh);
        if (e == 0)
            return 0;
    }
    return e;
}
