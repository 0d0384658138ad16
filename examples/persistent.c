/* The README's persistent example: a counter log that survives restarts. */
#include "diskalloc.h"

#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "counts.davec";
    da_vec v;
    int err = da_vec_open(&v, path, sizeof(uint64_t), NULL); /* create or reopen */
    if (err) {
        fprintf(stderr, "%s: %s\n", path, da_strerror(err));
        return 1;
    }
    uint64_t next = v.len; /* one more entry per run */
    err = da_vec_push(&v, &next);
    if (!err)
        err = da_vec_sync(&v); /* durable: a crash after this keeps the entry */
    if (err)
        fprintf(stderr, "%s: %s\n", path, da_strerror(err));
    printf("%s holds %zu entries\n", path, v.len);
    int cerr = da_vec_close(&v); /* syncs again: its error counts too */
    if (cerr)
        fprintf(stderr, "%s: close: %s\n", path, da_strerror(cerr));
    return err || cerr;
}
