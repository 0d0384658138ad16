/* Real-kernel fault environments: see env.h. */
#define _GNU_SOURCE /* unshare, CLONE_NEW* */
#include "env.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char why[512] = "no error";

const char *fe_why(void) { return why; }

static void set_why(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_why(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
}

int fe_wait(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            set_why("waitpid(%d): %s", (int)pid, strerror(errno));
            return -1;
        }
    }
    return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
}

const char *fe_status_str(int status)
{
    static char buf[64];
    if (status == FE_NOSANDBOX)
        return "no sandbox";
    if (status >= 0)
        snprintf(buf, sizeof buf, "exit %d", status);
    else
        snprintf(buf, sizeof buf, "SIG%s", sigabbrev_np(-status) ? sigabbrev_np(-status) : "?");
    return buf;
}

static pid_t fork_flushed(void)
{
    fflush(NULL); /* else the child's exit flushes the parent's buffered output twice */
    pid_t pid = fork();
    if (pid < 0)
        set_why("fork: %s", strerror(errno));
    return pid;
}

/* Children leave with _exit; in the coverage build (-DT_GCOV) their counters
 * are flushed first, or what only they reach (full disks, limits) would look
 * unreached. */
#ifdef T_GCOV
void __gcov_dump(void);
#endif

static void child_exit(int rc)
{
    fflush(NULL);
#ifdef T_GCOV
    __gcov_dump();
#endif
    _exit(rc);
}

int fe_run_child(int (*fn)(void *arg), void *arg)
{
    pid_t pid = fork_flushed();
    if (pid < 0)
        return -1;
    if (pid == 0)
        child_exit(fn(arg));
    return fe_wait(pid);
}

/* ---- the disk-full sandbox ------------------------------------------------ */

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    ssize_t n = write(fd, text, strlen(text));
    int e = n == (ssize_t)strlen(text) ? 0 : (n < 0 ? errno : EIO);
    close(fd);
    return e;
}

/* Become root of a new user namespace that owns a new mount namespace, as
 * `unshare -rm` does: map our uid and gid to 0 there. */
static int enter_userns(char *err, size_t errlen)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
        snprintf(err, errlen, "unshare(CLONE_NEWUSER|CLONE_NEWNS): %s", strerror(errno));
        return -1;
    }
    char map[64];
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)uid);
    int e = write_file("/proc/self/uid_map", map);
    /* an unprivileged process may write gid_map only after denying setgroups */
    int s = e ? 0 : write_file("/proc/self/setgroups", "deny");
    if (!e && s && s != ENOENT)
        e = s;
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)gid);
    if (!e)
        e = write_file("/proc/self/gid_map", map);
    if (e) {
        snprintf(err, errlen, "writing the user namespace's id maps: %s", strerror(e));
        return -1;
    }
    return 0;
}

/* Runs in the child: enter the namespaces and mount.  Returns 0, or -1 with
 * the reason in err. */
static int sandbox_setup(const char *dir, size_t bytes, char *err, size_t errlen)
{
    char userns_err[256];
    if (enter_userns(userns_err, sizeof userns_err) != 0) {
        /* fallback: root without user namespaces (a container, a sysctl) */
        if (unshare(CLONE_NEWNS) != 0) {
            snprintf(err, errlen,
                     "cannot make a private mount namespace: %.150s; and unshare(CLONE_NEWNS): %s "
                     "(user namespaces are disabled here and we are not root; try "
                     "sysctl kernel.unprivileged_userns_clone=1 or user.max_user_namespaces)",
                     userns_err, strerror(errno));
            return -1;
        }
    }
    /* Private propagation, or our mount would appear in the parent's namespace
     * (the plain-unshare fallback shares systemd's shared root otherwise). */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        snprintf(err, errlen, "making / private in the new mount namespace: %s",
                 strerror(errno));
        return -1;
    }
    char opts[64];
    snprintf(opts, sizeof opts, "size=%zu,mode=0700", bytes);
    if (mount("diskalloc-sandbox", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) {
        snprintf(err, errlen, "mount -t tmpfs -o %s %.300s: %s", opts, dir, strerror(errno));
        return -1;
    }
    return 0;
}

int fe_sandbox_run(size_t bytes, int (*fn)(const char *dir, void *arg), void *arg)
{
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/da-sandbox-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        set_why("mkdtemp(%s): %s", dir, strerror(errno));
        return FE_NOSANDBOX;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        set_why("pipe: %s", strerror(errno));
        rmdir(dir);
        return FE_NOSANDBOX;
    }
    pid_t pid = fork_flushed();
    if (pid == 0) {
        close(p[0]);
        char err[512];
        if (sandbox_setup(dir, bytes, err, sizeof err) != 0) {
            (void)!write(p[1], err, strlen(err));
            _exit(FE_SKIP_EXIT);
        }
        close(p[1]); /* EOF without a message: the sandbox is up */
        child_exit(fn(dir, arg));
    }
    close(p[1]);
    char msg[512];
    ssize_t n = pid < 0 ? -1 : read(p[0], msg, sizeof msg - 1);
    close(p[0]);
    int status = pid < 0 ? -1 : fe_wait(pid);
    rmdir(dir);
    if (n > 0) {
        msg[n] = '\0';
        set_why("%s", msg);
        return FE_NOSANDBOX;
    }
    return status;
}

/* ---- resource limits ------------------------------------------------------- */

static struct rlimit saved_fsize;
static int fsize_saved;
static struct sigaction saved_xfsz;

int fe_fsize_limit(size_t bytes, int sigxfsz)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) != 0)
        return errno;
    if (!fsize_saved) {
        saved_fsize = rl;
        sigaction(SIGXFSZ, NULL, &saved_xfsz);
        fsize_saved = 1;
    }
    rl.rlim_cur = (rlim_t)bytes;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
        rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return errno;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sigxfsz == FE_SIGXFSZ_IGNORE ? SIG_IGN : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGXFSZ, &sa, NULL) == 0 ? 0 : errno;
}

int fe_fsize_restore(void)
{
    if (!fsize_saved)
        return 0;
    fsize_saved = 0;
    sigaction(SIGXFSZ, &saved_xfsz, NULL);
    return setrlimit(RLIMIT_FSIZE, &saved_fsize) == 0 ? 0 : errno;
}

struct as_job {
    unsigned k;
    size_t reserve;
    int (*fn)(void *);
    void *arg;
};

static int as_child(void *p)
{
    struct as_job *j = p;
    size_t vm = fe_vm_size();
    if (vm == 0 || j->k == 0) {
        fprintf(stderr, "fe_run_as_limited: cannot read VmSize or k == 0\n");
        return FE_SKIP_EXIT;
    }
    /* half a reservation of slack covers what malloc and stdio map meanwhile */
    rlim_t lim = (rlim_t)vm + (rlim_t)(j->k - 1) * j->reserve + j->reserve / 2;
    struct rlimit rl = {lim, lim};
    if (setrlimit(RLIMIT_AS, &rl) != 0) {
        fprintf(stderr, "setrlimit(RLIMIT_AS): %s\n", strerror(errno));
        return FE_SKIP_EXIT;
    }
    return j->fn(j->arg);
}

int fe_run_as_limited(unsigned k, size_t reserve, int (*fn)(void *arg), void *arg)
{
    struct as_job j = {k, reserve, fn, arg};
    return fe_run_child(as_child, &j);
}

void *fe_shared_alloc(size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), body = (bytes + page - 1) / page * page;
    unsigned char *m = mmap(NULL, body + 2 * page, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    if (mprotect(m + page, body, PROT_READ | PROT_WRITE) != 0) {
        munmap(m, body + 2 * page);
        return NULL;
    }
    return m + page;
}

/* ---- counters -------------------------------------------------------------- */

size_t fe_vm_size(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (size_t)kb << 10;
}

long fe_count_maps_min(size_t min_bytes)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return -1;
    long n = 0;
    char line[4096];
    unsigned long long lo, hi;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 && hi - lo >= min_bytes)
            n++;
        while (!strchr(line, '\n') && fgets(line, sizeof line, f)) /* a long path: skip the rest */
            ;
    }
    fclose(f);
    return n;
}

long fe_count_maps(void) { return fe_count_maps_min(0); }

long fe_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}
