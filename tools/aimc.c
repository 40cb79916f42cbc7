/* aimc.c - the aimc command: map, program and run MoE models on a simulated AIMC machine.
 *
 *   aimc run  [options]   map the model, program it through the driver, run tokens, report
 *   aimc map  [options]   map the model and report crossbar use
 *   aimc info [options]   the machine's analytical peak figures
 *   aimc sweep SPEC.yaml  a design-space sweep: CSV, JSON, Pareto front, SVG plot
 *
 * Each subcommand lives in tools/cmd_NAME.c. Only tools/ prints and exits; the libraries
 * return status codes and diagnostics.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "sweep.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    {"run", cli_cmd_run},
    {"map", cli_cmd_map},
    {"info", cli_cmd_info},
    {"train", cli_cmd_train},
    {"sweep", cli_cmd_sweep},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aimc [--version] [--help] COMMAND [options]\n"
            "\n"
            "aimc %s - analog in-memory-computing accelerator simulator and driver.\n"
            "\n"
            "commands:\n"
            "  run    map, program and run an MoE model; report latency, energy, error\n"
            "  map    map a model onto the machine; report crossbar use\n"
            "  info   the machine's peak TOPS, TOPS/W, power and area\n"
            "  train  train the MoE classifier on a data set, plain or hardware-aware\n"
            "  sweep  run a design-space sweep (local cores or MPI), Pareto front, plot\n"
            "\n"
            "'aimc COMMAND --help' describes a command. Documentation: docs/cli.md.\n",
            AIMC_VERSION);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("aimc %s\n", AIMC_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command \"%s\"\n", cli_prog, cmd);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
