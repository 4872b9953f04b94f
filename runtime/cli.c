/* cli: nnrt_main, the command line of every generated program:
 *   prog [train] [options]   prog predict ...   prog eval ...   prog info   prog [CMD] --help
 * and the same for hosts: nnrt_cli_main (nnc run: a JIT-compiled model, named by the host) and
 * nnrt_cli_train (the REPL's :train, on the weights and data the host holds).
 * Contract: results go to stdout; messages go to stderr as "prog: message" (prog = the last
 * component of argv[0], or the host's name); the exit code is one of
 *   0 ok; 1 bad data or input (a data file the loader rejects, a bad row on predict's standard
 *   input, a bad descriptor, out of memory); 2 usage (bad command line, options or settings
 *   that cannot work together); 3 I/O (a file that cannot be opened, read or written) or a
 *   non-finite value during training; 130 interrupted (SIGINT).
 * It is the only place in the runtime that chooses exit codes; everything it does is built from
 * the functions of nnrt.h (and the loader of data.h, the reporter of report.c and the summary
 * of info.c), so the JIT host can do the same without it. Training reports its progress
 * through NnrtTrainOptions.report (report.c prints it). Inputs to predict and eval are raw
 * values as in the training data; the train block's scaling is applied to them (with the
 * standardisation statistics stored in the checkpoint).
 * Files (cli_internal.h): this one dispatches and prints messages and help; cli_args.c parses
 * options and loads data and weights; cli_train.c runs train, cli_predict.c predict and
 * cli_cmd.c eval. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_internal.h"

/* ---- Messages ---- */

__attribute__((format(printf, 2, 3))) void nnrt_cli_say(const Cli *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(c->err, "%s: ", c->prog);
  vfprintf(c->err, fmt, ap);
  fputc('\n', c->err);
  va_end(ap);
}

/* A command line we do not understand: the message plus where to read how it works. */
__attribute__((format(printf, 3, 4))) int nnrt_cli_usage_error(const Cli *c, const char *cmd,
                                                          const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(c->err, "%s: ", c->prog);
  vfprintf(c->err, fmt, ap);
  (void)cmd; /* the program's help covers every command */
  fputc('\n', c->err);
  if (c->command)
    fprintf(c->err, "Try '%s --help' for usage.\n", c->command);
  va_end(ap);
  return NNRT_EXIT_USAGE;
}

/* Edit distance of a and b (short strings: command and option names). */
static size_t distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 32 || lb > 32)
    return 99;
  size_t d[33][33];
  for (size_t i = 0; i <= la; i++)
    d[i][0] = i;
  for (size_t j = 0; j <= lb; j++)
    d[0][j] = j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      best = d[i - 1][j] + 1 < best ? d[i - 1][j] + 1 : best;
      d[i][j] = d[i][j - 1] + 1 < best ? d[i][j - 1] + 1 : best;
    }
  return d[la][lb];
}

/* The closest of names to s within 2 edits, or NULL. */
const char *nnrt_cli_closest(const char *s, const char *const *names, size_t n) {
  const char *best = NULL;
  size_t bd = 3;
  for (size_t i = 0; i < n; i++) {
    size_t d = distance(s, names[i]);
    if (d < bd) {
      bd = d;
      best = names[i];
    }
  }
  return best;
}

const char *nnrt_cli_plural(int64_t n) { return n == 1 ? "" : "s"; }

/* ---- Help ---- */

int nnrt_cli_file_data(const NnrtModel *m) {
  return m->has_train && nnrt_data_files(m->train.kind) > 0;
}

static const char *data_paths_text(const NnrtModel *m) {
  if (!nnrt_cli_file_data(m))
    return "PATH ...";
  return m->train.kind == NNRT_DATA_IDX ? "IMAGES LABELS" : "CSV";
}

static void print_exit_codes(const Cli *c) {
  fprintf(c->out,
          "Exit codes:\n"
          "  0    ok\n"
          "  1    bad data or input: a data file the loader rejects, a bad line on predict's\n"
          "       standard input, out of memory\n"
          "  2    usage: an unknown command or option, a bad value, options or settings that\n"
          "       cannot work together\n");
  if (c->m->has_train)
    fprintf(c->out,
            "  3    I/O error (a file that cannot be opened, read or written), or a non-finite\n"
            "       value during training (the message names the epoch, the step and the line\n"
            "       of the source that produced it)\n");
  else
    fprintf(c->out, "  3    I/O error: a file that cannot be opened, read or written\n");
  fprintf(c->out, "  130  interrupted (Ctrl-C)\n");
}

static void print_model(const Cli *c) {
  const NnrtModel *m = c->m;
  fprintf(c->out, "Model '%s' (from %s):\n", m->name, m->source ? m->source : "?");
  fprintf(c->out, "  input  '%s': %lld value%s per row\n", m->input.name,
          (long long)m->input.width, nnrt_cli_plural(m->input.width));
  fprintf(c->out, "  output '%s': %lld value%s per row\n\n", m->output.name,
          (long long)m->output.width, nnrt_cli_plural(m->output.width));
}

static void print_usage(const Cli *c) {
  const char *p = c->command;
  long long w = (long long)c->m->input.width;
  fprintf(c->out, "Usage: ");
  if (c->m->has_train)
    fprintf(c->out, "%s [train] [--epochs N] [--seed S] [--batch B] [--lr X] [OPTIONS]\n       ",
            p);
  fprintf(c->out, "%s predict [--weights PATH] X1 ... X%lld\n", p, w);
  fprintf(c->out, "       %s predict [--weights PATH] -\n", p);
  if (nnrt_cli_file_data(c->m))
    fprintf(c->out, "       %s predict [--weights PATH] --data %s\n", p, data_paths_text(c->m));
  if (c->m->has_train)
    fprintf(c->out, "       %s eval [--weights PATH] [--data %s]\n", p, data_paths_text(c->m));
  fprintf(c->out, "       %s info\n       %s [COMMAND] --help\n\n", p, p);
}

static void print_train_help(const Cli *c) {
  const NnrtModel *m = c->m;
  fprintf(c->out,
          "  train             train on the model's data, print the loss (and accuracy and\n"
          "                    validation results when the model has them) for the epochs\n"
          "                    log_every selects, with a progress bar on a terminal, then the\n"
          "                    final results, the predictions for the rows of a data table,\n"
          "                    and save the weights (the default command)\n"
          "    --epochs N      number of epochs (default %lld)\n"
          "    --batch B       rows per step, 1 to %lld (default %lld; the program was compiled\n"
          "                    for batches of at most %lld rows)\n"
          "    --lr X          learning rate, a positive number (default %g)\n"
          "    --seed S        seed of initialisation, shuffling and dropout (default %llu)\n"
          "    --threads T     threads to train on (default 1); the result is bit-identical\n"
          "                    for any T\n"
          "    --log-every K   print every K-th epoch's line (default %lld; 0: only the first\n"
          "                    and the last)\n",
          (long long)m->epochs, (long long)m->max_batch, (long long)m->batch,
          (long long)m->max_batch, m->lr, (unsigned long long)m->seed, (long long)m->log_every);
  if (m->train.kind == NNRT_DATA_IDX)
    fprintf(c->out,
            "    --data IMAGES LABELS\n"
            "                    the training data instead of the train block's (IDX files)\n"
            "    --validate IMAGES LABELS\n"
            "                    the validation data instead of the train block's\n");
  else if (m->train.kind == NNRT_DATA_CSV)
    fprintf(c->out,
            "    --data PATH     a CSV file of training data instead of the train block's\n"
            "                    (the same columns)\n"
            "    --validate PATH a CSV file of validation data likewise\n");
  else
    fprintf(c->out,
            "    --data, --validate\n"
            "                    not for this model: its data is a table in its source\n");
  fprintf(c->out,
          "    --save PATH     where to write the weights (default %s); also\n"
          "                    the checkpoint of an interrupted run\n"
          "    --resume PATH   continue the run saved in the checkpoint PATH exactly\n"
          "    --init PATH     start from the weights in PATH instead of the initialisers\n"
          "                    (not with --resume)\n"
          "    --log-json PATH write one JSON object per epoch to PATH, one a line: epoch,\n"
          "                    loss, accuracy, val_loss, val_accuracy, lr, seconds (null when\n"
          "                    absent)\n"
          "    --plot PATH     write an SVG of the loss and accuracy curves to PATH at the end\n"
          "                    (also when interrupted)\n"
          "    --weights-only  save only the weights (and input statistics) at the end, not\n"
          "                    the optimizer and run state: a smaller file that cannot be\n"
          "                    resumed (an interrupted run still saves a whole checkpoint)\n",
          c->weights);
}

static void print_predict_help(const Cli *c) {
  const NnrtModel *m = c->m;
  fprintf(c->out,
          "  predict X1 ... X%lld\n"
          "                    print the outputs for one input row of %lld number%s, given as\n"
          "                    in the model's data (its scaling is applied), and the class\n"
          "                    (the largest output) for a classifier\n"
          "  predict -         the same for every line of standard input: one row a line,\n"
          "                    values separated by spaces or commas\n",
          (long long)m->input.width, (long long)m->input.width, nnrt_cli_plural(m->input.width));
  if (nnrt_cli_file_data(m))
    fprintf(c->out,
            "  predict --data %s\n"
            "                    the same for every row of a data file: the input columns\n"
            "                    alone (a header is detected), or laid out like the training\n"
            "                    data (its targets are not read); IDX images need no labels\n",
            data_paths_text(m));
  fprintf(c->out, "    --weights PATH  weights to use (default %s%s)\n", c->weights,
          m->has_train ? "" : " if it exists, else the model's initial values");
  fprintf(c->out,
          "    --out FILE      write the answers to FILE as CSV (replaced atomically)\n"
          "    --probs         label each output of a classifier with its class\n");
}

static void print_eval_help(const Cli *c) {
  fprintf(c->out,
          "  eval              print the loss on the validation data (else the training data),\n"
          "                    for a classifier the accuracy, the confusion matrix (rows: true\n"
          "                    class, columns: predicted class) and each class's precision,\n"
          "                    recall and F1; for a regression MAE, RMSE and R²\n"
          "    --weights PATH  weights to use (default %s)\n"
          "    --json          print the same as one JSON object\n",
          c->weights);
  if (nnrt_cli_file_data(c->m))
    fprintf(c->out, "    --data %s\n                    evaluate on this data file instead\n",
            data_paths_text(c->m));
}

static void print_info_help(const Cli *c) {
  fprintf(c->out,
          "  info              print the layers (name, op, output shape, parameters, FLOPs per\n"
          "                    sample), their totals and the memory plan of the workspace\n");
}

static void print_help(const Cli *c) {
  print_usage(c);
  print_model(c);
  fprintf(c->out, "Commands:\n");
  if (c->m->has_train)
    print_train_help(c);
  print_predict_help(c);
  if (c->m->has_train)
    print_eval_help(c);
  print_info_help(c);
  fprintf(c->out, "  help              print this help (also -h, --help)\n\n");
  print_exit_codes(c);
}

void nnrt_cli_print_command_help(const Cli *c, Command cmd) {
  print_usage(c);
  switch (cmd) {
  case CMD_TRAIN: print_train_help(c); break;
  case CMD_PREDICT: print_predict_help(c); break;
  case CMD_EVAL: print_eval_help(c); break;
  case CMD_INFO: print_info_help(c); break;
  }
  fputc('\n', c->out);
  print_exit_codes(c);
}

/* ---- info ---- */

static int cmd_info(const Cli *c, int argc, char **argv) {
  Args a = {0};
  int rc = nnrt_cli_parse_args(c, CMD_INFO, argc, argv, &a);
  if (rc || a.help) {
    if (a.help)
      nnrt_cli_print_command_help(c, CMD_INFO);
    return rc;
  }
  nnrt_print_summary(c->m, c->out);
  return NNRT_EXIT_OK;
}

/* ---- Dispatch ---- */

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static int is_help(const char *arg) { return nnrt_cli_is_help_flag(arg) || strcmp(arg, "help") == 0; }

static int dispatch(const Cli *c, int argc, char **argv) {
  if (argc < 2 && !c->m->has_train) {
    print_help(c);
    return NNRT_EXIT_OK;
  }
  if (argc < 2)
    return nnrt_cli_cmd_train(c, 0, argv + argc);
  const char *cmd = argv[1];
  if (is_help(cmd)) {
    print_help(c);
    return NNRT_EXIT_OK;
  }
  if (strcmp(cmd, "train") == 0)
    return nnrt_cli_cmd_train(c, argc - 2, argv + 2);
  if (strcmp(cmd, "predict") == 0)
    return nnrt_cli_cmd_predict(c, argc - 2, argv + 2);
  if (strcmp(cmd, "eval") == 0)
    return nnrt_cli_cmd_eval(c, argc - 2, argv + 2);
  if (strcmp(cmd, "info") == 0)
    return cmd_info(c, argc - 2, argv + 2);
  /* "prog --epochs 10" reads as the default command with options. */
  if (cmd[0] == '-' && c->m->has_train)
    return nnrt_cli_cmd_train(c, argc - 1, argv + 1);
  static const char *const names[] = {"train", "predict", "eval", "info", "help"};
  const char *hint = nnrt_cli_closest(cmd, names, sizeof names / sizeof *names);
  if (hint)
    return nnrt_cli_usage_error(c, NULL, "unknown command '%s'; did you mean '%s'?", cmd, hint);
  return nnrt_cli_usage_error(c, NULL, "unknown command '%s'", cmd);
}

int nnrt_cli_main(const NnrtModel *m, const NnrtCliNames *names, int argc, char **argv,
                  FILE *in, FILE *out, FILE *err) {
  Cli c = {.m = m, .prog = names->prog, .command = names->command, .weights = names->weights,
           .in = in, .out = out, .err = err};
  char msg[256];
  if (nnrt_check_model(m, msg, sizeof msg) != 0) {
    nnrt_cli_say(&c, "invalid model descriptor: %s", msg);
    return NNRT_EXIT_DATA;
  }
  int rc = dispatch(&c, argc, argv);
  fflush(out);
  return rc;
}

/* The program's names come from argv[0] as typed: messages say its last component, usage and
 * hints repeat it, and the weights go beside it. */
int nnrt_main_io(const NnrtModel *m, int argc, char **argv, FILE *in, FILE *out, FILE *err) {
  static const char suffix[] = ".safetensors";
  const char *argv0 = argc > 0 && argv[0] && argv[0][0] ? argv[0] : m->name;
  size_t n = strlen(argv0);
  char *weights = malloc(n + sizeof suffix);
  if (!weights) {
    fprintf(err, "%s: out of memory\n", base_name(argv0));
    return NNRT_EXIT_DATA;
  }
  memcpy(weights, argv0, n);
  memcpy(weights + n, suffix, sizeof suffix);
  NnrtCliNames names = {.prog = base_name(argv0), .command = argv0, .weights = weights};
  int rc = nnrt_cli_main(m, &names, argc, argv, in, out, err);
  free(weights);
  return rc;
}

int nnrt_main_streams(const NnrtModel *m, int argc, char **argv, FILE *out, FILE *err) {
  return nnrt_main_io(m, argc, argv, stdin, out, err);
}

int nnrt_main(const NnrtModel *m, int argc, char **argv) {
  return nnrt_main_streams(m, argc, argv, stdout, stderr);
}

int nnrt_cli_train(const NnrtModel *m, const NnrtCliNames *names, NnrtTrainState *state,
                   int argc, char **argv, FILE *out, FILE *err) {
  Cli c = {.m = m, .prog = names->prog, .command = names->command, .weights = names->weights,
           .state = state, .in = stdin, .out = out, .err = err};
  int rc = nnrt_cli_cmd_train(&c, argc, argv);
  fflush(out);
  return rc;
}
