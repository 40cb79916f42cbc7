/* cmd_train.c - `aimc train`: train the small MoE classifier on a data set, plain or
 * hardware-aware, and save it as safetensors. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_config.h"
#include "aimc_train.h"
#include "cli.h"

void cli_usage_train(FILE *f)
{
    fprintf(f,
            "usage: aimc train [--data FILE] [--experts N] [--top-k K] [--d-ff N] [--epochs N]\n"
            "                  [--batch N] [--lr X] [--seed N] [--hw-aware] [--config FILE]\n"
            "                  [--set KEY=VALUE]... [--out FILE]\n"
            "\n"
            "Train the MoE classifier (aimc_train.h: RMS norm, router, top-k experts, SwiGLU,\n"
            "residual, linear head) on a CSV data set with Adam, and write its weights as a\n"
            "safetensors file. The test split is every 5th sample (models/data/README.md).\n"
            "\n"
            "  --data FILE    CSV of 64 pixels (0..16) and a label (default models/data/digits.csv)\n"
            "  --experts N    routed experts, 1..64 (default 4)\n"
            "  --top-k K      experts per sample, 1..experts (default 2)\n"
            "  --d-ff N       expert hidden size, 1..4096 (default 32)\n"
            "  --epochs N     passes over the training set, 0..10000 (default 30)\n"
            "  --batch N      samples per Adam step, 1..65536 (default 32)\n"
            "  --lr X         Adam step size (default 0.01)\n"
            "  --seed N       initial weights, shuffling and noise (default 1)\n"
            "  --hw-aware     inject the machine's weight and output noise while training\n"
            "                 (the machine of --config and --set; default the built-in one)\n"
            "  --out FILE     weights to write (default: none, only report accuracy)\n");
}

int cli_cmd_train(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'D'},   {"experts", required_argument, NULL, 'E'},
        {"top-k", required_argument, NULL, 'K'},  {"d-ff", required_argument, NULL, 'F'},
        {"epochs", required_argument, NULL, 'P'}, {"batch", required_argument, NULL, 'B'},
        {"lr", required_argument, NULL, 'L'},     {"seed", required_argument, NULL, 'S'},
        {"hw-aware", no_argument, NULL, 'H'},     {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},    {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *data = "models/data/digits.csv", *out = NULL;
    long experts = 4, top_k = 2, d_ff = 32, epochs = 30, batch = 32, seed = 1;
    double lr = 0.01;
    int hw_aware = 0;
    cli_options o;
    memset(&o, 0, sizeof o);
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        int bad = 0;
        if (ch == ':') {
            cli_needs_value("train", cli_long_name(longopts, optopt), NULL);
            return CLI_EXIT_USAGE;
        }
        if (strchr("DEKFPBLScso", ch) && cli_missing_value(optarg)) {
            cli_needs_value("train", cli_long_name(longopts, ch), optarg);
            return CLI_EXIT_USAGE;
        }
        switch (ch) {
        case 'h': cli_usage_train(stdout); return 0;
        case 'D': data = optarg; break;
        case 'o': out = optarg; break;
        case 'c': o.config = optarg; break;
        case 'H': hw_aware = 1; break;
        case 's':
            if (o.n_sets == CLI_MAX_SETS) bad = 1;
            else o.sets[o.n_sets++] = optarg;
            break;
        case 'E': bad = cli_parse_count("--experts", optarg, 1, 64, &experts); break;
        case 'K': bad = cli_parse_count("--top-k", optarg, 1, 64, &top_k); break;
        case 'F': bad = cli_parse_count("--d-ff", optarg, 1, 4096, &d_ff); break;
        case 'P': bad = cli_parse_count("--epochs", optarg, 0, 10000, &epochs); break;
        case 'B': bad = cli_parse_count("--batch", optarg, 1, 65536, &batch); break;
        case 'S': bad = cli_parse_count("--seed", optarg, 0, 2147483647L, &seed); break;
        case 'L': {
            char *end;
            lr = strtod(optarg, &end);
            if (end == optarg || *end || !(lr > 0 && lr < 10)) {
                fprintf(stderr, "%s: --lr: expected a number in (0, 10), got \"%s\"\n", cli_prog,
                        optarg);
                bad = 1;
            }
            break;
        }
        default:
            fprintf(stderr, "%s train: unknown option %s\n", cli_prog, argv[optind - 1]);
            cli_usage_train(stderr);
            return CLI_EXIT_USAGE;
        }
        if (bad) return CLI_EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "%s train: unexpected argument \"%s\"\n", cli_prog, argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (top_k > experts) {
        fprintf(stderr, "%s: --top-k: expected an integer in 1..%ld, got %ld\n", cli_prog, experts,
                top_k);
        return CLI_EXIT_USAGE;
    }
    aimc_arch a;
    if (cli_load_arch(&o, &a)) return CLI_EXIT_USAGE;

    aimc_diag d = {{0}};
    aimc_dataset *all = NULL, *train = NULL, *test = NULL;
    aimc_classifier *c = NULL;
    int rc = CLI_EXIT_USAGE;
    if (aimc_dataset_load_csv(data, 64, 16.0, &all, &d) != AIMC_OK) {
        fprintf(stderr, "%s\n", d.msg);
        goto done;
    }
    rc = CLI_EXIT_WORK;
    if (aimc_dataset_split(all, 5, &train, &test) != AIMC_OK ||
        aimc_classifier_create(64, (int)experts, (int)top_k, (int)d_ff,
                               all->n_classes > 2 ? all->n_classes : 2, (uint64_t)seed,
                               &c) != AIMC_OK) {
        fprintf(stderr, "%s: out of memory\n", cli_prog);
        goto done;
    }
    aimc_train_opts to = {.epochs = (int)epochs, .batch = (int)batch, .lr = lr,
                          .seed = (uint64_t)seed, .hw = hw_aware ? &a : NULL};
    printf("train    %zu samples (test %zu), %ld experts top-%ld, d_ff %ld, %zu parameters, "
           "%ld epochs%s\n",
           train->n, test->n, experts, top_k, d_ff, c->n_params, epochs,
           hw_aware ? ", hardware-aware" : "");
    if (aimc_classifier_train(c, train, &to, &d) != AIMC_OK) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg);
        goto done;
    }
    printf("accuracy train %.4f, test %.4f (float)\n", aimc_classifier_accuracy(c, train),
           aimc_classifier_accuracy(c, test));
    if (out && aimc_classifier_save(c, out, &d) != AIMC_OK) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg);
        goto done;
    }
    if (out) printf("saved    %s\n", out);
    rc = 0;
done:
    aimc_classifier_free(c);
    aimc_dataset_free(test);
    aimc_dataset_free(train);
    aimc_dataset_free(all);
    return rc;
}
