/* powerloss-demo — a tiny record store written through mmap, in a correct and
 * a broken version, for faults/powerloss's own checks (faults/powerloss.mk).
 *
 *   powerloss-demo good|bad|nodirsync FILE RECORDS SYNCS
 *   powerloss-demo verify FILE [--tail K]
 *
 * FILE: page 0 is the header {magic, count}; record i is page i + 1, every
 * byte (i * 7 + 1) & 0xff.  A writer stores RECORDS records in SYNCS commits;
 * each commit stores the records, then the header with the new count, and
 * appends the count to $DA_POWERLOSS_ACK once the commit is durable.
 *   good       msync(MS_SYNC) of the new records, then of the header, fsync;
 *              the directory is fsynced once the file exists
 *   bad        the header is msynced without the records first: a SIGKILL
 *              loses nothing (the page cache keeps the records), a power loss
 *              can keep a header that counts records never written
 *   nodirsync  as good, but the new file's directory entry is never synced
 * verify: the count is at least the last acknowledged one and every counted
 * record (or the last K) holds its bytes; exit 1 with the reason otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096
static const char magic[8] = "PLDEMO1";

static int fail(const char *what)
{
    fprintf(stderr, "powerloss-demo: %s: %s\n", what, strerror(errno));
    return 2;
}

static void ack(uint64_t n)
{
    const char *path = getenv("DA_POWERLOSS_ACK");
    FILE *f = path && *path ? fopen(path, "a") : NULL;
    if (f) {
        fprintf(f, "%llu\n", (unsigned long long)n);
        fclose(f);
    }
}

static int sync_dir(const char *file)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    int d = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
    if (d < 0 || fsync(d) != 0)
        return -1;
    return close(d);
}

static int write_store(const char *mode, const char *path, uint64_t records, uint64_t syncs)
{
    int bad = !strcmp(mode, "bad"), dirsync = strcmp(mode, "nodirsync") != 0;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    size_t bytes = (size_t)(records + 1) * PAGE;
    if (fd < 0 || ftruncate(fd, (off_t)bytes) != 0)
        return fail(path);
    unsigned char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return fail("mmap");
    memcpy(m, magic, 8);
    if (msync(m, PAGE, MS_SYNC) != 0 || fsync(fd) != 0 || (dirsync && sync_dir(path) != 0))
        return fail("first sync");
    uint64_t done = 0;
    for (uint64_t s = 1; s <= syncs; s++) {
        uint64_t upto = records * s / syncs;
        for (uint64_t i = done; i < upto; i++)
            memset(m + (i + 1) * PAGE, (int)((i * 7 + 1) & 0xff), PAGE);
        if (!bad && upto > done &&
            msync(m + (done + 1) * PAGE, (upto - done) * PAGE, MS_SYNC) != 0)
            return fail("msync records");
        memcpy(m + 8, &upto, 8);
        if (msync(m, PAGE, MS_SYNC) != 0 || fsync(fd) != 0)
            return fail("commit");
        ack(upto);
        done = upto;
    }
    munmap(m, bytes);
    close(fd);
    return 0;
}

static int verify(const char *path, uint64_t tail)
{
    const char *last = getenv("DA_POWERLOSS_LAST_ACK");
    uint64_t acked = last && *last ? strtoull(last, NULL, 10) : 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        if (errno == ENOENT && acked == 0)
            return 0; /* nothing promised yet */
        fprintf(stderr, "verify: %s missing with %llu records acknowledged\n", path,
                (unsigned long long)acked);
        return 1;
    }
    unsigned char head[16] = {0}, page[PAGE];
    uint64_t count = 0;
    if (pread(fd, head, 16, 0) == 16 && !memcmp(head, magic, 8))
        memcpy(&count, head + 8, 8);
    else if (acked) {
        fprintf(stderr, "verify: no header with %llu records acknowledged\n",
                (unsigned long long)acked);
        return 1;
    }
    if (count < acked) {
        fprintf(stderr, "verify: lost records: header counts %llu, %llu acknowledged\n",
                (unsigned long long)count, (unsigned long long)acked);
        return 1;
    }
    for (uint64_t i = tail && count > tail ? count - tail : 0; i < count; i++) {
        unsigned char want = (unsigned char)((i * 7 + 1) & 0xff);
        ssize_t n = pread(fd, page, PAGE, (off_t)((i + 1) * PAGE));
        size_t k = 0;
        while (n == PAGE && k < PAGE && page[k] == want)
            k++;
        if (k != PAGE) {
            fprintf(stderr, "verify: header counts %llu records, record %llu is corrupt "
                    "(byte %zu)\n", (unsigned long long)count, (unsigned long long)i, k);
            return 1;
        }
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "verify") != 0)
        return write_store(argv[1], argv[2], strtoull(argv[3], NULL, 10),
                           strtoull(argv[4], NULL, 10));
    if (argc >= 3 && !strcmp(argv[1], "verify"))
        return verify(argv[2], argc == 5 && !strcmp(argv[3], "--tail") ? strtoull(argv[4], NULL, 10)
                                                                       : 0);
    fprintf(stderr, "usage: %s good|bad|nodirsync FILE RECORDS SYNCS | verify FILE [--tail K]\n",
            argv[0]);
    return 2;
}
