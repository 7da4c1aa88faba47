/* main.c - the tunneltap command: dispatches to its subcommands. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <pcap/pcap.h>

#include "cli/cli.h"
#include "cli/live.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tunneltap: %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'tunneltap %s --help'.\n", cmd);
    return 2;
}

static int stdout_errno; /* why standard output first failed, from cli_flush */

void cli_flush(FILE *out)
{
    if (fflush(out) != 0 && out == stdout && !stdout_errno)
        stdout_errno = errno;
}

int cli_stdout_status(const char *cmd, int status)
{
    int err = cli_output_close(stdout);
    if (err == 0)
        return status;
    if (err == EIO && stdout_errno)
        err = stdout_errno; /* the stream kept no better one; the first failure did */
    fprintf(stderr, "tunneltap: %s: cannot write standard output: %s\n", cmd, strerror(err));
    return status ? status : 1;
}

typedef struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv); /* NULL: planned, not in this build */
    const char *what;
} subcommand;

static const subcommand subcommands[] = {
    {"replay", cli_replay_main, "analyse a pcap/pcapng capture file (or stdin)"},
    {"bridge", cli_bridge_main, "forward between two TUN devices and analyse the copy"},
    {"capture", cli_capture_main, "analyse live traffic from an interface"},
    {"mark", cli_mark_main, "add a marker to a running analysis"},
    {"status", cli_status_main, "show the state of a running analysis"},
};

static void usage(FILE *out)
{
    fputs("usage: tunneltap COMMAND [options]\n"
          "\n"
          "Follows the connections in tunnel traffic and says which ones failed\n"
          "(unanswered SYNs, unanswered UDP, ICMP unreachable, ...).\n"
          "\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++) {
        fprintf(out, "  %-9s %s%s\n", subcommands[i].name, subcommands[i].what,
                subcommands[i].run ? "" : " (not yet available)");
    }
    fputs("\n"
          "Run 'tunneltap COMMAND --help' for a command's options,\n"
          "'tunneltap --version' for the versions of tunneltap, nDPI and libpcap.\n",
          out);
}

static void version(void)
{
    printf("tunneltap %s\nnDPI %s\n%s\n", tt_version(), tt_ndpi_version(), pcap_lib_version());
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return cli_stdout_status("help", 0);
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0) {
        version();
        return cli_stdout_status("version", 0);
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++) {
        if (strcmp(cmd, subcommands[i].name) != 0)
            continue;
        if (!subcommands[i].run) {
            fprintf(stderr, "tunneltap: '%s' is not available in this build yet\n", cmd);
            return 2;
        }
        return cli_stdout_status(cmd, subcommands[i].run(argc - 1, argv + 1));
    }
    fprintf(stderr, "tunneltap: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
