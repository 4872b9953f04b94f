/* driver: the whole pipeline in one readable place, and the options that steer it.
 * Contract: compilation_run runs the front end (parse -> check -> lower -> grad -> optimizer) on
 * a source held in memory up to a given stage, stopping at the first stage that fails; it is the
 * one front-end pipeline of nnc, the REPL and the tests. driver_run does the rest for the
 * command line (emit, explain, codegen, object file, link) and returns the exit code:
 * 0 ok, 1 errors in the input, 2 usage, 3 I/O (cannot read or write a file), 70 internal. */
#ifndef NNC_DRIVER_H
#define NNC_DRIVER_H
#include <stdio.h>

#include "graph.h"
#include "plan.h"
#include "lower.h"
#include "sema.h"

enum { EXIT_INPUT = 1, EXIT_USAGE = 2, EXIT_IO = 3, EXIT_INTERNAL = 70 };

/* The optimisation level of generated code unless told otherwise (nnc -O, the REPL's :opt). */
enum { DEFAULT_OPT_LEVEL = 2 };

typedef enum { EMIT_NONE, EMIT_AST, EMIT_GRAPH, EMIT_GRAD, EMIT_DOT, EMIT_SCHED, EMIT_LLVM } EmitKind;

typedef struct {
  const char *input, *output;
  int opt_level;
  EmitKind emit;
  bool check_only, explain;
  DiagFormat diag_format;
  bool werror;       /* -Werror: warnings are errors */
  const char *model; /* --model NAME: the model to compile; NULL: the file's first */
  bool compile_only;  /* -c: a library object (no main) at output, see embed.h */
  const char *header; /* --header H (with -c): its C header; NULL: none */
  const char *prefix; /* --prefix NAME (with -c): of the exported names; NULL: the model's */
  bool mpi;           /* --mpi: a program that trains on the ranks of an MPI job */
  bool time_stages;   /* --time: each compile stage's time on stderr (stage_clock.h) */
} Options;

/* The stages of the front end, in order; a compilation records the last one done. */
typedef enum {
  STAGE_NONE,
  STAGE_PARSE, /* ast */
  STAGE_CHECK, /* model: names, shapes, settings */
  STAGE_LOWER, /* graph: the forward pass */
  STAGE_GRAD,  /* graph: the backward pass (models with a train block) */
  STAGE_OPTIM, /* graph: the optimizer's update (models with a train block) */
} Stage;

typedef struct {
  Arena arena;
  Diag diag;
  Source src;
  AstNode *ast;
  Model *model;
  const char *want_model; /* the model to compile (Options.model); NULL: the first */
  Graph graph;
  Stage done;  /* the last stage that succeeded */
  bool layout; /* lowering is followed by layout.c (for code; off for explain and printing) */
} Compilation;

/* text must stay alive until compilation_free; diagnostics go to diag_out. */
void compilation_init(Compilation *c, const char *name, const char *text, size_t len,
                      FILE *diag_out);
/* Runs the stages after c->done up to and including last; false when one fails (its errors are
 * in c->diag, or it was an internal error). Running again continues where it stopped, so a
 * caller (a test) can change the checked model before lowering. */
bool compilation_run(Compilation *c, Stage last);
/* compilation_run up to STAGE_OPTIM: the whole front end. */
bool compilation_front(Compilation *c);
/* The back end's plan of a compilation whose front end succeeded; src names it in messages. */
void compilation_plan(Compilation *c, Program *p, const char *src);
void compilation_free(Compilation *c);
int driver_run(const Options *o, FILE *out);

/* nnc's version (the project's, set by CMake in this library only). */
extern const char nnc_version[];
/* The text of the source file at path, NUL-terminated, *len bytes; NULL with err set ("cannot
 * read 'PATH': why") when it is not a readable regular file or exceeds the size limit. */
char *driver_read_source(const char *path, size_t *len, char *err, size_t errlen);

#endif
