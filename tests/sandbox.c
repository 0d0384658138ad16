/* See sandbox.h. */
#include "sandbox.h"

#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#define SETUP_FAILED 125

static int write_proc(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Map the caller's ids to root in a new user namespace, so it may mount. */
static int enter_user_ns(void)
{
    char map[64];
    unsigned uid = (unsigned)getuid(), gid = (unsigned)getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
        return -1;
    snprintf(map, sizeof map, "0 %u 1\n", uid);
    if (write_proc("/proc/self/uid_map", map) != 0)
        return -1;
    if (write_proc("/proc/self/setgroups", "deny") != 0 && errno != ENOENT)
        return -1;
    snprintf(map, sizeof map, "0 %u 1\n", gid);
    return write_proc("/proc/self/gid_map", map);
}

/* In the child: set up, or report why not through the pipe. */
static int setup(const char *dir, const char *opts, unsigned long mflags, int report)
{
    char why[256] = "";
    if (enter_user_ns() != 0) {
        int e = errno;
        if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0)
            snprintf(why, sizeof why, "no user+mount namespace (%s) and no plain mount "
                     "namespace (%s)", strerror(e), geteuid() ? "not root" : strerror(errno));
    }
    /* keep the new mount out of the parent's namespace */
    if (!*why && mount("none", "/", "", MS_REC | MS_PRIVATE, NULL) != 0)
        snprintf(why, sizeof why, "making / private failed: %s", strerror(errno));
    if (!*why && mount("tmpfs", dir, "tmpfs", mflags, opts) != 0)
        snprintf(why, sizeof why, "mount -t tmpfs -o %s failed: %s", opts, strerror(errno));
    if (*why) {
        ssize_t w = write(report, why, strlen(why));
        (void)w;
        return -1;
    }
    return 0;
}

int t_tmpfs_run(const char *opts, unsigned long mflags, int (*fn)(const char *dir, void *arg),
                void *arg, char *why, size_t whylen)
{
    char dir[PATH_MAX];
    int pipefd[2];
    t_scratch(dir, sizeof dir);
    assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        t_child_init();
        close(pipefd[0]);
        if (setup(dir, opts, mflags, pipefd[1]) != 0)
            _exit(SETUP_FAILED);
        close(pipefd[1]);
        _exit(fn(dir, arg));
    }
    close(pipefd[1]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    ssize_t n = read(pipefd[0], why, whylen - 1);
    close(pipefd[0]);
    why[n > 0 ? n : 0] = '\0';
    t_rm_rf(dir);
    return n > 0 && WIFEXITED(status) && WEXITSTATUS(status) == SETUP_FAILED ? -1 : status;
}
