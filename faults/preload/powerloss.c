/* powerloss.so — the LD_PRELOAD face of the power-loss recorder
 * (faults/powerloss.c, which this is linked with: one module, two entries).
 *
 * Environment (faults/powerloss sets it; read at load):
 *   DA_POWERLOSS_LOG  the log directory (created if missing)
 *   DA_POWERLOSS_RUN  the run directory: the regular files below it are recorded
 *   DA_POWERLOSS_ACK  the file the program appends its acknowledgements to
 *                     (default: DA_POWERLOSS_LOG/acks)
 * Without DA_POWERLOSS_LOG and DA_POWERLOSS_RUN the shim only forwards calls.
 * A log it cannot open prints "powerloss: ..." and exits with status 125: a
 * run that records nothing must not pass for a clean one.
 */
#define _GNU_SOURCE
#include "powerloss.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void pl_shim_load(void)
{
    const char *log = getenv("DA_POWERLOSS_LOG"), *run = getenv("DA_POWERLOSS_RUN");
    if (!log || !*log || !run || !*run)
        return;
    int e = pl_start(run, log);
    if (e) {
        char msg[512];
        int n = snprintf(msg, sizeof msg, "powerloss: cannot record %s into %s: %s\n", run, log,
                         strerror(e));
        if (write(2, msg, n > 0 && n < (int)sizeof msg ? (size_t)n : sizeof msg - 1) < 0) {
        }
        _exit(125);
    }
}

/* exit() runs this; _exit is wrapped in faults/powerloss.c; a fatal signal
 * leaves the last recorded event as the end. */
__attribute__((destructor)) static void pl_shim_unload(void) { pl_stop(); }
