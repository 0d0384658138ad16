/* mkvec PATH ELEM_SIZE N: a persistent vector file of N elements for the
 * tool's tests (tool/test.sh), made through the public API.  Element i holds
 * i as a u64 when ELEM_SIZE is 8, else bytes (i + k) & 0xff, k = 0.. */
#include "diskalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: mkvec PATH ELEM_SIZE N\n");
        return 2;
    }
    size_t elem = strtoul(argv[2], NULL, 10), n = strtoul(argv[3], NULL, 10);
    unsigned char *e = elem ? malloc(elem) : NULL;
    if (!e) {
        fprintf(stderr, "mkvec: bad element size %s\n", argv[2]);
        return 2;
    }
    da_vec v;
    int err = da_vec_open(&v, argv[1], elem, NULL);
    for (size_t i = 0; err == 0 && i < n; i++) {
        uint64_t x = i;
        for (size_t k = 0; k < elem; k++)
            e[k] = (unsigned char)(i + k);
        err = da_vec_push(&v, elem == 8 ? (const void *)&x : e);
    }
    int cerr = da_vec_close(&v); /* syncs */
    free(e);
    err = err ? err : cerr;
    if (err)
        fprintf(stderr, "mkvec: %s: %s\n", argv[1], da_strerror(err));
    return err != 0;
}
