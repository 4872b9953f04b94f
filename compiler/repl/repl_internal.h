/* repl_internal: what the files of the REPL share; not part of nnc's interface.
 * Contract: repl.c owns the loop, line editing, Ctrl-C and `nnc run`;
 * repl_eval.c compiles definitions and expressions on the JIT and owns the Entry table;
 * repl_cmd.c runs the `:` commands. User errors print a diagnostic and return false. */
#ifndef NNC_REPL_INTERNAL_H
#define NNC_REPL_INTERNAL_H
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nnrt_host.h"
#include "codegen.h"
#include "driver.h"
#include "explain.h"
#include "jit.h"
#include "parse.h"
#include "repl.h"

/* A growable string. */
typedef struct {
  char *s;
  size_t n, cap;
} Buf;

typedef struct {
  char *text; /* the source compiled: alive as long as comp */
  Compilation comp;
  Jit *jit;
  const NnrtModel *m;
  double t_front, t_codegen, t_jit; /* milliseconds */
} Compiled;

/* A model or train block as the user wrote it. */
typedef struct {
  bool train;
  char *name; /* the model it defines or trains */
  char *src;  /* "<repl>" or the file name */
  char *text; /* from the keyword to the closing brace */
  uint32_t line, col;
} Block;

typedef struct {
  Block *model, *train; /* train may be NULL */
  Compiled c;
  float *ws;
  NnrtTrainData *td;     /* the train block's data, loaded by the first :train or :eval */
  NnrtInputStats stats;  /* width > 0 once known (training data or :loadw) */
  float *stats_buf;
  bool trained; /* the weights come from :train or :loadw, not only the initialisers */
} Entry;

typedef struct {
  Entry **e;
  int n, cap;
  unsigned line;    /* lines of "<repl>" read so far */
  unsigned cmdline; /* the line the current input started on, for messages */
  char *last_file;
  const char *last_model; /* the model commands use when none is named */
  bool timing, tty;
  int jit_opt; /* the optimisation level of the JIT code of the definitions that follow (:opt) */
  bool quit;   /* :quit was typed */
} Repl;

/* repl.c */
/* Set by SIGINT (repl_on_sigint): Ctrl-C at the prompt or while data loads. */
extern volatile sig_atomic_t repl_interrupted;
double repl_now_ms(void);
char *repl_xstrdup(const char *s);
void repl_buf_add(Buf *b, const char *s, size_t n);
void repl_buf_str(Buf *b, const char *s);
void repl_buf_rep(Buf *b, char c, size_t n);
void repl_on_sigint(int sig);

/* repl_eval.c */
void repl_compiled_free(Compiled *c);
bool repl_compile_jit(Compiled *c, const char *name, char *text, const char *want, int opt,
                      const char *paths_from, FILE *diag_out);
__attribute__((format(printf, 2, 3))) void repl_error(const Repl *r, const char *fmt, ...);
void repl_entry_free(Entry *e);
Entry *repl_find_entry(const Repl *r, const char *name);
const char *repl_plural(int64_t n);
void repl_describe(const Entry *e, Buf *b);
bool repl_define_source(Repl *r, const char *src_name, const char *text, unsigned first_line,
                        bool from_file);
bool repl_load_file(Repl *r, const char *path);
void repl_eval_expr(Repl *r, const char *expr, unsigned line);

/* repl_cmd.c */
/* A `:` command: its name (without the colon) and other names, the arguments :help shows after
 * it, what it does (lines separated by '\n') and its handler (argv[0] is the command as typed). */
typedef struct {
  const char *name;
  const char *alias[2];
  const char *args;
  const char *help;
  void (*run)(Repl *r, int argc, char **argv);
} ReplCommand;
extern const ReplCommand repl_commands[];
extern const size_t repl_n_commands;
/* The row named name (or one of its other names), or NULL. */
const ReplCommand *repl_find_command(const char *name);
void repl_print_help(FILE *out);
/* Runs the command line `line` (which starts with ':'), or says it is unknown. */
void repl_command(Repl *r, char *line);

#endif
