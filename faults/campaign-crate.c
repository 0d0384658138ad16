/* campaign-crate — a program shaped like the Rust crate `diskallocator` 0.1.1,
 * for faults/campaign to find its defects without any wrapper.
 *
 *   campaign-crate KIB [DIR]   push KIB KiB of data into a vector backed by a
 *                              temporary file, check it, exit 0
 *
 * Like the crate, it keeps its file in the hard-coded /var/tmp (DIR replaces
 * it, for tests), grows it sparsely (ftruncate, no fallocate), maps it
 * MAP_SHARED and stores into the new pages: on a full disk the store dies
 * with SIGBUS.  A failed ftruncate aborts after a panic-like message, as the
 * crate's unwrap() does.  The file is unlinked once open, so nothing is left
 * in /var/tmp whatever happens.  Before main, a "runtime" maps an alternate
 * signal stack, as Rust's does, and aborts when it cannot: mmap call 1 is not
 * the program's own (faults/campaign attributes it: "before main").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

static void panic(const char *what, int err)
{
    fprintf(stderr, "thread 'main' panicked at src/lib.rs:42:9:\n"
                    "called `Result::unwrap()` on an `Err` value: %s: %s\n"
                    "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
            what, strerror(err));
    abort();
}

__attribute__((constructor)) static void runtime_init(void)
{
    size_t size = 64 << 10;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "fatal runtime error: failed to allocate an alternative stack: %s\n",
                strerror(errno));
        abort();
    }
    stack_t ss = {.ss_sp = p, .ss_size = size};
    sigaltstack(&ss, NULL);
}

int main(int argc, char **argv)
{
    char *end;
    unsigned long kib = argc >= 2 ? strtoul(argv[1], &end, 10) : 0;
    if (argc < 2 || argc > 3 || *end || kib == 0 || kib > (1ul << 22)) {
        fprintf(stderr, "usage: %s KIB [DIR]\n", argv[0]);
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/diskalloc-crate-XXXXXX", argc == 3 ? argv[2] : "/var/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        panic("mkstemp", errno);
    unlink(path);

    size_t want = (size_t)kib << 10, cap = 0, len = 0;
    unsigned char *base = NULL;
    while (len < want) {
        if (len == cap) { /* double: sparse growth, no fallocate */
            size_t ncap = cap ? 2 * cap : 64 << 10;
            if (ftruncate(fd, (off_t)ncap) != 0)
                panic("ftruncate", errno);
            void *p = mmap(NULL, ncap, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (p == MAP_FAILED)
                panic("mmap", errno);
            if (base)
                munmap(base, cap);
            base = p;
            cap = ncap;
        }
        base[len] = (unsigned char)(len * 131u >> 3); /* SIGBUS here on a full disk */
        len++;
    }
    for (size_t i = 0; i < len; i++)
        if (base[i] != (unsigned char)(i * 131u >> 3)) {
            fprintf(stderr, "campaign-crate: byte %zu is wrong\n", i);
            return 1;
        }
    munmap(base, cap);
    close(fd);
    return 0;
}
