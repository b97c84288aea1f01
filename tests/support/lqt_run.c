/* Run a program with captured stdout/stderr (drives the lacquer CLI in tests). */
#include "lqtest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sbuf_add(sbuf *s, const char *d, size_t m)
{
    if (s->n + m + 1 > s->cap) {
        size_t nc = s->cap ? s->cap : 4096;
        while (nc < s->n + m + 1)
            nc *= 2;
        char *np = realloc(s->p, nc);
        if (!np)
            abort();
        s->p = np;
        s->cap = nc;
    }
    memcpy(s->p + s->n, d, m);
    s->n += m;
    s->p[s->n] = '\0';
}

int lqt_run(const char *const argv[], char **out, char **err)
{
    int po[2], pe[2];
    if (out)
        *out = NULL;
    if (err)
        *err = NULL;
    if (pipe(po) != 0)
        return -1;
    if (pipe(pe) != 0) {
        close(po[0]);
        close(po[1]);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addclose(&fa, po[0]);
    posix_spawn_file_actions_addclose(&fa, pe[0]);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawn_file_actions_addclose(&fa, po[1]);
    posix_spawn_file_actions_addclose(&fa, pe[1]);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    if (rc != 0) {
        fprintf(stderr, "lqt_run: cannot start %s: %s\n", argv[0], strerror(rc));
        close(po[0]);
        close(pe[0]);
        return -1;
    }
    sbuf so = {0}, se = {0};
    sbuf_add(&so, "", 0);
    sbuf_add(&se, "", 0);
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    char buf[8192];
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int k = 0; k < 2; k++) {
            if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t m = read(fds[k].fd, buf, sizeof buf);
            if (m > 0) {
                sbuf_add(k == 0 ? &so : &se, buf, (size_t)m);
            } else if (m == 0 || errno != EINTR) {
                close(fds[k].fd);
                fds[k].fd = -1;
                open_fds--;
            }
        }
    }
    for (int k = 0; k < 2; k++)
        if (fds[k].fd >= 0)
            close(fds[k].fd);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (out)
        *out = so.p;
    else
        free(so.p);
    if (err)
        *err = se.p;
    else
        free(se.p);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}
