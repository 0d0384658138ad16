/* A private tmpfs for one forked child: real ENOSPC (size=4m) or EROFS (ro)
 * without touching the machine's mounts. */
#ifndef TESTS_SANDBOX_H
#define TESTS_SANDBOX_H

#include <stddef.h>

/* Run fn(dir, arg) in a child in which dir is a fresh tmpfs mounted with
 * mount flags mflags and options opts ("size=4m").  The child gets its own
 * mount namespace: an unprivileged user+mount namespace, or, failing that
 * and when root, a plain mount namespace.  Returns the child's wait status,
 * or -1 with the reason in why when no namespace or mount could be made. */
int t_tmpfs_run(const char *opts, unsigned long mflags, int (*fn)(const char *dir, void *arg),
                void *arg, char *why, size_t whylen);

#endif
