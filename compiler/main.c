/* nnc's command line: argument parsing only; the pipeline is driver.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "driver.h"

#ifndef NNC_VERSION
#define NNC_VERSION "0.0.0"
#endif

static const char usage[] =
  "usage: nnc FILE.nn [-o OUT] [options]\n"
  "\n"
  "Compiles a network description into a standalone program that trains and predicts.\n"
  "\n"
  "options:\n"
  "  -o OUT          write the executable to OUT (default: FILE without .nn)\n"
  "  -O0 -O1 -O2 -O3 optimisation level of the generated code (default -O2)\n"
  "  --model NAME    compile the model NAME of the file (default: the first one);\n"
  "                  every model and train block of the file is checked either way\n"
  "  --check         parse and check only\n"
  "  --emit=KIND     print a stage's output to stdout and stop; KIND is one of\n"
  "                  ast (syntax tree), graph (forward graph), grad (forward, backward and\n"
  "                  update graph), dot (that graph for Graphviz), sched (fused kernels),\n"
  "                  llvm (optimised LLVM IR)\n"
  "  --explain       print the derived backward pass in textbook notation\n"
  "  --diag-format=test  one line per diagnostic: kind|file|line|col|message\n"
  "  --help          this text\n"
  "  --version       nnc's version\n"
  "\n"
  "exit codes: 0 ok, 1 errors in the input, 2 usage, 3 a file could not be read or written,\n"
  "            70 internal error (a bug in nnc: please report it)\n";

static int usage_error(const char *fmt, const char *arg) {
  fputs("nnc: error: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\nTry 'nnc --help' for more information.\n", stderr);
  return EXIT_USAGE;
}

static bool parse_emit(const char *kind, Options *o) {
  static const struct {
    const char *name;
    EmitKind kind;
  } kinds[] = {{"ast", EMIT_AST}, {"graph", EMIT_GRAPH}, {"grad", EMIT_GRAD},
               {"dot", EMIT_DOT}, {"sched", EMIT_SCHED}, {"llvm", EMIT_LLVM}};
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
    if (!strcmp(kind, kinds[i].name))
      return o->emit = kinds[i].kind, true;
  return false;
}

/* The default output: the input's file name without its directory and .nn. */
static const char *default_output(Arena *a, const char *input) {
  const char *base = strrchr(input, '/');
  base = base ? base + 1 : input;
  size_t n = strlen(base);
  if (n > 3 && !strcmp(base + n - 3, ".nn"))
    n -= 3;
  return n ? arena_strndup(a, base, n) : "a.out";
}

static int parse_args(int argc, char **argv, Options *o) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h"))
      return fputs(usage, stdout), -1;
    if (!strcmp(a, "--version"))
      return printf("nnc %s (LLVM 19)\n", NNC_VERSION), -1;
    if (!strcmp(a, "-o")) {
      if (++i == argc)
        return usage_error("%s needs a file name", a);
      o->output = argv[i];
    } else if (!strcmp(a, "--model")) {
      if (++i == argc)
        return usage_error("%s needs a model name", a);
      o->model = argv[i];
    } else if (!strncmp(a, "--model=", 8)) {
      if (!a[8])
        return usage_error("%s needs a model name", "--model");
      o->model = a + 8;
    } else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3])
      o->opt_level = a[2] - '0';
    else if (!strcmp(a, "--check"))
      o->check_only = true;
    else if (!strcmp(a, "--explain"))
      o->explain = true;
    else if (!strncmp(a, "--emit=", 7)) {
      if (!parse_emit(a + 7, o))
        return usage_error("unknown --emit kind '%s' (ast, graph, grad, dot, sched, llvm)", a + 7);
    } else if (!strcmp(a, "--diag-format=test"))
      o->diag_format = DIAG_TEST;
    else if (a[0] == '-' && a[1])
      return usage_error("unknown option '%s'", a);
    else if (o->input)
      return usage_error("more than one input file ('%s')", a);
    else
      o->input = a;
  }
  if (!o->input)
    return usage_error("%s", "no input file");
  return 0;
}

int main(int argc, char **argv) {
  Options o = {.opt_level = 2, .diag_format = DIAG_HUMAN};
  int rc = parse_args(argc, argv, &o);
  if (rc)
    return rc < 0 ? 0 : rc;
  Arena a;
  arena_init(&a);
  if (!o.output)
    o.output = default_output(&a, o.input);
  rc = driver_run(&o, stdout);
  arena_free(&a);
  return rc;
}
