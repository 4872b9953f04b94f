/* cli_internal: what the files of the command line share; not part of the ABI.
 * Contract: cli.c dispatches and prints help and messages, cli_args.c holds the table of options
 * and parses them (the one parser of training flags: the program's, the REPL's :train and nnc
 * run's) and loads the data and weights they name, cli_train.c, cli_predict.c and cli_cmd.c
 * (eval) run the commands.
 * Every int function returns an exit code (NNRT_EXIT_*) and has said why when it is not 0. */
#ifndef NNRT_CLI_INTERNAL_H
#define NNRT_CLI_INTERNAL_H
#include <stdint.h>
#include <stdio.h>

#include "internal.h"

typedef struct {
  const NnrtModel *m;
  const char *prog;      /* prefix of messages */
  const char *command;   /* how the user runs the program: usage lines and suggested commands;
                            NULL for a host's state (no "Try ... --help" hint) */
  const char *weights;   /* the default weights file; NULL: train saves only with --save */
  NnrtTrainState *state; /* a host's model state train runs on; NULL: the program's own */
  FILE *in, *out, *err;
} Cli;

typedef enum {
  CMD_TRAIN,
  CMD_PREDICT,
  CMD_EVAL,
  CMD_INFO,
} Command;

/* Up to two paths of a data option: CSV takes one, IDX two (images, then labels). */
typedef struct {
  const char *path[2];
  int n;
} Paths;

/* What the arguments after the subcommand asked for. */
typedef struct {
  NnrtTrainOptions opt;
  int seeded; /* --seed was given */
  int64_t threads;
  const char *save, *weights, *resume, *init, *log_json, *plot;
  Paths data, validate;
  int help;
  int weights_only; /* --weights-only: the final save without optimizer and run state */
  int from_stdin; /* predict - */
  const char *out; /* predict --out */
  int probs, json; /* predict --probs, eval --json */
  int n_values;
  char **values; /* predict's input values, argc entries */
} Args;

/* cli.c */
__attribute__((format(printf, 2, 3))) void nnrt_cli_say(const Cli *c, const char *fmt, ...);
__attribute__((format(printf, 3, 4))) int nnrt_cli_usage_error(const Cli *c, const char *cmd,
                                                          const char *fmt, ...);
const char *nnrt_cli_closest(const char *s, const char *const *names, size_t n);
const char *nnrt_cli_plural(int64_t n);
int nnrt_cli_file_data(const NnrtModel *m);
void nnrt_cli_print_command_help(const Cli *c, Command cmd);

/* cli_args.c */
int nnrt_cli_is_help_flag(const char *arg);
int nnrt_cli_parse_args(const Cli *c, Command cmd, int argc, char **argv, Args *a);
/* The options cmd takes, one a line with what each does (a host's `train --help`). */
void nnrt_cli_print_options(const Cli *c, Command cmd);
NnrtData nnrt_cli_data_with_paths(const NnrtModel *m, const Paths *p);
int nnrt_cli_load_dataset(const Cli *c, const NnrtData *d, const NnrtInputStats *st,
                     NnrtDataset *ds);
/* The same for the inputs alone (predict --data: nnrt_data_load_inputs). */
int nnrt_cli_load_inputs(const Cli *c, const NnrtData *d, const NnrtInputStats *st,
                         NnrtDataset *ds);
int nnrt_cli_stats_new(const NnrtModel *m, NnrtInputStats *st);
int nnrt_cli_load_weights(const Cli *c, float *ws, NnrtInputStats *st, const char *weights);

/* cli_train.c */
int nnrt_cli_cmd_train(const Cli *c, int argc, char **argv);

/* cli_predict.c */
int nnrt_cli_cmd_predict(const Cli *c, int argc, char **argv);

/* cli_cmd.c */
int nnrt_cli_cmd_eval(const Cli *c, int argc, char **argv);
/* NNRT_EXIT_OK when the model's workspace fits in memory (nnrt_workspace_fits), else
 * NNRT_EXIT_DATA, said: train, eval and predict ask before they allocate or load anything. */
int nnrt_cli_workspace_fits(const Cli *c);

#endif
