/* tool/file.h: the diskalloc tool's reads of a vector file beyond its header
 * copies (tool/file.c).  Errors are errno values or DA_E* codes, as the
 * library's, so da_strerror describes them. */
#ifndef DISKALLOC_TOOL_FILE_H
#define DISKALLOC_TOOL_FILE_H

#include <stddef.h>
#include <sys/types.h>

/** Open path (access: O_RDONLY or O_RDWR) if it is still a regular file:
 * no link followed, no terminal taken, no FIFO waited for.  DA_EBADFILE
 * when it is not a regular file. */
int open_regular(const char *path, int access, int *fd_out);
/** Read n bytes at offset at; DA_EBADFILE when the file ends first. */
int read_exact(int fd, unsigned char *buf, size_t n, off_t at);
/** How unallocated bytes were measured: "fiemap", "st_blocks" or "seek_hole"
 * (tool/file.c says when each is used). */
typedef struct {
    const char *method;
    unsigned long long holes;      /* bytes of [0, size) with no block allocated */
    int have_tail;                 /* the method tells where the holes are: */
    unsigned long long tail_holes; /* bytes of [from, size) with no block */
} alloc_count;
/** Count the bytes of a file of size bytes that have no disk block, a
 * fallocated block never written counting as allocated. */
int count_unallocated(int fd, off_t size, off_t from, alloc_count *out);
/** *held = another open file description holds a flock on the file. */
int probe_lock(int fd, int *held);
/** *fresh = the file (size bytes, no valid header copy) is one da_vec_open
 * would open as a new empty vector: a creation cut short. */
int starts_afresh(const char *path, size_t size, int *fresh);

#endif
