/* nthfail.h — the state file of nthfail.so, shared by the shim's parts.
 *
 * One file (NTHFAIL_STATE) per run, mapped by every process of the run's
 * tree, read by faults/campaign (read_state) after the run.  Layout, 64 KiB,
 * little-endian, fixed offsets:
 *   0      64 slots   { char name[40]; u64 calls, fired, spare }  per site and
 *                     "!procs" "!maxfile" "!vmstart" "!vmpeak" (value in calls)
 *   4096   failer     { u32 taken, flags; char object[248] }  who made the
 *                     first failed call (NT_PROGRAM, NT_BEFORE_MAIN)
 *   4352   60 callers { u64 key, calls; char name[48] = "site\tobject" }
 *                     calls per site and calling object
 *   8192   224 files  { u64 key, disk_max, size_max; u32 ready, how;
 *                     char path[224] }  files the run mapped, truncated,
 *                     allocated or wrote: their largest size in blocks and
 *                     in bytes (NT_MAPPED | NT_TRUNCATED | NT_ALLOCATED |
 *                     NT_WROTE)
 */
#ifndef NTHFAIL_H
#define NTHFAIL_H

#include <stdint.h>

struct nt_slot {
    char name[40];
    uint64_t calls, fired, spare;
};
struct nt_failer {
    uint32_t taken, flags;
    char object[248];
};
struct nt_caller {
    uint64_t key, calls;
    char name[48];
};
struct nt_file {
    uint64_t key, disk_max, size_max;
    uint32_t ready, how;
    char path[224];
};
#define NT_SLOTS 64
#define NT_CALLERS 60
#define NT_FILES 224
struct nt_state {
    struct nt_slot slots[NT_SLOTS];
    struct nt_failer failer;
    struct nt_caller callers[NT_CALLERS];
    struct nt_file files[NT_FILES];
};
_Static_assert(sizeof(struct nt_state) == 65536, "the campaign reads fixed offsets");

enum { NT_PROGRAM = 1, NT_BEFORE_MAIN = 2 };
enum { NT_MAPPED = 1, NT_TRUNCATED = 2, NT_ALLOCATED = 4, NT_WROTE = 8 };

extern struct nt_state *nt;   /* the shared state, or a private copy */

/* caller.c: who made a call (by return address) and whether it counts. */
void nt_caller_init(const char *only_from);
int nt_caller_counts(const char *site_name, const void *ret);
void nt_caller_record_failure(const void *ret);

/* files.c: the files a run writes, and their peak size. */
void nt_note_file(int fd, unsigned how);
void nt_note_open_files(void);
int nt_close_raw(int fd);

#endif
