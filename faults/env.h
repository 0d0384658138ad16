/* Real-kernel fault environments, no FUSE and no root needed: a full file
 * system (a size-limited tmpfs in a private user+mount namespace), the
 * file-size limit, an address-space limit, and counters that show leaks of
 * mappings and descriptors.  For stress drivers and tests.
 *
 * Child-process helpers return one status code: the child's exit code
 * (0..255), or -SIGNO when a signal ended it, or FE_NOSANDBOX when the
 * environment could not be set up (fe_why() says why). */
#ifndef FAULTS_ENV_H
#define FAULTS_ENV_H

#include <stddef.h>
#include <sys/types.h>

#define FE_NOSANDBOX (-1000) /**< neither a user namespace nor root could mount */
#define FE_SKIP_EXIT 77      /**< exit code for "environment not available" (automake's skip) */

/** Why the last helper that returned FE_NOSANDBOX (or -1) failed. */
const char *fe_why(void);

/** Wait for pid and encode how it ended: exit code, or -SIGNO.  -1 if
 * waitpid failed (fe_why says why). */
int fe_wait(pid_t pid);
/** "exit 3", "SIGBUS", ... for a status from these helpers; static buffer. */
const char *fe_status_str(int status);

/** Fork; the child runs fn(arg) and exits with its return value; the parent
 * waits and returns the status.  Stdout is flushed before the fork. */
int fe_run_child(int (*fn)(void *arg), void *arg);

/** Fork a child that enters a new user+mount namespace (or, when user
 * namespaces are refused and we are root, a plain mount namespace), mounts
 * a fresh tmpfs of `bytes` (rounded up to pages) on a private directory and
 * runs fn(dir, arg) there.  The mount dies with the child; the directory is
 * removed.  Returns the child's status, or FE_NOSANDBOX. */
int fe_sandbox_run(size_t bytes, int (*fn)(const char *dir, void *arg), void *arg);

/** RLIMIT_FSIZE: set the soft file-size limit to `bytes` (the hard limit
 * stays, so it can be lifted again), and SIGXFSZ to ignored (EFBIG only) or
 * to its default (fatal).  fe_fsize_restore undoes both.  0 or an errno. */
enum { FE_SIGXFSZ_DEFAULT = 0, FE_SIGXFSZ_IGNORE = 1 };
int fe_fsize_limit(size_t bytes, int sigxfsz);
int fe_fsize_restore(void);

/** Fork a child whose RLIMIT_AS leaves room for k - 1 more reservations of
 * `reserve` bytes and half of another, so the kth reservation (mmap of
 * `reserve` bytes) fails with ENOMEM; the child runs fn(arg).  Returns the
 * child's status. */
int fe_run_as_limited(unsigned k, size_t reserve, int (*fn)(void *arg), void *arg);

/** Zeroed memory shared with forked children (for counters they update),
 * between two PROT_NONE guard pages: a child whose implementation under test
 * writes past its own mapping faults there instead of corrupting the
 * parent's report.  NULL on failure; never freed. */
void *fe_shared_alloc(size_t bytes);

/** This process's virtual size (VmSize) in bytes, or 0 if unknown. */
size_t fe_vm_size(void);
/** Lines of /proc/self/maps (one per mapping), or -1. */
long fe_count_maps(void);
/** Mappings of at least min_bytes (reservation-sized ones: unlike the total,
 * this does not move when malloc or a sanitizer maps more heap), or -1. */
long fe_count_maps_min(size_t min_bytes);
/** Open descriptors of this process, or -1. */
long fe_count_fds(void);

#endif
