/* diskalloc — vectors larger than RAM, kept in a file instead of in memory.
 *
 * An arena reserves a large range of address space (512 GiB by default) with
 * one MAP_SHARED|MAP_NORESERVE mapping over a file that starts at 0 bytes, and
 * grows or shrinks the file as its contents grow or shrink.  The base address
 * never moves; the kernel pages data in and out.
 *
 * Vendoring: copy diskalloc.h and diskalloc.c into your tree; C11 on Linux,
 * libc only.  Build with -DFIU_ENABLE (and -lfiu) to turn on the libfiu fail
 * points listed by da_failpoint_names(); without it they compile to nothing.
 *
 * Error model (as in LMDB): every fallible call returns
 *   0       on success,
 *   > 0     an errno value passed through from the system (ENOSPC, EFBIG, ...),
 *   < 0     one of the DA_E* codes below, detected by the library itself.
 * da_strerror() names the cause and the remedy for both kinds.
 * On failure nothing changes: length, capacity, contents, file size, mapping.
 * The library never aborts, asserts on its input, prints, or exits.
 *
 * Threads: an arena (and the vectors in it) is used by one thread at a time,
 * like a Vec.  Distinct arenas share nothing and may be used concurrently.
 *
 * fork: a child's copies of the arenas and vectors open at the fork are inert.
 * Every call that would change the file, its lock or a vector returns
 * DA_EFORKED there and changes nothing (da_free does nothing); reading through
 * data, da_vec_at and the accessors works, on pages shared with the parent
 * (stores made there through data reach the parent's file; an element the
 * parent has since cut from its file is SIGBUS to read, as for any mapping).  Closing a copy
 * in the child releases the child's mapping and descriptor only: the parent
 * keeps its lock, its file size and its data.  Descriptors are O_CLOEXEC.
 */
#ifndef DISKALLOC_H
#define DISKALLOC_H

#include <stddef.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DA_VERSION_MAJOR 1
#define DA_VERSION_MINOR 0

/** Address space each arena reserves unless configured otherwise. */
#define DA_DEFAULT_RESERVE ((size_t)512 << 30)

/** @defgroup errors Library error codes (negative; errno values are positive)
 * @{ */
#define DA_ECAPACITY (-30801) /**< request beyond this arena's reservation */
#define DA_EOVERFLOW (-30802) /**< size arithmetic would overflow */
#define DA_EBADFILE  (-30803) /**< not a diskalloc vector file, or another element size / version */
#define DA_EPOISONED (-30804) /**< an earlier I/O error makes the data untrustworthy */
#define DA_EEMPTY    (-30805) /**< pop from an empty vector */
#define DA_EINVAL    (-30806) /**< invalid argument (NULL, zero size, alignment not a power of two, ...) */
#define DA_EFORKED   (-30807) /**< a copy inherited through fork(): it may not change the parent's file */
/** @} */

/** Describe an error code of either kind: its cause and what to do about it.
 * Never NULL.  For an ENOMEM that came from an arena's reservation (the last
 * ENOMEM this thread got from the library), the text says how many arenas of
 * how many bytes this process holds.  The string is valid until the next
 * da_strerror call in the same thread. */
const char *da_strerror(int err);

/** da_config.flags: grow the file with ftruncate only, as the Rust crate
 * diskallocator does, and leave a file's holes as they are at open.  Growth
 * is then sparse: on a full disk any store into the file — yours, or the
 * library's own header writes of a persistent vector — kills the process
 * with SIGBUS.  Unsafe; for comparison. */
#define DA_SPARSE 1u

typedef struct da_config {
    size_t reserve;   /**< address space to reserve; 0 = DISKALLOC_RESERVE env var
                           ("64G", "512M", "1T", plain bytes), else DA_DEFAULT_RESERVE */
    const char *dir;  /**< temp-file directory; NULL = $TMPDIR, else /var/tmp */
    unsigned flags;   /**< DA_SPARSE or 0 */
} da_config;          /* a NULL config means all defaults */

typedef struct da_arena da_arena; /* opaque */

/** Open an arena over a new unnamed temp file (O_TMPFILE, else mkostemp +
 * unlink; mode 0600, O_CLOEXEC) in cfg->dir.  The file starts at 0 bytes.
 * Where O_TMPFILE is missing, a process killed between mkostemp and unlink
 * (or an unlink that fails) leaves a file named diskalloc-XXXXXX behind.
 * @param[out] out  the arena, or NULL on failure
 * @return 0; DA_EINVAL (bad config or DISKALLOC_RESERVE); DA_EOVERFLOW (a
 *   reserve within a page of SIZE_MAX); ENOMEM (no free
 *   address range of the reserve's size: too many arenas, or RLIMIT_AS);
 *   errno of open/mkostemp/unlink/mmap (EACCES, ENOENT, EROFS, ...). */
int da_arena_open(da_arena **out, const da_config *cfg);

/** Open an arena over the caller's regular file.  fd must be open for
 * reading and writing; the arena opens the same file again through
 * /proc/thread-self/fd, else /proc/self/fd (its own open file description:
 * the caller's O_APPEND or other status flags do not affect it; the caller
 * keeps and closes its own fd).  The
 * file's bytes are kept and mapped at the base, and count as allocated:
 * da_alloc places blocks after them.  Holes in the file (a sparse copy) are
 * allocated first, so that stores into the file's bytes cannot meet a full
 * disk.  The arena's description is locked (flock LOCK_EX|LOCK_NB) while the
 * arena is open: a lock the caller holds on the file, through fd or any other
 * descriptor, conflicts, and a failed call never touches the caller's lock.
 * POSIX record locks (fcntl F_SETLK) are another matter: they do not conflict
 * with flock, and POSIX drops all of a process's record locks on a file when
 * any of its descriptors of that file is closed, the library's included: use
 * flock or open file description locks (F_OFD_SETLK) on files you share.
 * @return 0; DA_EINVAL (fd not open O_RDWR, an O_PATH descriptor, not a
 *   regular file, a closed fd, bad config); DA_ECAPACITY (file larger than
 *   the reserve); EWOULDBLOCK (another handle holds the file, including the
 *   caller's own flock or an arena already open over fd); ENOSPC/EDQUOT (the
 *   file's holes do not fit on the disk; the file is unchanged, though blocks
 *   allocated before the error may stay allocated); ENOMEM; errno of
 *   open(/proc/thread-self/fd/N: ENOENT without /proc)/fstat/flock/fallocate/lseek/
 *   pwrite/mmap; EFBIG (holes past ulimit -f where fallocate is missing). */
int da_arena_open_fd(da_arena **out, int fd, const da_config *cfg);

/** Unmap, close the file and free the arena.  Does not sync: call
 * da_arena_sync first if the bytes must be durable.  NULL is a no-op.
 * In a forked child: releases the child's copy only, returns 0.
 * @return 0, the sticky I/O error if one happened, or munmap's errno: the
 *   arena is gone either way; DA_EINVAL, and nothing done, for the arena of a
 *   vector (da_vec_close closes it). */
int da_arena_close(da_arena *a);

void  *da_arena_base(const da_arena *a);     /**< start of the reservation; never moves */
size_t da_arena_size(const da_arena *a);     /**< bytes backed by the file (its size) */
size_t da_arena_reserved(const da_arena *a); /**< bytes of address space reserved */
int    da_arena_error(const da_arena *a);    /**< the sticky I/O error, or 0; DA_EINVAL for NULL */

/** Set the file's size.  Growth allocates disk blocks (fallocate) so that a
 * full disk is reported here, not by SIGBUS on a later store; shrinking
 * releases blocks.  Blocks handed out by da_alloc beyond the new size are
 * gone: mix the raw and allocator interfaces only if you own the layout.
 * @return 0; DA_EINVAL (NULL, or the arena of a vector: see da_vec_arena);
 *   DA_ECAPACITY (size > reserved); DA_EPOISONED; DA_EFORKED; ENOSPC, EDQUOT,
 *   EFBIG (file-size limit, checked before the call so SIGXFSZ is never
 *   raised), EIO, EINTR, ... from fallocate/ftruncate/pwrite.  Nothing is
 *   poisoned by a failed resize. */
int da_arena_resize(da_arena *a, size_t size);

/** Write dirty pages to the file and flush it (msync MS_SYNC + fsync).
 * The first failure (any errno, EINTR included: the kernel may have dropped
 * dirty pages) is sticky: this and later syncs, da_arena_close and every
 * write through the API report it (writes as DA_EPOISONED).
 * @return 0; the sticky error; DA_EINVAL (NULL); DA_EFORKED. */
int da_arena_sync(da_arena *a);

/* The allocator contract (Rust's Allocator: allocate / grow / shrink /
 * deallocate).  A bump allocator: the last block grows and shrinks in place
 * by moving the end of the file; growing any other block allocates at the end
 * and copies; freed blocks that are not last release their disk pages (hole
 * punching) but not their address range.  Any power-of-two alignment is
 * honoured, for the address.  A zero-size request yields a non-NULL,
 * aligned pointer outside the arena, which da_free ignores.
 * A vector's own arena (da_vec_arena of a vector from da_vec_init or
 * da_vec_open) holds only that vector, so that its data never moves: these
 * calls refuse it with DA_EINVAL, and da_free ignores it.
 * Errors: DA_EINVAL, DA_ECAPACITY, DA_EPOISONED, DA_EFORKED, and the
 * errors of da_arena_resize (da_shrink of the last block, to 0 bytes too,
 * reports a refused truncation).  On failure *p / *out is unchanged. */
int  da_alloc(da_arena *a, size_t size, size_t align, void **out);
int  da_alloc_zeroed(da_arena *a, size_t size, size_t align, void **out);
int  da_grow(da_arena *a, void **p, size_t old_size, size_t new_size, size_t align);
int  da_grow_zeroed(da_arena *a, void **p, size_t old_size, size_t new_size, size_t align);
int  da_shrink(da_arena *a, void **p, size_t old_size, size_t new_size, size_t align);
/** Never fails: if the system refuses to shrink the file, the space stays
 * for reuse by the next allocation.  Once the arena is poisoned the file is
 * left as it is. */
void da_free(da_arena *a, void *p, size_t size);

/* Vectors.  Public fields are read-only for users. */
typedef struct da_vec {
    void *data;       /**< elements; never moves in an own arena */
    size_t len;       /**< elements in use */
    size_t cap;       /**< elements that fit without growing the file */
    size_t elem_size; /**< bytes per element */
    /* private */
    da_arena *arena_;
    const int *poison_;          /* nonzero refuses writes (sticky error, fork): fast path */
    unsigned long long seq_;     /* persistent: sequence of the last header written */
    size_t synced_len_;          /* persistent: length in the last durable header */
    size_t head_;                /* offset of the data's block in the file */
    size_t bytes_;               /* bytes of the data's block in the arena */
    unsigned char own_arena_;    /* the vector opened the arena and closes it */
    unsigned char persistent_;   /* da_vec_open */
} da_vec;

/** A vector in its own arena over a temp file: its data pointer never moves
 * (the arena takes no other blocks: see the allocator).
 * @return 0; DA_EINVAL (elem_size 0); the errors of da_arena_open.
 *   On failure *v is zeroed, so da_vec_close(v) is still safe. */
int da_vec_init(da_vec *v, size_t elem_size, const da_config *cfg);
/** A vector sharing arena a with other blocks (correct, slower: growing a
 * block that is not last copies it).  The arena must outlive the vector.
 * @return 0; DA_EINVAL (elem_size 0, NULL, or a when it is another vector's
 *   own arena). */
int da_vec_init_in(da_vec *v, size_t elem_size, da_arena *a);
/** Create or reopen a persistent vector file at path (mode 0600, O_NOFOLLOW:
 * a symlink is refused with ELOOP).  A path that is not a regular file (a
 * terminal, FIFO, device, directory, socket) is never opened for writing:
 * DA_EBADFILE, with no side effect.  The file has a header (magic, version,
 * element size, length, data offset, sequence, checksum) in two copies in
 * separate 4 KiB blocks, written alternately, and page-aligned data; every
 * field is checked, and when the newer copy is damaged the older one is used.
 * A file that is empty or all zeros (up to 8 KiB, or a page where pages are
 * larger) is one whose creation was cut short: it becomes an empty vector.  A
 * file that holds no header for elem_size is refused before anything else is
 * done to it.  Holes in the file (a sparse copy) are allocated at open, so
 * that stores into capacity cannot meet a full disk.  A persistent vector
 * needs a reserve of at least 8 KiB (its two header blocks).  A new file's
 * directory must be readable (its entry is synced through it).  A new file's
 * first header and its directory entry are made durable before the open
 * returns; a failed open removes a file it created (unless another handle
 * opened and locked the new file meanwhile: it is theirs).  A file removed or
 * replaced between its open and its lock is never used: the open starts over
 * with what the path names now.  Only one handle at a time may hold a file
 * open: a second open, in this or another process, fails with EWOULDBLOCK
 * (also returned when the path keeps changing under the open).
 * @return 0; DA_EBADFILE (not a diskalloc vector file, other element size or
 *   version, damaged headers, data shorter than its length, or not a regular
 *   file); EWOULDBLOCK; DA_EINVAL; DA_ECAPACITY (file larger than the
 *   reserve, or a reserve below 8 KiB); ELOOP; ENOSPC/EDQUOT (holes that do
 *   not fit); EFBIG (holes past ulimit -f on a file system without
 *   fallocate); errno of open/flock/fstat/pread/lseek/mmap/fallocate/
 *   ftruncate/pwrite/msync/fsync. */
int da_vec_open(da_vec *v, const char *path, size_t elem_size, const da_config *cfg);
/** Release the vector.  A persistent vector is synced first and its
 * error returned.  An own arena is closed; in a shared arena the block is
 * freed.  *v is zeroed; closing a zeroed vector is a no-op returning 0.
 * In a forked child: no sync, nothing freed in the file; returns 0. */
int da_vec_close(da_vec *v);

/** Room for at least len + additional elements; amortized (capacity at
 * least doubles up to 1 GiB, then grows by 1 GiB steps: no copy ever happens
 * in an own arena, so big steps would only reserve disk early).  When the
 * step does not fit (disk or reservation nearly full) it is halved until it
 * does, down to the exact need; only if that fails is the error returned.
 * Write-behind: a vector in its own arena longer than a quarter of RAM
 * (DISKALLOC_WRITEBEHIND="64M" sets it, "off" or an unparsable value turns it
 * off) starts writeback of its elements at each growth, and evicts the pages
 * more than a quarter that far behind its end once they are written (they read
 * back from the file as usual), so that a vector larger than RAM streams at
 * the disk's speed and holds a bounded part of the page cache.  An I/O error
 * there is sticky, as from da_arena_sync: the growing call (this one, push,
 * extend, try_reserve_exact) returns it, later writes DA_EPOISONED, and
 * nothing else changes.
 * @return 0; DA_EINVAL; DA_EOVERFLOW; DA_EPOISONED; DA_EFORKED; the errors
 *   of da_arena_resize (the growth); EIO, ENOSPC, ... of the write-behind
 *   (sync_file_range, under the msync fail point), which poison the arena. */
int da_vec_try_reserve(da_vec *v, size_t additional);
/** Room for len + additional elements, rounded up to whole pages. */
int da_vec_try_reserve_exact(da_vec *v, size_t additional);
int da_vec_push(da_vec *v, const void *elem);
/** Append n elements; elems may point into the vector itself.  In an own
 * arena, n elements of 16 KiB or more bound for pages the vector never reached
 * before go to the file with pwrite (no page fault, no zero-filled page; the
 * mapping shows them at once); if pwrite fails, stores through the mapping
 * finish the job, so its errors never reach the caller.  Errors as
 * da_vec_try_reserve. */
int da_vec_extend(da_vec *v, const void *elems, size_t n);
/** Remove the last element, copying it to out unless out is NULL.
 * @return 0; DA_EEMPTY when empty; DA_EPOISONED. */
int da_vec_pop(da_vec *v, void *out);
/** Drop elements from len on; no-op if len >= v->len.  Keeps capacity.
 * Only the length in memory changes (never the file), so it works on a
 * poisoned vector and on a forked child's copy too. */
void da_vec_truncate(da_vec *v, size_t len);
/** Give file space beyond the length back.  In an own arena the file shrinks
 * to the length rounded up to a page; a persistent vector keeps room for the
 * length of its last successful sync too (call da_vec_sync first to release
 * more: this call never writes a header).  In a shared arena the block shrinks
 * in place: the file shrinks when the block is last, otherwise the freed
 * pages are punched out.  On failure nothing changed.
 * @return 0; DA_EINVAL; DA_EPOISONED; DA_EFORKED; errno of ftruncate. */
int da_vec_shrink_to_fit(da_vec *v);
/** Make the data durable, then the length that covers it (persistent vector:
 * data msync, header write, msync, fsync).  A process killed or a machine
 * that loses power at any moment reopens with the length and appended bytes
 * of its last successful sync, or, when it stopped inside a sync, with that
 * sync's.  A sync that fails while its header is written (the data was made
 * durable before) may likewise leave that sync's length durable: the kernel
 * can write the header page back whatever the call returns.  Temp vectors:
 * da_arena_sync.  Errors are sticky, as for da_arena_sync. */
int da_vec_sync(da_vec *v);
/** @defgroup advice da_vec_advise: how the vector will be read (bits)
 * @{ */
#define DA_ADVICE_NORMAL     0u /**< default readahead and fault-around */
#define DA_ADVICE_SEQUENTIAL 1u /**< in order: read ahead harder (a scan) */
#define DA_ADVICE_RANDOM     2u /**< scattered: read only the page a load needs */
#define DA_ADVICE_WILLNEED   4u /**< start reading the elements in now */
#define DA_ADVICE_DONTNEED   8u /**< not soon: write back and evict its clean pages */
/** @} */

/** Tell the kernel how the vector will be accessed: one pattern (NORMAL,
 * SEQUENTIAL or RANDOM), optionally with WILLNEED or DONTNEED.  It applies to
 * the capacity the vector has now (call it again after growing) and to the
 * file's readahead; the pattern stays until changed.  Advice only: no byte,
 * length, capacity, size or lock changes, nothing is synced, no error becomes
 * sticky (DONTNEED's writeback reports its errors at the next sync), and a
 * vector of capacity 0 is a no-op.  Allowed on a poisoned vector (it only
 * reads).  Uses madvise and posix_fadvise, without fail points: advice the
 * kernel cannot take (an old kernel, one without THP) is left out.
 * @return 0; DA_EINVAL (NULL or closed vector, unknown bits, SEQUENTIAL with
 *   RANDOM, WILLNEED with DONTNEED); DA_EFORKED (a copy inherited through
 *   fork: the file's readahead state is the parent's). */
int da_vec_advise(da_vec *v, unsigned advice);

/** Address of element i, or NULL when i >= len. */
void *da_vec_at(const da_vec *v, size_t i);
/** The arena holding the vector's data (NULL for a closed vector). */
da_arena *da_vec_arena(const da_vec *v);

/** One header copy of a persistent vector file, as da_vec_inspect read it. */
typedef struct da_header_info {
    size_t offset;                /**< where the copy lies in the file */
    int valid;                    /**< it passes every check da_vec_open makes */
    unsigned version;             /**< the fields as stored (0s when the file is too short) */
    unsigned long long seq, elem_size, len, data_off;
} da_header_info;

/** What da_vec_inspect found in a persistent vector file. */
typedef struct da_file_info {
    size_t file_size;
    int in_force;                 /**< index in copies[] of the copy in force, -1: none valid */
    da_header_info copies[2];     /**< copy A (offset 0) and copy B (512 in format 1, 4096 in 2;
                                       when A is invalid and neither place holds a valid B,
                                       copies[1] shows what lies at 4096) */
    unsigned version;             /**< from the copy in force (0 when none) */
    size_t elem_size, len, data_off, cap;
} da_file_info;

/** Read a persistent vector file's headers without opening it as a vector:
 * no lock is taken, nothing is written or mapped, a path that is not a
 * regular file is never opened (as for da_vec_open).  For tools and checks:
 * a file holding a vector da_vec_open would accept (with its elem_size) has
 * in_force >= 0; an empty or short all-zero file, which da_vec_open would
 * initialise, has in_force -1.
 * @return 0 (also when no copy is valid: in_force is then -1); DA_EINVAL
 *   (NULL); DA_EBADFILE (not a regular file); ELOOP; ENOENT (no such file);
 *   errno of open/fstat/pread. */
int da_vec_inspect(const char *path, da_file_info *out);

/** Push with a store's cost when capacity is spare; falls back to
 * da_vec_push.  Same contract as da_vec_push. */
static inline int da_vec_push_fast(da_vec *v, const void *elem)
{
    if (v && elem && v->len < v->cap && *v->poison_ == 0) {
        char *dst = (char *)v->data + v->len * v->elem_size;
        switch (v->elem_size) { /* constant sizes let the compiler emit one store */
        case 4: memcpy(dst, elem, 4); break;
        case 8: memcpy(dst, elem, 8); break;
        default: memcpy(dst, elem, v->elem_size); break;
        }
        v->len++;
        return 0;
    }
    return da_vec_push(v, elem);
}

/** NULL-terminated list of the fail-point names the core declares
 * ("diskalloc/ftruncate", ...), for harnesses that arm them with libfiu. */
const char *const *da_failpoint_names(void);

#ifdef __cplusplus
}
#endif
#endif /* DISKALLOC_H */
