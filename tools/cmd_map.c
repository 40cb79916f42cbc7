/* cmd_map.c - `aimc map`: map a model onto the machine and report crossbar use. */
#include <stdio.h>

#include "cli.h"

void cli_usage_map(FILE *f)
{
    fprintf(f,
            "usage: aimc map [--config FILE] [--model FILE] [--set KEY=VALUE]... [--json FILE]\n"
            "\n"
            "Cut every weight matrix of the model into crossbar tiles and bit slices, place\n"
            "them first-fit, and report crossbars used and available and cell utilisation.\n"
            "A model that does not fit is an error saying how many crossbars and chips it needs.\n");
}

int cli_cmd_map(int argc, char **argv)
{
    cli_options o;
    int r = cli_parse_options(argc, argv, "cmsj", cli_usage_map, &o);
    if (r) return r > 0 ? 0 : CLI_EXIT_USAGE;
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    int rc = CLI_EXIT_USAGE;
    if (cli_load_arch(&o, &a) || cli_load_model(&o, 0, &m)) goto out;
    rc = CLI_EXIT_WORK;
    cli_print_machine(&a);
    cli_print_model(m);
    if (cli_map_model(&a, m, &p)) goto out;
    cli_print_plan(p);
    rc = 0;
    if (o.json) {
        aimc_json j;
        if ((rc = cli_json_start(&j, o.json))) goto out;
        aimc_json_str(&j, "config", a.name);
        aimc_json_str(&j, "model", m->name);
        cli_json_plan(&j, p);
        aimc_json_obj_end(&j);
        rc = cli_json_finish(&j, o.json);
    }
out:
    aimc_plan_free(p);
    aimc_model_free(m);
    return rc;
}

