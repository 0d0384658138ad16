/* nofiemap.so: an LD_PRELOAD shim for tool/test.sh that makes the file
 * system look like one without FIEMAP (ioctl FS_IOC_FIEMAP fails with
 * EOPNOTSUPP, as on tmpfs), and with NOFIEMAP_NO_BLOCKS set, like one whose
 * stat reports no blocks at all: the tool's fallbacks (st_blocks, then
 * SEEK_HOLE) run on any file system. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

__attribute__((visibility("default"))) int ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (request == FS_IOC_FIEMAP) {
        errno = EOPNOTSUPP;
        return -1;
    }
    int (*real)(int, unsigned long, ...);
    *(void **)&real = dlsym(RTLD_NEXT, "ioctl");
    return real(fd, request, arg);
}

__attribute__((visibility("default"))) int fstat(int fd, struct stat *st)
{
    int (*real)(int, struct stat *);
    *(void **)&real = dlsym(RTLD_NEXT, "fstat");
    int r = real(fd, st);
    if (r == 0 && getenv("NOFIEMAP_NO_BLOCKS"))
        st->st_blocks = 0;
    return r;
}
