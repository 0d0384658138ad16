/* caller.c — which object made a wrapped call: the program, a library, or
 * the program's runtime before main.
 *
 * A failed mmap in a language runtime's start-up says nothing about the code
 * under test; the campaign shows who made each failed call, counts the calls
 * per object in the unharmed run, and with NTHFAIL_ONLY_FROM counts (and
 * fails) only the calls one object makes ("program" for the executable,
 * part of a library's file name, or "after-main" for every object's calls
 * once main has started).
 */
#define _GNU_SOURCE
#include "nthfail.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

#define EXPORT __attribute__((visibility("default")))

static int in_main;
static const char *only;           /* NTHFAIL_ONLY_FROM, or NULL */

typedef int (*main_fn)(int, char **, char **);
static main_fn real_main;

static int main_hook(int argc, char **argv, char **envp)
{
    __atomic_store_n(&in_main, 1, __ATOMIC_RELEASE);
    return real_main(argc, argv, envp);
}

/* Every dynamically linked glibc program starts here: wrap its main to know
 * when start-up (ld.so, constructors, the runtime's init) is over. */
typedef int (*start_fn)(main_fn, int, char **, void (*)(void), void (*)(void),
                        void (*)(void), void *);
EXPORT int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
                             void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
    start_fn real;
    *(void **)&real = dlsym(RTLD_NEXT, "__libc_start_main"); /* POSIX idiom */
    real_main = main;
    return real(main_hook, argc, argv, init, fini, rtld_fini, stack_end);
}

void nt_caller_init(const char *only_from) { only = only_from && *only_from ? only_from : NULL; }

/* The object holding ret: its file's base name and NT_* flags. */
static unsigned who(const void *ret, char *name, size_t n)
{
    static const void *main_base;
    Dl_info info;
    unsigned flags = __atomic_load_n(&in_main, __ATOMIC_ACQUIRE) ? 0 : NT_BEFORE_MAIN;
    if (!main_base && dladdr((const void *)getauxval(AT_PHDR), &info))
        main_base = info.dli_fbase;
    if (!ret || !dladdr(ret, &info) || !info.dli_fname) {
        snprintf(name, n, "?");
        return flags;
    }
    const char *slash = strrchr(info.dli_fname, '/');
    snprintf(name, n, "%s", slash ? slash + 1 : info.dli_fname);
    if (info.dli_fbase == main_base)
        flags |= NT_PROGRAM;
    return flags;
}

static uint64_t hash(const char *s)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h ? h : 1;
}

static void count_caller(const char *site_name, const char *object)
{
    char name[sizeof nt->callers[0].name] = {0};
    snprintf(name, sizeof name, "%.15s\t%.31s", site_name, object); /* fits: 15+1+31+1 */
    uint64_t key = hash(name);
    for (int i = 0; i < NT_CALLERS; i++) {
        struct nt_caller *c = &nt->callers[(key + (uint64_t)i) % NT_CALLERS];
        uint64_t k = 0;
        if (__atomic_compare_exchange_n(&c->key, &k, key, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            memcpy(c->name, name, sizeof name);
        else if (k != key)
            continue;
        __atomic_add_fetch(&c->calls, 1, __ATOMIC_RELAXED);
        return;
    }
}

int nt_caller_counts(const char *site_name, const void *ret)
{
    char object[200];
    unsigned flags = who(ret, object, sizeof object);
    count_caller(site_name, object);
    if (!only)
        return 1;
    if (strcmp(only, "after-main") == 0)
        return !(flags & NT_BEFORE_MAIN);
    return strstr(object, only) != NULL ||
           (strcmp(only, "program") == 0 && (flags & NT_PROGRAM));
}

void nt_caller_record_failure(const void *ret)
{
    uint32_t no = 0;
    if (!__atomic_compare_exchange_n(&nt->failer.taken, &no, 1, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED))
        return; /* the first failed call is the one a run is named after */
    nt->failer.flags = who(ret, nt->failer.object, sizeof nt->failer.object);
}
