#define _GNU_SOURCE
#include "common.h"
#include "diskalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double st_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void st_rng_seed(st_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t st_rand(st_rng *r)
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t st_below(st_rng *r, uint64_t n) { return n ? st_rand(r) % n : 0; }

uint64_t st_pattern(uint64_t seed, uint64_t index)
{
    uint64_t x = seed ^ (index * 0xd1342543de82ef95ull);
    return splitmix(&x);
}

/* Byte i of a fill starting at byte offset `index` is byte (index+i)%8 of
 * pattern word (index+i)/8, so any slice of a filled region is checkable. */
static unsigned char pattern_byte(uint64_t seed, uint64_t at)
{
    return (unsigned char)(st_pattern(seed, at / 8) >> (8 * (at % 8)));
}

void st_fill(void *dst, size_t bytes, uint64_t seed, uint64_t index)
{
    unsigned char *d = dst;
    for (size_t i = 0; i < bytes; i++)
        d[i] = pattern_byte(seed, index + i);
}

size_t st_check(const void *src, size_t bytes, uint64_t seed, uint64_t index)
{
    const unsigned char *p = src;
    for (size_t i = 0; i < bytes; i++)
        if (p[i] != pattern_byte(seed, index + i))
            return i;
    return SIZE_MAX;
}

void st_parse(st_opts *o, int argc, char **argv, double default_seconds)
{
    memset(o, 0, sizeof *o);
    o->seconds = default_seconds;
    o->seed = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
    const char *env = getenv("STRESS_SEED");
    if (env && *env)
        o->seed = strtoull(env, NULL, 0);
    o->argv = calloc((size_t)argc + 1, sizeof *o->argv);
    o->argv[o->argc++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            o->seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            o->seconds = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
            o->ops = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--quick"))
            o->quick = 1;
        else if (!strcmp(argv[i], "--verbose"))
            o->verbose = 1;
        else
            o->argv[o->argc++] = argv[i];
    }
}

void st_begin(st_stats *s, const char *driver, const st_opts *o, int argc, char **argv)
{
    memset(s, 0, sizeof *s);
    s->driver = driver;
    s->seed = o->seed;
    /* the replay command: the same arguments with the seed pinned */
    size_t n = (size_t)snprintf(s->replay, sizeof s->replay, "%s --seed %llu", argv[0],
                                (unsigned long long)o->seed);
    for (int i = 1; i < argc && n < sizeof s->replay; i++) {
        if (!strcmp(argv[i], "--seed")) {
            i++;
            continue;
        }
        n += (size_t)snprintf(s->replay + n, sizeof s->replay - n, " %s", argv[i]);
    }
    printf("seed = %llu\n", (unsigned long long)o->seed);
    fflush(stdout);
}

void st_violation(st_stats *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("VIOLATION: ");
    vprintf(fmt, ap);
    printf("\nreplay: %s\n", s->replay);
    va_end(ap);
    fflush(stdout);
    s->violations++;
}

int st_summary(const st_stats *s, const char *faults)
{
    printf("SUMMARY driver=%s ops=%llu faults=%s clean_errors=%llu violations=%llu crashes=%llu "
           "seed=%llu\n",
           s->driver, (unsigned long long)s->ops, faults && *faults ? faults : "-",
           (unsigned long long)s->clean_errors, (unsigned long long)s->violations,
           (unsigned long long)s->crashes, (unsigned long long)s->seed);
    fflush(stdout);
    return s->violations || s->crashes ? 1 : 0;
}

const char *st_errname(int e)
{
    static _Thread_local char buf[4][48];
    static _Thread_local unsigned k;
    switch (e) {
    case 0: return "0 (success)";
    case DA_ECAPACITY: return "DA_ECAPACITY";
    case DA_EOVERFLOW: return "DA_EOVERFLOW";
    case DA_EBADFILE: return "DA_EBADFILE";
    case DA_EPOISONED: return "DA_EPOISONED";
    case DA_EEMPTY: return "DA_EEMPTY";
    case DA_EINVAL: return "DA_EINVAL";
    case DA_EFORKED: return "DA_EFORKED";
    }
    char *b = buf[k++ % 4];
    const char *n = e > 0 ? strerrorname_np(e) : NULL;
    if (n)
        return n;
    snprintf(b, sizeof buf[0], "unknown (%d)", e);
    return b;
}
