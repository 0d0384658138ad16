/* The persistent vector file format, written from the contract (hardening
 * contract C11), not from the core: the fuzz target's oracle and the corpus
 * generator both use it, so a core that drifts from the contract is caught
 * instead of being copied.
 *
 * Header copy (56 bytes, little-endian): magic[8] "DAVEC\0\1\0", u32 version,
 * u32 header_size (= 56), u64 elem_size, u64 len, u64 data_off, u64 seq,
 * u64 sum (FNV-1a 64 of the 48 bytes before it).
 *   v1: copy A at 0, copy B at 512,  data_off >= 4096
 *   v2: copy A at 0, copy B at 4096, data_off >= 8192
 * data_off is a multiple of 4096.  The newest valid copy (wrap-safe seq) is
 * in force; an all-zero file starts afresh; else DA_EBADFILE. */
#ifndef FUZZ_VECFORMAT_H
#define FUZZ_VECFORMAT_H

#include <stddef.h>
#include <stdint.h>

#define VF_HDR_BYTES 56u
#define VF_SUM_OFF 48u
#define VF_SLOT_A 0u
#define VF_SLOT_B_V1 512u
#define VF_SLOT_B_V2 4096u
#define VF_BLOCK 4096u
#define VF_MIN_DATA_V1 4096u
#define VF_MIN_DATA_V2 8192u

/* field offsets inside a copy, for patching crafted values */
#define VF_OFF_VERSION 8u
#define VF_OFF_HEADER_SIZE 12u
#define VF_OFF_ELEM_SIZE 16u
#define VF_OFF_LEN 24u
#define VF_OFF_DATA_OFF 32u
#define VF_OFF_SEQ 40u

extern const unsigned char vf_magic[8];

typedef struct vf_header {
    unsigned char magic[8];
    uint32_t version, header_size;
    uint64_t elem_size, len, data_off, seq, sum;
} vf_header;

uint64_t vf_sum(const unsigned char *first48);
/* A well-formed copy of the given version with its checksum. */
vf_header vf_make(uint32_t version, uint64_t elem_size, uint64_t len, uint64_t data_off,
                  uint64_t seq);
/* Store h (as is: its sum is not recomputed) at file + off. */
void vf_put(unsigned char *file, size_t off, const vf_header *h);
/* Read the copy at off; bytes past size read as zero (as through a mapping). */
void vf_get(const unsigned char *file, size_t size, size_t off, vf_header *h);
/* Recompute the checksum of the copy at off in place, if it lies in the file. */
void vf_fix_sum(unsigned char *file, size_t size, size_t off);
void vf_put_u32(unsigned char *at, uint32_t x);
void vf_put_u64(unsigned char *at, uint64_t x);
/* Every C11 check of one copy read at slot offset off in a file of size bytes. */
int vf_valid(const vf_header *h, size_t off, size_t size);

/* What da_vec_open may do with a file: each outcome is DA_EBADFILE or an open
 * vector of len elements whose bytes are the file's at data_off (VF_FRESH: a
 * new empty vector).  More than one outcome only where C11 does not decide. */
enum { VF_BADFILE, VF_OPEN, VF_FRESH };
typedef struct vf_outcome {
    int kind;
    uint64_t len, data_off;
} vf_outcome;
typedef struct vf_expect {
    int n;
    vf_outcome o[8];
} vf_expect;

void vf_expect_open(const unsigned char *file, size_t size, uint64_t elem_size, vf_expect *e);

/* The fuzz input: a control byte, then the file.  The generator writes it,
 * the target reads it. */
extern const size_t vf_ctl_elem_sizes[8]; /* indexed by control & VF_CTL_ELEM */
#define VF_CTL_ELEM 0x07u
#define VF_CTL_FIX_A 0x08u  /* recompute the checksum of the copy at 0 */
#define VF_CTL_FIX_B1 0x10u /* ... at 512 */
#define VF_CTL_FIX_B2 0x20u /* ... at 4096 */
#define VF_CTL_TEAR 0x40u   /* tear each sync's header write */

#endif
