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
            "  --out FILE     weights to write (default: none, only report accuracy)\n"
            "\n"
            "aimc train --lm [--text PATH] [--layers N] [--d-model N] [--heads N] [--experts N]\n"
            "               [--top-k K] [--d-ff N] [--context N] [--epochs N] [--batch N]\n"
            "               [--lr X] [--seed N] [--hw-aware] [--config FILE] [--set K=V]...\n"
            "               [--out FILE]\n"
            "\n"
            "Train a byte-level MoE transformer language model (aimc_train.h: attention with\n"
            "RoPE, top-k experts, RMS norms; vocabulary 256) on text: a file, or a directory's\n"
            "files (default /usr/share/common-licenses, Debian's base-files). Every 10th chunk\n"
            "of 512 bytes is held out; reports float perplexity on it. Defaults: 2 layers,\n"
            "d_model 64, 4 heads, 4 experts top-2, d_ff 96, context 64, 2 epochs, batch 16,\n"
            "lr 0.003, seed 1 (docs/codesign.md).\n");
}

static int parse_lr(const char *s, double *lr)
{
    char *end;
    *lr = strtod(s, &end);
    if (end == s || *end || !(*lr > 0 && *lr < 10)) {
        fprintf(stderr, "%s: --lr: expected a number in (0, 10), got \"%s\"\n", cli_prog, s);
        return 1;
    }
    return 0;
}

/* aimc train --lm: the language model of docs/codesign.md. */
static int train_lm(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"lm", no_argument, NULL, 'M'},          {"text", required_argument, NULL, 'T'},
        {"layers", required_argument, NULL, 'N'}, {"d-model", required_argument, NULL, 'D'},
        {"heads", required_argument, NULL, 'A'}, {"experts", required_argument, NULL, 'E'},
        {"top-k", required_argument, NULL, 'K'}, {"d-ff", required_argument, NULL, 'F'},
        {"context", required_argument, NULL, 'C'}, {"epochs", required_argument, NULL, 'P'},
        {"batch", required_argument, NULL, 'B'}, {"lr", required_argument, NULL, 'L'},
        {"seed", required_argument, NULL, 'S'},  {"hw-aware", no_argument, NULL, 'H'},
        {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *text_path = "/usr/share/common-licenses", *out = NULL;
    long layers = 2, dmodel = 64, heads = 4, experts = 4, top_k = 2, d_ff = 96, context = 64;
    long epochs = 2, batch = 16, seed = 1;
    double lr = 0.003;
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
        if (strchr("TNDAEKFCPBLScso", ch) && cli_missing_value(optarg)) {
            cli_needs_value("train", cli_long_name(longopts, ch), optarg);
            return CLI_EXIT_USAGE;
        }
        switch (ch) {
        case 'h': cli_usage_train(stdout); return 0;
        case 'M': break;
        case 'T': text_path = optarg; break;
        case 'o': out = optarg; break;
        case 'c': o.config = optarg; break;
        case 'H': hw_aware = 1; break;
        case 's':
            if (o.n_sets == CLI_MAX_SETS) bad = 1;
            else o.sets[o.n_sets++] = optarg;
            break;
        case 'N': bad = cli_parse_count("--layers", optarg, 1, 64, &layers); break;
        case 'D': bad = cli_parse_count("--d-model", optarg, 2, 4096, &dmodel); break;
        case 'A': bad = cli_parse_count("--heads", optarg, 1, 64, &heads); break;
        case 'E': bad = cli_parse_count("--experts", optarg, 1, 64, &experts); break;
        case 'K': bad = cli_parse_count("--top-k", optarg, 1, 64, &top_k); break;
        case 'F': bad = cli_parse_count("--d-ff", optarg, 1, 16384, &d_ff); break;
        case 'C': bad = cli_parse_count("--context", optarg, 2, 4096, &context); break;
        case 'P': bad = cli_parse_count("--epochs", optarg, 0, 10000, &epochs); break;
        case 'B': bad = cli_parse_count("--batch", optarg, 1, 65536, &batch); break;
        case 'S': bad = cli_parse_count("--seed", optarg, 0, 2147483647L, &seed); break;
        case 'L': bad = parse_lr(optarg, &lr); break;
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
    const aimc_lm_shape s = {.vocab = 256, .d_model = (int)dmodel, .layers = (int)layers,
                             .heads = (int)heads, .n_experts = (int)experts, .top_k = (int)top_k,
                             .d_ff = (int)d_ff, .context = (int)context};
    if (top_k > experts || dmodel % heads || (dmodel / heads) % 2) {
        fprintf(stderr, "%s train: --top-k at most --experts, and --d-model a multiple of "
                "--heads with an even head width\n", cli_prog);
        return CLI_EXIT_USAGE;
    }
    aimc_arch a;
    if (cli_load_arch(&o, &a)) return CLI_EXIT_USAGE;
    aimc_diag d = {{0}};
    uint8_t *text = NULL, *tr = NULL, *te = NULL;
    size_t len = 0, ntr = 0, nte = 0;
    aimc_lm *lm = NULL;
    int rc = CLI_EXIT_USAGE;
    if (aimc_text_load(text_path, &text, &len, &d) != AIMC_OK) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg);
        goto done;
    }
    rc = CLI_EXIT_WORK;
    if (aimc_text_split(text, len, 512, 10, &tr, &ntr, &te, &nte) != AIMC_OK ||
        aimc_lm_create(&s, (uint64_t)seed, &lm) != AIMC_OK) {
        fprintf(stderr, "%s: out of memory\n", cli_prog);
        goto done;
    }
    printf("train    %zu bytes of %s (held out %zu), %ld layers, d_model %ld, %ld heads, %ld "
           "experts top-%ld, d_ff %ld, context %ld: %zu parameters, %ld epochs%s\n",
           ntr, text_path, nte, layers, dmodel, heads, experts, top_k, d_ff, context,
           lm->n_params, epochs, hw_aware ? ", hardware-aware" : "");
    aimc_train_opts to = {.epochs = (int)epochs, .batch = (int)batch, .lr = lr,
                          .seed = (uint64_t)seed, .hw = hw_aware ? &a : NULL};
    if (aimc_lm_train(lm, tr, ntr, &to, &d) != AIMC_OK) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg);
        goto done;
    }
    double acc_tr, acc_te;
    const double ppl_tr = aimc_lm_perplexity(lm, tr, ntr, &acc_tr);
    const double ppl_te = aimc_lm_perplexity(lm, te, nte, &acc_te);
    printf("perplexity train %.4f, held out %.4f; next-byte accuracy %.4f, %.4f (float)\n",
           ppl_tr, ppl_te, acc_tr, acc_te);
    if (out && aimc_lm_save(lm, out, &d) != AIMC_OK) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg);
        goto done;
    }
    if (out) printf("saved    %s\n", out);
    rc = 0;
done:
    aimc_lm_free(lm);
    free(text);
    free(tr);
    free(te);
    return rc;
}

int cli_cmd_train(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--lm")) return train_lm(argc, argv);
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
