/* The README's example: a vector of 100 million u64 (800 MB) kept in a file. */
#include "diskalloc.h"

#include <stdint.h>
#include <stdio.h>

int main(void)
{
    da_vec v;
    int err = da_vec_init(&v, sizeof(uint64_t), NULL); /* temp file in $TMPDIR or /var/tmp */
    if (err) {
        fprintf(stderr, "da_vec_init: %s\n", da_strerror(err));
        return 1;
    }
    for (uint64_t i = 0; i < 100000000; i++) {
        err = da_vec_push_fast(&v, &i);
        if (err) { /* a full disk is ENOSPC here, never SIGBUS later */
            fprintf(stderr, "push %llu: %s\n", (unsigned long long)i, da_strerror(err));
            da_vec_close(&v);
            return 1;
        }
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < v.len; i++)
        sum += ((uint64_t *)v.data)[i];
    printf("%zu elements, sum %llu, file %zu bytes\n", v.len, (unsigned long long)sum,
           da_arena_size(da_vec_arena(&v)));
    err = da_vec_close(&v); /* unmaps, closes: the unnamed file is gone */
    return err != 0;
}
