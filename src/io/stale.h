/* Hidden temporary files that name their owner, and the sweep that removes those of
 * dead owners.  A run killed with SIGKILL cannot remove its temporary files; the next
 * run into the same folder does, but only files whose owner process is provably gone,
 * so a concurrent live run's files are never touched.
 *
 * The owner token is "PID.START.BOOT": the process id, its start time in clock ticks
 * after boot (/proc/PID/stat field 22, proc(5)) and the first 8 hex digits of
 * /proc/sys/kernel/random/boot_id.  An owner is dead when BOOT is not this boot, when
 * no process PID exists, or when process PID started at another time (the pid was
 * reused).  Without /proc the token is "PID.0.0" and only kill(PID, 0) decides. */
#ifndef LQ_IO_STALE_H
#define LQ_IO_STALE_H

#include <stddef.h>

/* The prefixes of the temporary files the library names in an output folder. */
#define LQ_TMP_REPORT ".lacquer-report-"
#define LQ_TMP_EXPORT ".lacquer-export-"
#define LQ_TMP_PUBLISH ".lacquer-publish-"

/* "DIR/PREFIXOWNER-" followed by `tail` ("XXXXXX" for mkstemp, or a unique suffix). */
void lq_tmp_name(char *buf, size_t n, const char *dir, const char *prefix, const char *tail);

/* Remove DIR's temporary files (the prefixes above) whose owner is dead; files of live
 * owners, names without an owner token (older versions) and every other file are left
 * alone.  Returns how many were removed. */
int lq_tmp_sweep(const char *dir);

#endif
