/* Temporary files with an owner token, and the sweep of dead owners' files (stale.h). */
#include "io/stale.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* First 8 hex digits of this boot's id, or "" without /proc. */
static void boot_id(char out[9])
{
    out[0] = 0;
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f) return;
    char b[64] = {0};
    if (fgets(b, sizeof b, f) && sscanf(b, "%8[0-9a-f]", out) != 1) out[0] = 0;
    fclose(f);
}

/* Start time of process pid (clock ticks after boot): 1 found, 0 no such process, -1
 * cannot tell. */
static int proc_start(long pid, unsigned long long *start)
{
    char path[64], b[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? 0 : -1;
    size_t n = fread(b, 1, sizeof b - 1, f);
    fclose(f);
    b[n] = 0;
    /* the command name (field 2) may hold spaces and parentheses: fields 3.. follow
     * the last ')' */
    char *p = strrchr(b, ')');
    if (!p) return -1;
    p++;
    for (int field = 3; field < 22; field++) {
        while (*p == ' ') p++;
        while (*p && *p != ' ') p++;
    }
    return sscanf(p, " %llu", start) == 1 ? 1 : -1;
}

static void owner_token(char *buf, size_t n)
{
    long pid = (long)getpid();
    unsigned long long start = 0;
    char boot[9];
    boot_id(boot);
    if (proc_start(pid, &start) != 1) start = 0;
    snprintf(buf, n, "%ld.%llu.%s", pid, start, boot[0] ? boot : "0");
}

void lq_tmp_name(char *buf, size_t n, const char *dir, const char *prefix, const char *tail)
{
    char tok[96];
    owner_token(tok, sizeof tok);
    snprintf(buf, n, "%s/%s%s-%s", dir, prefix, tok, tail);
}

static int owner_alive(long pid, unsigned long long start, const char *boot)
{
    char now[9];
    boot_id(now);
    if (now[0] && strcmp(boot, "0") != 0 && strcmp(boot, now) != 0) return 0;
    if (pid <= 0) return 1;
    unsigned long long s = 0;
    int r = proc_start(pid, &s);
    if (r == 0) return 0;
    if (r == 1 && start != 0) return s == start;
    return !(kill((pid_t)pid, 0) != 0 && errno == ESRCH);
}

int lq_tmp_sweep(const char *dir)
{
    static const char *const prefixes[] = {LQ_TMP_REPORT, LQ_TMP_EXPORT, LQ_TMP_PUBLISH};
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        for (size_t k = 0; k < sizeof prefixes / sizeof prefixes[0]; k++) {
            size_t pl = strlen(prefixes[k]);
            if (strncmp(e->d_name, prefixes[k], pl) != 0) continue;
            long pid = 0;
            unsigned long long start = 0;
            char boot[9] = {0}, dash = 0;
            if (sscanf(e->d_name + pl, "%ld.%llu.%8[0-9a-f]%c", &pid, &start, boot, &dash) != 4 ||
                dash != '-' || owner_alive(pid, start, boot))
                break;
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (unlink(path) == 0) removed++;
            break;
        }
    }
    closedir(d);
    return removed;
}
