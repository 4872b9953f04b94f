/* nnc's command line: argument parsing only; the pipeline is driver.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "driver.h"
#include "embed.h"
#include "link.h"
#include "repl.h"
#include "target.h"

static const char usage[] =
  "usage: nnc FILE.nn [-o OUT] [options]\n"
  "       nnc repl [FILE.nn]   (or nnc -i [FILE.nn]): the interactive loop, on the JIT\n"
  "       nnc run FILE.nn [--model NAME] [COMMAND] [OPTIONS]: the compiled program's command\n"
  "                            line (train, predict, eval, info) on the JIT\n"
  "\n"
  "Compiles a network description into a standalone program that trains and predicts.\n"
  "\n"
  "options:\n"
  "  -o OUT          write the executable to OUT (default: FILE without .nn)\n"
  "  -O0 -O1 -O2 -O3 optimisation level of the generated code (default -O2)\n"
  "  --model NAME    compile the model NAME of the file (default: the first one);\n"
  "                  every model and train block of the file is checked either way\n"
  "  -c              write a library object instead of a program: no main, and only the\n"
  "                  functions PREFIX_create, _free, _load, _save, _train_batch and\n"
  "                  _predict exported (default OUT: FILE without .nn, plus .o)\n"
  "  --header H      with -c: also write the C header H that declares and documents them\n"
  "  --prefix NAME   with -c: the PREFIX of those names (default: the model's name)\n"
  "  --check         parse and check only\n"
  "  --emit=KIND     print a stage's output to stdout and stop; KIND is one of\n"
  "                  ast (syntax tree), graph (forward graph), grad (forward, backward and\n"
  "                  update graph), dot (that graph for Graphviz), sched (fused kernels),\n"
  "                  llvm (optimised LLVM IR)\n"
  "  --explain       print the derived backward pass in textbook notation\n"
  "  --diag-format=test  one line per diagnostic: kind|file|line|col|message\n"
  "  -Werror         treat warnings (likely mistakes, such as softmax applied twice) as errors\n"
  "  --mpi           link the program with MPI: `mpirun -np P ./OUT train` trains on P\n"
  "                  processes, each on its share of every batch (docs/mpi.md)\n"
  "  --time          print the CPU and wall time of each compile stage to stderr\n"
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

/* The default output: the input's file name without its directory and .nn; with -c, plus .o. */
static const char *default_output(Arena *a, const char *input, bool object) {
  const char *base = strrchr(input, '/');
  base = base ? base + 1 : input;
  size_t n = strlen(base);
  if (n > 3 && !strcmp(base + n - 3, ".nn"))
    n -= 3;
  if (!object)
    return n ? arena_strndup(a, base, n) : "a.out";
  return arena_printf(a, "%.*s.o", (int)(n ? n : 1), n ? base : "a");
}

/* What -c, --header and --prefix need of the other options. */
static int check_library_options(const Options *o) {
  if (o->mpi && (o->compile_only || o->emit != EMIT_NONE || o->check_only || o->explain))
    return usage_error("%s builds a program: it cannot be combined with -c, --emit, --check or "
                       "--explain", "--mpi");
  if (!o->compile_only) {
    if (o->header)
      return usage_error("%s needs -c (a header goes with a library object)", "--header");
    if (o->prefix)
      return usage_error("%s needs -c", "--prefix");
    return 0;
  }
  if (o->emit != EMIT_NONE || o->check_only || o->explain)
    return usage_error("%s cannot be combined with --emit, --check or --explain", "-c");
  if (o->prefix && (!embed_is_identifier(o->prefix) || strlen(o->prefix) > 200))
    return usage_error("--prefix '%s' is not a C identifier of at most 200 characters",
                       o->prefix);
  if (o->header && o->output && !strcmp(o->header, o->output))
    return usage_error("--header '%s' is also the object file", o->header);
  return 0;
}

static int parse_args(int argc, char **argv, Options *o) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h"))
      return fputs(usage, stdout), -1;
    if (!strcmp(a, "--version"))
      return printf("nnc %s (LLVM 19)\n", nnc_version), -1;
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
    else if (!strcmp(a, "-c"))
      o->compile_only = true;
    else if (!strcmp(a, "--header") || !strcmp(a, "--prefix")) {
      if (++i == argc || !argv[i][0])
        return usage_error("%s needs a name", a);
      *(a[2] == 'h' ? &o->header : &o->prefix) = argv[i];
    } else if (!strncmp(a, "--header=", 9) || !strncmp(a, "--prefix=", 9)) {
      if (!a[9])
        return usage_error("%s needs a name", a);
      *(a[2] == 'h' ? &o->header : &o->prefix) = a + 9;
    } else if (!strcmp(a, "--check"))
      o->check_only = true;
    else if (!strcmp(a, "--explain"))
      o->explain = true;
    else if (!strncmp(a, "--emit=", 7)) {
      if (!parse_emit(a + 7, o))
        return usage_error("unknown --emit kind '%s' (ast, graph, grad, dot, sched, llvm)", a + 7);
    } else if (!strcmp(a, "--diag-format=test"))
      o->diag_format = DIAG_TEST;
    else if (!strcmp(a, "-Werror"))
      o->werror = true;
    else if (!strcmp(a, "--mpi"))
      o->mpi = true;
    else if (!strcmp(a, "--time"))
      o->time_stages = true;
    else if (a[0] == '-' && a[1])
      return usage_error("unknown option '%s'", a);
    else if (o->input)
      return usage_error("more than one input file ('%s')", a);
    else
      o->input = a;
  }
  if (!o->input)
    return usage_error("%s", "no input file");
  return check_library_options(o);
}

int main(int argc, char **argv) {
  target_handle_out_of_memory();
  if (argc > 1 && (!strcmp(argv[1], "repl") || !strcmp(argv[1], "-i")))
    return repl_main(argc - 2, argv + 2);
  if (argc > 1 && !strcmp(argv[1], "run"))
    return run_main(argc - 2, argv + 2);
  Options o = {.opt_level = DEFAULT_OPT_LEVEL, .diag_format = DIAG_HUMAN};
  int rc = parse_args(argc, argv, &o);
  if (rc)
    return rc < 0 ? 0 : rc;
  char err[4200];
  if (o.mpi && !link_mpi_available(err, sizeof err)) {
    fprintf(stderr, "nnc: error: %s\n", err);
    return EXIT_USAGE;
  }
  Arena a;
  arena_init(&a);
  if (!o.output)
    o.output = default_output(&a, o.input, o.compile_only);
  rc = driver_run(&o, stdout);
  arena_free(&a);
  return rc;
}
