/* lacquer: the command-line front end of liblacquer.  The commands and their options are
 * the tables in src/cli/commands.c; this only dispatches. */
#include <stdio.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "cli/cli.h"
#include "lacquer/lacquer.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_print_usage(stderr);
        return LQ_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        cli_print_usage(stdout);
        return LQ_EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("lacquer %s\n", lq_version());
        return LQ_EXIT_OK;
    }
#ifdef __GLIBC__
    /* glibc raises its mmap threshold each time a large block is freed; after that the
     * large buffers of later work (an album's next track, a stem chain's FFT blocks, a
     * batch's next job) come from the heap, where small long-lived results pin them,
     * and peak RSS grows with the length of the run.  A fixed threshold (glibc's
     * default, 128 KiB) hands every large buffer back when it is freed: memory stays
     * the work in flight (bench/album, bench/stems).  The library leaves the process's
     * allocator alone; this is the command line's choice. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
    const cli_command *c = cli_find_command(cmd);
    if (c) return c->run(c, argc - 1, argv + 1);
    cli_unknown_command(cmd);
    return LQ_EXIT_USAGE;
}
