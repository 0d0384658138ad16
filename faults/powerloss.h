/* powerloss — record what a program's files look like at each durability
 * call, so that faults/powerloss can rebuild every state a power loss could
 * leave behind (the durable image plus any subset of the pages changed since).
 *
 * Two ways in, one recorder (faults/powerloss.c):
 *   - the LD_PRELOAD shim build/faults/powerloss.so, for any dynamically
 *     linked program (faults/powerloss runs it; see faults/README-powerloss.md);
 *   - this in-process API, for our own drivers: link faults/powerloss.c into
 *     the executable.  Its definitions of fsync, msync, ftruncate, write, ...
 *     then stand in for libc's for every object of the program (the core
 *     included), and forward to libc's after recording.  Until pl_start they
 *     only forward.
 *
 * The log (a directory): `events` (text, one snapshot per event: the event,
 * every file under the run directory with its size, the pages that changed
 * since the last snapshot), `pages` (the changed pages' bytes, 4096 each),
 * `acks` (the lines the program acknowledged), `hash/` (the page hashes the
 * snapshots compare against, shared by every process of the tree), `lock`.
 */
#ifndef POWERLOSS_H
#define POWERLOSS_H

#ifdef __cplusplus
extern "C" {
#endif

/** Start recording the regular files under run_dir into the log directory
 * log_dir (created if missing; must lie outside run_dir).  Takes the first
 * snapshot: what exists now counts as durable.  Sets DA_POWERLOSS_ACK in the
 * environment to log_dir/acks.  Returns 0 or an errno value. */
int pl_start(const char *run_dir, const char *log_dir);

/** Record a last snapshot ("exit": the crash point at the end) and stop. */
void pl_stop(void);

/** Append one line to the acknowledgement file: what the program promises
 * survives from now on (e.g. "D v0 123").  VERIFY sees the lines written
 * before each crash point.  Returns 0 or an errno value. */
int pl_ack(const char *line);

/** Take a snapshot now, marked `what` in the log (no crash point). */
void pl_mark(const char *what);

/** 1 while recording. */
int pl_active(void);

#ifdef __cplusplus
}
#endif
#endif
