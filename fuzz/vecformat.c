/* The vector file format of hardening contract C11; see vecformat.h. */
#include "vecformat.h"

#include <string.h>

const unsigned char vf_magic[8] = {'D', 'A', 'V', 'E', 'C', 0, 1, 0};
const size_t vf_ctl_elem_sizes[8] = {1, 4, 8, 16, 24, 3, 12, 40};

uint64_t vf_sum(const unsigned char *first48)
{
    uint64_t x = 14695981039346656037ull;
    for (unsigned i = 0; i < VF_SUM_OFF; i++)
        x = (x ^ first48[i]) * 1099511628211ull;
    return x;
}

void vf_put_u32(unsigned char *at, uint32_t x)
{
    for (int i = 0; i < 4; i++)
        at[i] = (unsigned char)(x >> (8 * i));
}

void vf_put_u64(unsigned char *at, uint64_t x)
{
    for (int i = 0; i < 8; i++)
        at[i] = (unsigned char)(x >> (8 * i));
}

static uint32_t get_u32(const unsigned char *at)
{
    uint32_t x = 0;
    for (int i = 3; i >= 0; i--)
        x = x << 8 | at[i];
    return x;
}

static uint64_t get_u64(const unsigned char *at)
{
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = x << 8 | at[i];
    return x;
}

static void encode(unsigned char b[VF_HDR_BYTES], const vf_header *h)
{
    memcpy(b, h->magic, 8);
    vf_put_u32(b + VF_OFF_VERSION, h->version);
    vf_put_u32(b + VF_OFF_HEADER_SIZE, h->header_size);
    vf_put_u64(b + VF_OFF_ELEM_SIZE, h->elem_size);
    vf_put_u64(b + VF_OFF_LEN, h->len);
    vf_put_u64(b + VF_OFF_DATA_OFF, h->data_off);
    vf_put_u64(b + VF_OFF_SEQ, h->seq);
    vf_put_u64(b + VF_SUM_OFF, h->sum);
}

vf_header vf_make(uint32_t version, uint64_t elem_size, uint64_t len, uint64_t data_off,
                  uint64_t seq)
{
    vf_header h;
    memcpy(h.magic, vf_magic, 8);
    h.version = version;
    h.header_size = VF_HDR_BYTES;
    h.elem_size = elem_size;
    h.len = len;
    h.data_off = data_off;
    h.seq = seq;
    h.sum = 0;
    unsigned char b[VF_HDR_BYTES];
    encode(b, &h);
    h.sum = vf_sum(b);
    return h;
}

void vf_put(unsigned char *file, size_t off, const vf_header *h)
{
    encode(file + off, h);
}

void vf_get(const unsigned char *file, size_t size, size_t off, vf_header *h)
{
    unsigned char b[VF_HDR_BYTES] = {0};
    if (off < size)
        memcpy(b, file + off, size - off < VF_HDR_BYTES ? size - off : VF_HDR_BYTES);
    memcpy(h->magic, b, 8);
    h->version = get_u32(b + VF_OFF_VERSION);
    h->header_size = get_u32(b + VF_OFF_HEADER_SIZE);
    h->elem_size = get_u64(b + VF_OFF_ELEM_SIZE);
    h->len = get_u64(b + VF_OFF_LEN);
    h->data_off = get_u64(b + VF_OFF_DATA_OFF);
    h->seq = get_u64(b + VF_OFF_SEQ);
    h->sum = get_u64(b + VF_SUM_OFF);
}

void vf_fix_sum(unsigned char *file, size_t size, size_t off)
{
    if (off + VF_HDR_BYTES <= size)
        vf_put_u64(file + off + VF_SUM_OFF, vf_sum(file + off));
}

int vf_valid(const vf_header *h, size_t off, size_t size)
{
    unsigned char b[VF_HDR_BYTES];
    encode(b, h);
    if (memcmp(h->magic, vf_magic, 8) != 0 || h->sum != vf_sum(b))
        return 0;
    int v1 = h->version == 1 && (off == VF_SLOT_A || off == VF_SLOT_B_V1);
    int v2 = h->version == 2 && (off == VF_SLOT_A || off == VF_SLOT_B_V2);
    if (!v1 && !v2)
        return 0;
    uint64_t min_data = v1 ? VF_MIN_DATA_V1 : VF_MIN_DATA_V2;
    return h->header_size == VF_HDR_BYTES && h->elem_size != 0 &&
           h->data_off % VF_BLOCK == 0 && h->data_off >= min_data && h->data_off <= size &&
           h->len <= (size - h->data_off) / h->elem_size;
}

static void add(vf_expect *e, int kind, uint64_t len, uint64_t data_off)
{
    if (e->n < (int)(sizeof e->o / sizeof e->o[0]))
        e->o[e->n++] = (vf_outcome){kind, len, data_off};
}

static void add_copy(vf_expect *e, const vf_header *h, uint64_t elem_size)
{
    if (h->elem_size == elem_size)
        add(e, VF_OPEN, h->len, h->data_off);
    else
        add(e, VF_BADFILE, 0, 0);
}

static int all_zero(const unsigned char *p, size_t n)
{
    while (n && *p == 0)
        p++, n--;
    return n == 0;
}

void vf_expect_open(const unsigned char *file, size_t size, uint64_t elem_size, vf_expect *e)
{
    static const size_t slots[] = {VF_SLOT_A, VF_SLOT_B_V1, VF_SLOT_B_V2};
    vf_header c[3];
    int n = 0;
    e->n = 0;
    for (int i = 0; i < 3; i++) {
        vf_get(file, size, slots[i], &c[n]);
        n += vf_valid(&c[n], slots[i], size);
    }
    if (n == 0) {
        if (!all_zero(file, size)) {
            add(e, VF_BADFILE, 0, 0);
            return;
        }
        /* a creation cut short leaves 0 or 4096 zero bytes (v1) or 8192 (v2):
         * those must start afresh; C11 says "all zeros" without a size, so
         * other sizes may also be refused */
        add(e, VF_FRESH, 0, 0);
        if (size > VF_MIN_DATA_V1 && size != VF_MIN_DATA_V2)
            add(e, VF_BADFILE, 0, 0);
        return;
    }
    int mixed = 0;
    for (int i = 1; i < n; i++)
        mixed |= c[i].version != c[0].version;
    for (int i = 0; i < n; i++) {
        int newest = 1;
        for (int j = 0; j < n; j++)
            newest &= j == i || (int64_t)(c[i].seq - c[j].seq) > 0;
        if (newest && !mixed) {
            add_copy(e, &c[i], elem_size);
            return;
        }
    }
    /* equal seqs, seqs 2^63 apart, or copies of both versions: C11 does not
     * say which copy wins, so any valid copy may */
    for (int i = 0; i < n; i++)
        add_copy(e, &c[i], elem_size);
    if (mixed)
        add(e, VF_BADFILE, 0, 0);
}
