/* Seed corpus of fuzz/vecfile.c: mkcorpus OUTDIR writes OUTDIR/<name>, each
 * one control byte (element size index; see vecfile.c) + a vector file:
 *   core-vN-*  files the core itself writes, N the version it wrote (kept
 *            when a later core writes another version)
 *   v1-*, v2-*  both layouts of contract C11 built by hand, valid and with one
 *            crafted field (checksum recomputed unless the name says badsum)
 *   zeros-*, junk-*, trunc-*  files with no header at all
 * Deterministic: rerun after a format change, then review `git diff`.
 * Seeds named regress-* are crash inputs committed by hand; never touched. */
#define _GNU_SOURCE
#include "diskalloc.h"
#include "vecformat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *outdir;
static int written;

static void die(const char *what)
{
    fprintf(stderr, "mkcorpus: %s: %s\n", what, strerror(errno));
    exit(1);
}

static unsigned ctl_of(size_t es)
{
    for (unsigned i = 0; i < 8; i++)
        if (vf_ctl_elem_sizes[i] == es)
            return i;
    fprintf(stderr, "mkcorpus: no control value for elem_size %zu\n", es);
    exit(1);
}

static void emit(const char *name, unsigned ctl, const unsigned char *file, size_t size)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", outdir, name);
    FILE *f = fopen(p, "wb");
    unsigned char c = (unsigned char)ctl;
    if (!f || fwrite(&c, 1, 1, f) != 1 || (size && fwrite(file, 1, size, f) != size) ||
        fclose(f) != 0)
        die(p);
    written++;
}

static unsigned char elem_byte(size_t i)
{
    return (unsigned char)(i * 37 + 11);
}

/* ---- hand-built layouts ----------------------------------------------------- */

typedef struct {
    unsigned char *b;
    size_t size, es, data_off, slot_a, slot_b, newest, older;
    uint64_t len;
} layout;

static size_t round_block(size_t n)
{
    return (n + VF_BLOCK - 1) / VF_BLOCK * VF_BLOCK;
}

/* A valid file of the given version: len elements of es bytes; the newer
 * copy (higher seq, wrap-safe) says len, the older len / 2. */
static layout make(uint32_t version, size_t es, uint64_t len, uint64_t seq_a, uint64_t seq_b)
{
    layout l;
    l.es = es;
    l.len = len;
    l.data_off = version == 1 ? VF_MIN_DATA_V1 : VF_MIN_DATA_V2;
    l.size = l.data_off + round_block(len * es);
    l.b = calloc(1, l.size + VF_BLOCK);
    if (!l.b)
        die("calloc");
    for (size_t i = 0; i < len * es; i++)
        l.b[l.data_off + i] = elem_byte(i);
    l.slot_a = VF_SLOT_A;
    l.slot_b = version == 1 ? VF_SLOT_B_V1 : VF_SLOT_B_V2;
    int a_newer = (int64_t)(seq_a - seq_b) > 0;
    l.newest = a_newer ? l.slot_a : l.slot_b;
    l.older = a_newer ? l.slot_b : l.slot_a;
    vf_header ha = vf_make(version, es, a_newer ? len : len / 2, l.data_off, seq_a);
    vf_header hb = vf_make(version, es, a_newer ? len / 2 : len, l.data_off, seq_b);
    vf_put(l.b, l.slot_a, &ha);
    vf_put(l.b, l.slot_b, &hb);
    return l;
}

static void patch32(layout *l, size_t slot, size_t field, uint32_t x)
{
    vf_put_u32(l->b + slot + field, x);
    vf_fix_sum(l->b, l->size, slot);
}

static void patch64(layout *l, size_t slot, size_t field, uint64_t x)
{
    vf_put_u64(l->b + slot + field, x);
    vf_fix_sum(l->b, l->size, slot);
}

static void out(const char *name, layout *l, unsigned ctl)
{
    emit(name, ctl, l->b, l->size);
    free(l->b);
}

static void hand_built(uint32_t v)
{
    char n[128];
    const size_t sizes[] = {1, 8, 24, 3};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t es = sizes[i];
        layout l = make(v, es, 50, 6, 5);
        snprintf(n, sizeof n, "v%u-e%zu-a-newest-tear", v, es);
        emit(n, ctl_of(es) | VF_CTL_TEAR, l.b, l.size);
        snprintf(n, sizeof n, "v%u-e%zu-a-newest", v, es);
        out(n, &l, ctl_of(es));
        l = make(v, es, 50, 6, 7);
        snprintf(n, sizeof n, "v%u-e%zu-b-newest-tear", v, es);
        emit(n, ctl_of(es) | VF_CTL_TEAR, l.b, l.size);
        snprintf(n, sizeof n, "v%u-e%zu-b-newest", v, es);
        out(n, &l, ctl_of(es));
    }
    unsigned c8 = ctl_of(8);
#define SEED(suffix, ...)                                                     \
    do {                                                                      \
        snprintf(n, sizeof n, "v%u-%s", v, suffix);                           \
        layout l = make(v, 8, 40, 9, 8);                                      \
        __VA_ARGS__;                                                          \
        out(n, &l, c8);                                                       \
    } while (0)
    SEED("len0", patch64(&l, l.newest, VF_OFF_LEN, 0));
    /* file ends exactly after the last element: no page rounding */
    SEED("exact-size", l.size = l.data_off + 40 * 8);
    SEED("hsize-newest", patch32(&l, l.newest, VF_OFF_HEADER_SIZE, 4000));
    SEED("hsize-both", patch32(&l, l.newest, VF_OFF_HEADER_SIZE, 4000);
         patch32(&l, l.older, VF_OFF_HEADER_SIZE, 0));
    SEED("hsize-57-only", patch32(&l, l.newest, VF_OFF_HEADER_SIZE, 57);
         memset(l.b + l.older, 0, VF_HDR_BYTES));
    /* the newest copy at slot B with seq 2^64-1: the next sync is seq 0 */
    SEED("seqmax-b", patch64(&l, l.slot_b, VF_OFF_SEQ, UINT64_MAX);
         patch64(&l, l.slot_b, VF_OFF_LEN, 40); patch64(&l, l.slot_a, VF_OFF_SEQ, UINT64_MAX - 1);
         patch64(&l, l.slot_a, VF_OFF_LEN, 20));
    SEED("seqmax-a", patch64(&l, l.slot_a, VF_OFF_SEQ, UINT64_MAX);
         patch64(&l, l.slot_b, VF_OFF_SEQ, UINT64_MAX - 1));
    /* seq 0 follows 2^64-1: copy A (seq 0, len 20) is the newer one */
    SEED("seqwrap-a0", patch64(&l, l.slot_a, VF_OFF_SEQ, 0); patch64(&l, l.slot_a, VF_OFF_LEN, 20);
         patch64(&l, l.slot_b, VF_OFF_SEQ, UINT64_MAX); patch64(&l, l.slot_b, VF_OFF_LEN, 40));
    SEED("seq-equal", patch64(&l, l.older, VF_OFF_SEQ, 9));
    SEED("lenpast-newest", patch64(&l, l.newest, VF_OFF_LEN, (l.size - l.data_off) / 8 + 1));
    SEED("lenpast-only", patch64(&l, l.newest, VF_OFF_LEN, (l.size - l.data_off) / 8 + 1);
         l.b[l.older + VF_SUM_OFF] ^= 1);
    SEED("lenhuge-newest", patch64(&l, l.newest, VF_OFF_LEN, UINT64_MAX / 8 + 2));
    SEED("trunc-data", l.size = l.data_off + 30 * 8); /* newest len 40 no longer fits; older 20 does */
    SEED("dataoff-misaligned", patch64(&l, l.newest, VF_OFF_DATA_OFF, l.data_off + 512));
    SEED("dataoff-misaligned-both", patch64(&l, l.newest, VF_OFF_DATA_OFF, l.data_off + 8);
         patch64(&l, l.older, VF_OFF_DATA_OFF, l.data_off - 8));
    SEED("dataoff-low", patch64(&l, l.newest, VF_OFF_DATA_OFF, l.data_off - VF_BLOCK));
    SEED("dataoff-zero-both", patch64(&l, l.newest, VF_OFF_DATA_OFF, 0);
         patch64(&l, l.older, VF_OFF_DATA_OFF, 0));
    SEED("dataoff-past", patch64(&l, l.newest, VF_OFF_DATA_OFF, l.size + VF_BLOCK));
    SEED("dataoff-huge", patch64(&l, l.newest, VF_OFF_DATA_OFF, UINT64_MAX - 4095));
    SEED("elem0-newest", patch64(&l, l.newest, VF_OFF_ELEM_SIZE, 0));
    SEED("elem-mismatch-newest", patch64(&l, l.newest, VF_OFF_ELEM_SIZE, 4));
    SEED("elem-mismatch-older", patch64(&l, l.older, VF_OFF_ELEM_SIZE, 4));
    SEED("badsum-newest", l.b[l.newest + VF_SUM_OFF] ^= 0x80);
    SEED("badmagic-both", l.b[l.newest] = 'X'; l.b[l.older + 7] = 9);
    SEED("version3-newest", patch32(&l, l.newest, VF_OFF_VERSION, 3));
    SEED("version-swapped", patch32(&l, l.newest, VF_OFF_VERSION, 3 - v);
         patch32(&l, l.older, VF_OFF_VERSION, 3 - v));
    SEED("copy-a-only", memset(l.b + l.slot_b, 0, VF_HDR_BYTES));
    SEED("copy-b-only", memset(l.b + l.slot_a, 0, VF_HDR_BYTES));
    /* the checksums are recomputed by the target (control bits 3-5) */
    SEED("fixup-sums", l.b[l.slot_a + VF_SUM_OFF] ^= 0xff; l.b[l.slot_b + VF_SUM_OFF] ^= 0xff;
         c8 |= VF_CTL_FIX_A | (v == 1 ? VF_CTL_FIX_B1 : VF_CTL_FIX_B2));
    c8 = ctl_of(8);
    /* the copy in force (A) has an odd seq: a sync that picks its slot by
     * parity overwrites it, and a torn write then loses both syncs */
    SEED("tear-odd-seq-in-a", c8 |= VF_CTL_TEAR);
    SEED("tear-seqmax-b", patch64(&l, l.slot_b, VF_OFF_SEQ, UINT64_MAX);
         patch64(&l, l.slot_a, VF_OFF_SEQ, UINT64_MAX - 1));
    c8 = ctl_of(8);
    SEED("elem4-file-elem8", c8 = ctl_of(4));
    c8 = ctl_of(8);
    /* this layout's copy B where the other version puts it */
    SEED("copy-b-misplaced", {
        vf_header h = vf_make(v, 8, 40, l.data_off, 9);
        memset(l.b, 0, l.data_off);
        vf_put(l.b, v == 1 ? VF_SLOT_B_V2 : VF_SLOT_B_V1, &h);
    });
    /* a valid copy of the other version next to a valid one: C11 leaves open which wins */
    if (v == 2)
        SEED("mixed-v1-copy-at-512", {
            vf_header h = vf_make(1, 8, 10, VF_MIN_DATA_V1, 20);
            vf_put(l.b, VF_SLOT_B_V1, &h);
        });
#undef SEED
}

static void headerless(void)
{
    unsigned char *z = calloc(1, 3 * VF_BLOCK);
    if (!z)
        die("calloc");
    unsigned c8 = ctl_of(8);
    emit("zeros-0", c8, z, 0);
    emit("zeros-100", ctl_of(1), z, 100);
    emit("zeros-4096", c8, z, VF_BLOCK);
    emit("zeros-8192", ctl_of(24), z, 2 * VF_BLOCK);
    emit("zeros-12288", c8, z, 3 * VF_BLOCK);
    for (size_t i = 0; i < 100; i++)
        z[i] = (unsigned char)(i * 7 + 1);
    emit("junk-100", c8, z, 100);
    free(z);

    layout l = make(1, 8, 10, 2, 1);
    emit("trunc-v1-header-30", c8, l.b, 30);
    emit("trunc-v1-at-600", c8, l.b, 600);
    free(l.b);
    l = make(2, 8, 10, 2, 1);
    emit("trunc-v2-at-4100", c8, l.b, 4100);
    free(l.b);
}

/* ---- files the core writes ---------------------------------------------------- */

static void core_file(const char *dir, size_t es, size_t n, int syncs, unsigned ctl_bits,
                      const char *name)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/f", dir);
    unlink(p);
    da_config cfg = {.reserve = (size_t)64 << 20, .dir = NULL, .flags = 0};
    da_vec v;
    unsigned char e[64];
    int err = da_vec_open(&v, p, es, &cfg);
    for (size_t i = 0; err == 0 && i < n; i++) {
        for (size_t k = 0; k < es; k++)
            e[k] = elem_byte(i * es + k);
        err = da_vec_push(&v, e);
        if (err == 0 && syncs > 1 && i == n / 2)
            err = da_vec_sync(&v);
    }
    if (err == 0)
        err = syncs > 0 ? da_vec_sync(&v) : 0;
    if (err == 0) /* growth is amortized: keep the seed small */
        err = da_vec_shrink_to_fit(&v);
    int ec = da_vec_close(&v);
    if (err || ec) {
        fprintf(stderr, "mkcorpus: core file %s: %s\n", name, da_strerror(err ? err : ec));
        exit(1);
    }
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    off_t size = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
    unsigned char *b = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (!b || pread(fd, b, (size_t)size, 0) != size)
        die(p);
    close(fd);
    unlink(p);
    /* named by the version the core wrote: after a format change the old
     * core's files stay in the corpus as files users have */
    vf_header h;
    vf_get(b, (size_t)size, VF_SLOT_A, &h);
    char full[160];
    snprintf(full, sizeof full, "core-v%u-%s", (unsigned)h.version, name);
    emit(full, ctl_of(es) | ctl_bits, b, (size_t)size);
    free(b);
}

static void core_written(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[4096], n[128];
    snprintf(dir, sizeof dir, "%s/mkcorpus.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        die("mkdtemp");
    for (unsigned i = 0; i < 8; i++) {
        size_t es = vf_ctl_elem_sizes[i], count = 3 + 17 * i;
        /* close syncs once more: 1 or 2 syncs put the last header in either slot */
        snprintf(n, sizeof n, "e%zu-n%zu-s1", es, count);
        core_file(dir, es, count, 1, 0, n);
        snprintf(n, sizeof n, "e%zu-n%zu-s2", es, count);
        core_file(dir, es, count, 2, 0, n);
    }
    core_file(dir, 8, 0, 0, 0, "e8-empty");
    core_file(dir, 8, 9, 1, VF_CTL_TEAR, "e8-n9-tear");
    core_file(dir, 1, 5000, 1, 0, "e1-n5000-s1");
    rmdir(dir);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkcorpus OUTDIR\n");
        return 2;
    }
    outdir = argv[1];
    hand_built(1);
    hand_built(2);
    headerless();
    core_written();
    printf("mkcorpus: %d seeds in %s\n", written, outdir);
    return 0;
}
