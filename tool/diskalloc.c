/* diskalloc — look at a persistent vector file without writing a program:
 * info, check, dump, allocate (as LMDB ships mdb_stat and mdb_dump).
 *
 * Built on the public API only (core/diskalloc.h): da_vec_inspect reads and
 * judges the header copies with the same checks da_vec_open makes; the data
 * is read with pread at the offset it reports.  Nothing here knows the
 * format's layout.
 *
 * Only `allocate` writes, and only through da_arena_open_fd, which allocates
 * a file's holes without changing a byte.  info, check and dump never call
 * da_vec_open on the file: it creates a missing file, turns an all-zero one
 * into a vector file, and its close writes a new header copy even when nothing
 * changed (check asks it about a temporary file of zeros: tool/file.c).
 */
#define _GNU_SOURCE
#include "diskalloc.h"
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Exit codes (diskalloc(1), EXIT STATUS). */
enum {
    EXIT_GOOD = 0,  /* done; check: the file is good */
    EXIT_BAD = 1,   /* no valid vector file at the path (or not of the expected element size) */
    EXIT_USAGE = 2, /* bad command line */
    EXIT_ERROR = 3, /* the command could not do its job: I/O, permission, lock, disk full */
};

static const char *prog = "diskalloc";

static const char usage_text[] =
    "usage: diskalloc COMMAND FILE [OPTIONS]\n"
    "Look at a diskalloc persistent vector file (made by da_vec_open).\n"
    "\n"
    "commands:\n"
    "  info FILE [--json]           format, sizes, both header copies, holes, lock\n"
    "  check FILE [--elem-size N] [--missing-ok]\n"
    "                               exit 0 if da_vec_open would accept the file, 1 if not;\n"
    "                               --missing-ok: no file, or one whose creation was cut\n"
    "                               short, is good too (a VERIFY after a crash)\n"
    "  dump FILE [--as TYPE] [--range A:B]\n"
    "                               elements A (default 0) to B (default the length) as text,\n"
    "                               TYPE one of u8 u16 u32 u64 i8 i16 i32 i64 f32 f64 hex\n"
    "                               (default hex)\n"
    "  allocate FILE                allocate the file's holes, so a full disk is ENOSPC again\n"
    "\n"
    "options: --help (any command), --version\n"
    "exit: 0 done/good, 1 not a valid vector file, 2 usage, 3 could not do the job\n"
    "See diskalloc(1).\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'diskalloc --help'.\n");
    return EXIT_USAGE;
}

/* Errors that mean "there is no usable vector file at this path" as opposed
 * to "it could not be looked at". */
static int exit_for(int err)
{
    return err == DA_EBADFILE || err == ENOENT || err == ENOTDIR || err == ELOOP ? EXIT_BAD
                                                                                  : EXIT_ERROR;
}

static int fail(const char *path, int err)
{
    fprintf(stderr, "%s: %s: %s\n", prog, path, da_strerror(err));
    return exit_for(err);
}

/* ---- header copies -------------------------------------------------------- */

static int copy_empty(const da_header_info *c)
{
    return c->version == 0 && c->seq == 0 && c->elem_size == 0 && c->len == 0 && c->data_off == 0;
}

/* Why a copy is not valid, in words.  The verdict is the library's
 * (c->valid); this only names the likeliest cause for the reader. */
static const char *copy_state(const da_file_info *fi, int i)
{
    const da_header_info *c = &fi->copies[i];
    if (c->valid)
        return fi->in_force == i ? "valid, in force" : "valid, older";
    if (copy_empty(c))
        return "empty (never written, or the file is too short to hold it)";
    if (c->elem_size != 0 && c->data_off > fi->file_size)
        return "damaged: its data offset is beyond the end of the file (truncated?)";
    if (c->elem_size != 0 && c->len > (fi->file_size - c->data_off) / c->elem_size)
        return "damaged: the data is shorter than its length (truncated?)";
    return "damaged: its magic, checksum or a field does not check";
}

static char copy_name(int i) { return i == 0 ? 'A' : 'B'; }

/* ---- info ----------------------------------------------------------------- */

typedef struct {
    int have_holes;    /* the count could be taken */
    alloc_count holes; /* tail: [data offset, end) */
    int have_lock;
    int locked;
    int probe_err; /* why a probe could not run (0: both ran) */
} file_probe;

static void probe_file(const char *path, const da_file_info *fi, file_probe *p)
{
    memset(p, 0, sizeof *p);
    int fd;
    int e = open_regular(path, O_RDONLY, &fd);
    if (e == 0) {
        /* no data range without a valid header: the whole file as the tail */
        off_t from = fi->in_force >= 0 ? (off_t)fi->data_off : (off_t)fi->file_size;
        e = count_unallocated(fd, (off_t)fi->file_size, from, &p->holes);
        p->have_holes = e == 0;
        int l = probe_lock(fd, &p->locked);
        p->have_lock = l == 0;
        e = e ? e : l;
        close(fd);
    }
    p->probe_err = e;
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void info_json(const char *path, const da_file_info *fi, const file_probe *p)
{
    int ok = fi->in_force >= 0;
    printf("{\n  \"path\": ");
    json_string(path);
    printf(",\n  \"valid\": %s,\n  \"file_size\": %zu,\n", ok ? "true" : "false", fi->file_size);
    if (ok)
        printf("  \"format_version\": %u,\n  \"elem_size\": %zu,\n  \"len\": %zu,\n"
               "  \"cap\": %zu,\n  \"data_offset\": %zu,\n  \"in_force\": \"%c\",\n",
               fi->version, fi->elem_size, fi->len, fi->cap, fi->data_off,
               copy_name(fi->in_force));
    else
        printf("  \"format_version\": null,\n  \"elem_size\": null,\n  \"len\": null,\n"
               "  \"cap\": null,\n  \"data_offset\": null,\n  \"in_force\": null,\n");
    printf("  \"copies\": [\n");
    for (int i = 0; i < 2; i++) {
        const da_header_info *c = &fi->copies[i];
        printf("    {\"name\": \"%c\", \"offset\": %zu, \"valid\": %s, \"in_force\": %s, "
               "\"state\": ",
               copy_name(i), c->offset, c->valid ? "true" : "false",
               fi->in_force == i ? "true" : "false");
        json_string(copy_state(fi, i));
        printf(", \"version\": %u, \"seq\": %llu, \"elem_size\": %llu, \"len\": %llu, "
               "\"data_offset\": %llu}%s\n",
               c->version, c->seq, c->elem_size, c->len, c->data_off, i == 0 ? "," : "");
    }
    printf("  ],\n");
    const alloc_count *h = &p->holes;
    if (p->have_holes)
        printf("  \"hole_bytes\": %llu,\n", h->holes);
    else
        printf("  \"hole_bytes\": null,\n");
    if (p->have_holes && h->have_tail && fi->in_force >= 0)
        printf("  \"data_hole_bytes\": %llu,\n", h->tail_holes);
    else
        printf("  \"data_hole_bytes\": null,\n");
    printf("  \"allocation_method\": ");
    if (p->have_holes)
        json_string(h->method);
    else
        printf("null");
    printf(",\n");
    if (p->have_lock)
        printf("  \"locked\": %s,\n", p->locked ? "true" : "false");
    else
        printf("  \"locked\": null,\n");
    /* numpy.memmap(path, dtype, mode="r", offset=..., shape=...): the dtype's
     * itemsize must be elem_size; the file does not know the element type */
    if (ok)
        printf("  \"numpy\": {\"offset\": %zu, \"shape\": [%zu], \"itemsize\": %zu}\n",
               fi->data_off, fi->len, fi->elem_size);
    else
        printf("  \"numpy\": null\n");
    printf("}\n");
}

static void info_text(const char *path, const da_file_info *fi, const file_probe *p)
{
    int ok = fi->in_force >= 0;
    printf("file:          %s\n", path);
    printf("file size:     %zu bytes\n", fi->file_size);
    if (ok) {
        printf("format:        %u\n", fi->version);
        printf("element size:  %zu bytes\n", fi->elem_size);
        printf("length:        %zu elements\n", fi->len);
        printf("capacity:      %zu elements\n", fi->cap);
        printf("data offset:   %zu\n", fi->data_off);
    } else {
        printf("valid:         no: %s\n", da_strerror(DA_EBADFILE));
    }
    for (int i = 0; i < 2; i++) {
        const da_header_info *c = &fi->copies[i];
        printf("copy %c:        offset %zu, seq %llu, %s\n", copy_name(i), c->offset, c->seq,
               copy_state(fi, i));
    }
    const alloc_count *h = &p->holes;
    char where[64] = "";
    if (p->have_holes && h->have_tail && ok)
        snprintf(where, sizeof where, " (%llu of them in the data range)", h->tail_holes);
    if (!p->have_holes)
        printf("sparse:        unknown (%s)\n", da_strerror(p->probe_err));
    else if (h->holes == 0)
        printf("sparse:        no: every block is allocated (measured by %s)\n", h->method);
    else
        printf("sparse:        %llu bytes not allocated%s, a full disk would make stores fail; "
               "'diskalloc allocate' allocates them (measured by %s)\n",
               h->holes, where, h->method);
    if (!p->have_lock)
        printf("lock:          unknown (%s)\n", da_strerror(p->probe_err));
    else
        printf("lock:          %s\n", p->locked ? "held by another process (open for writing: "
                                                  "what it has not synced may change)"
                                                : "not held");
    if (ok)
        printf("numpy:         numpy.memmap(path, dtype=<a %zu-byte type>, mode=\"r\", "
               "offset=%zu, shape=(%zu,))\n",
               fi->elem_size, fi->data_off, fi->len);
}

static int cmd_info(const char *path, int json)
{
    da_file_info fi;
    int e = da_vec_inspect(path, &fi);
    if (e != 0)
        return fail(path, e);
    file_probe p;
    probe_file(path, &fi, &p);
    if (json)
        info_json(path, &fi, &p);
    else
        info_text(path, &fi, &p);
    if (fflush(stdout) != 0)
        return fail("stdout", errno);
    return fi.in_force >= 0 ? EXIT_GOOD : EXIT_BAD;
}

/* ---- check ---------------------------------------------------------------- */

static int cmd_check(const char *path, size_t elem_size, int missing_ok)
{
    da_file_info fi;
    int e = da_vec_inspect(path, &fi);
    if (e == ENOENT && missing_ok) {
        printf("%s: ok: no file (nothing created yet)\n", path);
        return EXIT_GOOD;
    }
    if (e != 0) {
        printf("%s: bad: %s\n", path, da_strerror(e));
        return exit_for(e);
    }
    if (fi.in_force < 0) {
        int fresh;
        e = starts_afresh(path, fi.file_size, &fresh);
        if (e != 0) {
            printf("%s: could not tell: no valid header copy, and a trial open of %zu zero "
                   "bytes failed: %s\n",
                   path, fi.file_size, da_strerror(e));
            return EXIT_ERROR;
        }
        char what[64];
        snprintf(what, sizeof what, fi.file_size ? "%zu zero bytes" : "an empty file",
                 fi.file_size);
        if (fresh && missing_ok) {
            printf("%s: ok: %s, no header yet (a creation cut short): da_vec_open starts it "
                   "afresh, empty\n",
                   path, what);
            return EXIT_GOOD;
        }
        if (fresh)
            printf("%s: bad: %s, no header yet (a creation cut short; da_vec_open would start "
                   "it afresh, empty: --missing-ok accepts that): %s\n",
                   path, what, da_strerror(DA_EBADFILE));
        else
            printf("%s: bad: no valid header copy (copy A %s; copy B %s): %s\n", path,
                   copy_state(&fi, 0), copy_state(&fi, 1), da_strerror(DA_EBADFILE));
        return EXIT_BAD;
    }
    if (elem_size != 0 && fi.elem_size != elem_size) {
        printf("%s: bad: element size %zu, expected %zu: %s\n", path, fi.elem_size, elem_size,
               da_strerror(DA_EBADFILE));
        return EXIT_BAD;
    }
    int other = 1 - fi.in_force;
    printf("%s: ok: format %u, element size %zu, length %zu, capacity %zu; copy %c in force "
           "(seq %llu), copy %c %s\n",
           path, fi.version, fi.elem_size, fi.len, fi.cap, copy_name(fi.in_force),
           fi.copies[fi.in_force].seq, copy_name(other), copy_state(&fi, other));
    return EXIT_GOOD;
}

/* ---- dump ----------------------------------------------------------------- */

typedef enum { AS_UNSIGNED, AS_SIGNED, AS_FLOAT, AS_HEX } as_kind;

typedef struct {
    const char *name;
    size_t width; /* bytes per value; 0: the whole element */
    as_kind kind;
} as_type;

static const as_type as_types[] = {
    {"u8", 1, AS_UNSIGNED},  {"u16", 2, AS_UNSIGNED}, {"u32", 4, AS_UNSIGNED},
    {"u64", 8, AS_UNSIGNED}, {"i8", 1, AS_SIGNED},    {"i16", 2, AS_SIGNED},
    {"i32", 4, AS_SIGNED},   {"i64", 8, AS_SIGNED},   {"f32", 4, AS_FLOAT},
    {"f64", 8, AS_FLOAT},    {"hex", 0, AS_HEX},
};

static const as_type *as_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof as_types / sizeof as_types[0]; i++)
        if (strcmp(as_types[i].name, name) == 0)
            return &as_types[i];
    return NULL;
}

/* One value of the given type at p (any alignment), in this machine's order. */
static void print_value(const unsigned char *p, const as_type *t)
{
    union {
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        int8_t i8;
        int16_t i16;
        int32_t i32;
        int64_t i64;
        float f32;
        double f64;
    } v;
    memcpy(&v, p, t->width);
    switch (t->kind * 16 + (int)t->width) {
    case AS_UNSIGNED * 16 + 1: printf("%" PRIu8, v.u8); break;
    case AS_UNSIGNED * 16 + 2: printf("%" PRIu16, v.u16); break;
    case AS_UNSIGNED * 16 + 4: printf("%" PRIu32, v.u32); break;
    case AS_UNSIGNED * 16 + 8: printf("%" PRIu64, v.u64); break;
    case AS_SIGNED * 16 + 1: printf("%" PRId8, v.i8); break;
    case AS_SIGNED * 16 + 2: printf("%" PRId16, v.i16); break;
    case AS_SIGNED * 16 + 4: printf("%" PRId32, v.i32); break;
    case AS_SIGNED * 16 + 8: printf("%" PRId64, v.i64); break;
    case AS_FLOAT * 16 + 4: printf("%.9g", (double)v.f32); break; /* digits to round-trip */
    case AS_FLOAT * 16 + 8: printf("%.17g", v.f64); break;
    default: break; /* as_types has no other combination */
    }
}

static void print_element(const unsigned char *p, size_t elem_size, const as_type *t)
{
    if (t->kind == AS_HEX) {
        for (size_t i = 0; i < elem_size; i++)
            printf("%02x", p[i]);
    } else {
        for (size_t at = 0; at < elem_size; at += t->width) {
            if (at)
                putchar(' ');
            print_value(p + at, t);
        }
    }
    putchar('\n');
}

/* "A:B", either side may be empty; clamped to [0, len] like a Python slice. */
static int parse_range(const char *s, size_t len, size_t *from, size_t *to)
{
    const char *colon = strchr(s, ':');
    if (!colon)
        return -1;
    *from = 0;
    *to = len;
    for (int side = 0; side < 2; side++) {
        const char *p = side ? colon + 1 : s;
        const char *end = side ? s + strlen(s) : colon;
        if (p == end)
            continue;
        if (*p < '0' || *p > '9')
            return -1;
        char *stop;
        errno = 0;
        unsigned long long n = strtoull(p, &stop, 10);
        if (errno != 0 || stop != end)
            return -1;
        size_t v = n > len ? len : (size_t)n;
        *(side ? to : from) = v;
    }
    if (*from > *to)
        *from = *to;
    return 0;
}

static int cmd_dump(const char *path, const char *as, const char *range)
{
    const as_type *t = as_lookup(as ? as : "hex");
    if (!t)
        return usage_error("--as %s: not one of u8 u16 u32 u64 i8 i16 i32 i64 f32 f64 hex", as);
    da_file_info fi;
    int e = da_vec_inspect(path, &fi);
    if (e != 0)
        return fail(path, e);
    if (fi.in_force < 0)
        return fail(path, DA_EBADFILE);
    if (t->width != 0 && fi.elem_size % t->width != 0) {
        fprintf(stderr,
                "%s: %s: --as %s reads %zu-byte values, which do not divide the file's "
                "%zu-byte elements; use --as hex or --as u8\n",
                prog, path, t->name, t->width, fi.elem_size);
        return EXIT_USAGE;
    }
    size_t from = 0, to = fi.len;
    if (range && parse_range(range, fi.len, &from, &to) != 0)
        return usage_error("--range %s: expected A:B, element indexes (either may be empty)",
                           range);
    int fd;
    e = open_regular(path, O_RDONLY, &fd);
    if (e != 0)
        return fail(path, e);
    size_t per = (1u << 20) / fi.elem_size + 1; /* elements per read: about 1 MiB */
    if (per > to - from)
        per = to - from;
    unsigned char *buf = per ? malloc(per * fi.elem_size) : NULL;
    if (per && !buf) {
        close(fd);
        return fail(path, ENOMEM);
    }
    for (size_t i = from; e == 0 && i < to;) {
        size_t n = to - i < per ? to - i : per;
        e = read_exact(fd, buf, n * fi.elem_size, (off_t)(fi.data_off + i * fi.elem_size));
        for (size_t k = 0; e == 0 && k < n; k++)
            print_element(buf + k * fi.elem_size, fi.elem_size, t);
        i += n;
    }
    free(buf);
    close(fd);
    if (e != 0)
        return fail(path, e);
    if (fflush(stdout) != 0)
        return fail("stdout", errno);
    return EXIT_GOOD;
}

/* ---- allocate ------------------------------------------------------------- */

/* da_arena_open_fd allocates a file's holes (fallocate, or zeros written into
 * the holes where the file system has no fallocate) without changing its size
 * or bytes, under the same exclusive lock as da_vec_open: a file another
 * process has open is refused (EWOULDBLOCK).  It writes no header, unlike
 * da_vec_open + da_vec_close.  The sync makes the allocation durable. */
static int allocate_holes(int fd, size_t file_size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    da_config cfg = {0};
    cfg.reserve = file_size < page ? page : (file_size + page - 1) / page * page;
    da_arena *a;
    int e = da_arena_open_fd(&a, fd, &cfg);
    if (e != 0)
        return e;
    e = da_arena_sync(a);
    int c = da_arena_close(a);
    return e ? e : c;
}

static int cmd_allocate(const char *path)
{
    da_file_info fi;
    int e = da_vec_inspect(path, &fi);
    if (e != 0)
        return fail(path, e);
    if (fi.in_force < 0) /* not ours to change */
        return fail(path, DA_EBADFILE);
    int fd;
    e = open_regular(path, O_RDWR, &fd);
    if (e != 0)
        return fail(path, e);
    alloc_count before, after;
    off_t size = (off_t)fi.file_size;
    e = count_unallocated(fd, size, size, &before);
    if (e == 0 && before.holes != 0)
        e = allocate_holes(fd, fi.file_size);
    if (e == 0)
        e = count_unallocated(fd, size, size, &after);
    close(fd);
    if (e != 0)
        return fail(path, e);
    if (after.holes != 0) {
        fprintf(stderr,
                "%s: %s: %llu bytes are still not allocated after allocating %llu (measured by "
                "%s)\n",
                prog, path, after.holes,
                before.holes > after.holes ? before.holes - after.holes : 0, after.method);
        return EXIT_ERROR;
    }
    printf("%s: %llu bytes allocated; no holes left (measured by %s)\n", path, before.holes,
           after.method);
    return EXIT_GOOD;
}

/* ---- command line --------------------------------------------------------- */

enum { OPT_JSON = 256, OPT_ELEM_SIZE, OPT_MISSING_OK, OPT_AS, OPT_RANGE, OPT_HELP, OPT_VERSION };

static const struct option options[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"elem-size", required_argument, NULL, OPT_ELEM_SIZE},
    {"missing-ok", no_argument, NULL, OPT_MISSING_OK},
    {"as", required_argument, NULL, OPT_AS},
    {"range", required_argument, NULL, OPT_RANGE},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const char *option_name(int val)
{
    const struct option *o = options;
    while (o->name && o->val != val)
        o++;
    return o->name ? o->name : "?";
}

typedef struct {
    const char *name;
    unsigned allowed; /* bit (OPT_x - OPT_JSON) for each option it takes */
} command;

#define ALLOW(opt) (1u << ((opt)-OPT_JSON))

static const command commands[] = {
    {"info", ALLOW(OPT_JSON)},
    {"check", ALLOW(OPT_ELEM_SIZE) | ALLOW(OPT_MISSING_OK)},
    {"dump", ALLOW(OPT_AS) | ALLOW(OPT_RANGE)},
    {"allocate", 0},
};

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("%s", "no command given");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(usage_text, stdout);
        return EXIT_GOOD;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("diskalloc %d.%d\n", DA_VERSION_MAJOR, DA_VERSION_MINOR);
        return EXIT_GOOD;
    }
    const command *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            cmd = &commands[i];
    if (!cmd)
        return usage_error("unknown command '%s'", argv[1]);

    int json = 0, missing_ok = 0;
    size_t elem_size = 0;
    const char *as = NULL, *range = NULL;
    opterr = 0;
    int c;
    /* getopt_long over the arguments after the command; options may follow FILE */
    while ((c = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
        if (c == OPT_HELP) {
            fputs(usage_text, stdout);
            return EXIT_GOOD;
        }
        if (c == '?' || c == ':') /* optind counts from the command: argv[optind] is it */
            return usage_error("%s: unknown option, or one missing its value",
                               argv[optind < argc ? optind : argc - 1]);
        if (c == OPT_VERSION || !(cmd->allowed & ALLOW(c)))
            return usage_error("--%s: not an option of this command", option_name(c));
        if (c == OPT_JSON) {
            json = 1;
        } else if (c == OPT_MISSING_OK) {
            missing_ok = 1;
        } else if (c == OPT_ELEM_SIZE) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(optarg, &end, 10);
            if (errno || *end || end == optarg || optarg[0] == '-' || n == 0 || n > SIZE_MAX)
                return usage_error("--elem-size %s: expected a positive number of bytes", optarg);
            elem_size = (size_t)n;
        } else if (c == OPT_AS) {
            as = optarg;
        } else if (c == OPT_RANGE) {
            range = optarg;
        }
    }
    /* argv + 1 shifted indexes by one: optind counts from the command */
    int first = optind + 1;
    if (argc - first != 1)
        return usage_error("%s: expects exactly one FILE", cmd->name);
    const char *path = argv[first];
    if (strcmp(cmd->name, "info") == 0)
        return cmd_info(path, json);
    if (strcmp(cmd->name, "check") == 0)
        return cmd_check(path, elem_size, missing_ok);
    if (strcmp(cmd->name, "dump") == 0)
        return cmd_dump(path, as, range);
    return cmd_allocate(path);
}
