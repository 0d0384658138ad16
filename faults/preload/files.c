/* files.c — the files a run writes, and how large they got.
 *
 * The campaign sizes its disk-full and RLIMIT_FSIZE ladders from what the
 * unharmed run really put on disk (however it wrote it: ftruncate, fallocate,
 * stores through a mapping, write), and warns when a run wrote files outside
 * the directories its disk-full sandbox covers.  The shim sees the file
 * descriptors: it samples each file's size at the calls that change what is
 * on disk (ftruncate, fallocate, a writable shared mapping, fsync, close of a
 * writable descriptor) and at exit for the descriptors still open.
 */
#define _GNU_SOURCE
#include "nthfail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int nt_close_raw(int fd) { return (int)syscall(SYS_close, fd); }

static void atomic_max(uint64_t *v, uint64_t x)
{
    uint64_t cur = __atomic_load_n(v, __ATOMIC_RELAXED);
    while (cur < x && !__atomic_compare_exchange_n(v, &cur, x, 1, __ATOMIC_RELAXED,
                                                   __ATOMIC_RELAXED)) {
    }
}

static void note_file(int fd, unsigned how)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    uint64_t key = ((uint64_t)st.st_dev << 40 ^ (uint64_t)st.st_ino) | 1;
    uint64_t h = key * 0x9E3779B97F4A7C15u >> 40;
    for (int i = 0; i < NT_FILES; i++) {
        struct nt_file *f = &nt->files[(h + (uint64_t)i) % NT_FILES];
        uint64_t k = 0;
        if (__atomic_compare_exchange_n(&f->key, &k, key, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            char link[64];
            snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            ssize_t n = readlink(link, f->path, sizeof f->path - 1);
            f->path[n > 0 ? n : 0] = 0;
            __atomic_store_n(&f->ready, 1, __ATOMIC_RELEASE);
        } else if (k != key) {
            continue;
        }
        __atomic_fetch_or(&f->how, how, __ATOMIC_RELAXED);
        atomic_max(&f->disk_max, (uint64_t)st.st_blocks * 512);
        atomic_max(&f->size_max, (uint64_t)st.st_size);
        return;
    }
}

/* The wrapped call's errno is the program's: looking costs it nothing. */
void nt_note_file(int fd, unsigned how)
{
    int saved = errno;
    note_file(fd, how);
    errno = saved;
}

/* At exit: what the descriptors still open for writing hold. */
void nt_note_open_files(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        int fl = fd > 0 || e->d_name[0] == '0' ? fcntl(fd, F_GETFL) : -1;
        if (fl >= 0 && fd != dirfd(d) && (fl & O_ACCMODE) != O_RDONLY)
            nt_note_file(fd, NT_WROTE);
    }
    closedir(d);
}
