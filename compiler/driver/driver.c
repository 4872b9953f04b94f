#include "driver.h"

#include <errno.h>
#include <llvm-c/Core.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codegen.h"
#include "embed.h"
#include "explain.h"
#include "layout.h"
#include "grad.h"
#include "link.h"
#include "oom.h"
#include "optim.h"
#include "parse.h"
#include "stage_clock.h"
#include "target.h"

void compilation_init(Compilation *c, const char *name, const char *text, size_t len,
                      FILE *diag_out) {
  memset(c, 0, sizeof *c);
  arena_init(&c->arena);
  c->src = (Source){name, text, len, NULL};
  diag_init(&c->diag, &c->src, diag_out);
}

void compilation_plan(Compilation *c, Program *p, const char *src) {
  const Model *m = c->model;
  program_plan(p, &c->graph, m->name, m->n_classes, &m->train, src);
}

void compilation_free(Compilation *c) { arena_free(&c->arena); }

static bool verified(Compilation *c, const char *stage) {
  if (graph_verify(&c->graph, stderr))
    return true;
  fprintf(stderr, "nnc: internal error: the graph is inconsistent after %s\n", stage);
  return false;
}

static bool parse(Compilation *c) {
  c->ast = parse_source(&c->arena, &c->diag, &c->src);
  return diag_count(&c->diag) == 0;
}

/* Errors in a train block do not hide the model's: a sound model block is lowered anyway, for
 * the errors of its expressions, before the check fails. */
static bool check(Compilation *c) {
  int before = diag_count(&c->diag);
  c->model = sema_check(&c->arena, &c->diag, c->ast, c->want_model);
  if (c->model && diag_count(&c->diag) != before) {
    graph_init(&c->graph, &c->arena, &c->diag);
    lower_model(&c->graph, c->model);
    c->model = NULL;
  }
  return c->model != NULL;
}

static bool lower(Compilation *c) {
  graph_init(&c->graph, &c->arena, &c->diag);
  if (!lower_model(&c->graph, c->model) || !verified(c, "lowering"))
    return false;
  return !c->layout || !layout_channels_last(&c->graph) || verified(c, "the layout");
}

/* A model without a train block has no backward pass and no optimizer: its graph is done. */
static bool differentiate(Compilation *c) {
  return !c->model->train.present || (grad_build(&c->graph) && verified(c, "differentiation"));
}

static bool optimize(Compilation *c) {
  if (!c->model->train.present)
    return true;
  optim_build(&c->graph, &c->model->train.opt);
  return diag_count(&c->diag) == 0 && verified(c, "the optimizer");
}

/* The front end's stages, in the order of Stage. */
static bool (*const stages[])(Compilation *) = {
  [STAGE_PARSE] = parse, [STAGE_CHECK] = check, [STAGE_LOWER] = lower,
  [STAGE_GRAD] = differentiate, [STAGE_OPTIM] = optimize,
};

bool compilation_run(Compilation *c, Stage last) {
  for (Stage s = c->done + 1; s <= last; s++) {
    if (!stages[s](c))
      return false;
    c->done = s;
  }
  return true;
}

bool compilation_front(Compilation *c) { return compilation_run(c, STAGE_OPTIM); }

/* --- reading the source --- */

const char nnc_version[] = NNC_VERSION;

enum { MAX_SOURCE = 16 << 20 };

char *driver_read_source(const char *path, size_t *len, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  struct stat st;
  if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "cannot read '%s': %s", path, f ? "not a regular file" : strerror(errno));
    if (f)
      fclose(f);
    return NULL;
  }
  if (st.st_size > MAX_SOURCE) {
    snprintf(err, errlen, "'%s' is larger than the limit of %d MiB", path, MAX_SOURCE >> 20);
    fclose(f);
    return NULL;
  }
  char *text = malloc((size_t)st.st_size + 1);
  if (!text) {
    snprintf(err, errlen, "out of memory reading '%s'", path);
    fclose(f);
    return NULL;
  }
  *len = fread(text, 1, (size_t)st.st_size, f);
  text[*len] = '\0';
  fclose(f);
  return text;
}

/* --- the back end --- */

static int internal(const char *what, const char *msg) {
  fprintf(stderr, "nnc: internal error: %s: %s\n", what, msg);
  return EXIT_INTERNAL;
}

static int emit_executable(LLVMModuleRef mod, LLVMTargetMachineRef tm, const char *out,
                           bool mpi, StageClock *clock) {
  char obj[] = "/tmp/nnc-XXXXXX.o", err[1024];
  int fd = mkstemps(obj, 2);
  if (fd < 0) {
    fprintf(stderr, "nnc: error: cannot create a temporary file: %s\n", strerror(errno));
    return EXIT_IO;
  }
  close(fd);
  oom_track_file(obj);
  int rc = 0;
  if (!target_emit_object(mod, tm, obj, err, sizeof err))
    rc = internal("emitting the object file", err);
  else {
    stage_clock_lap(clock, "machine code");
    if (link_executable(obj, out, mpi, err, sizeof err))
      stage_clock_lap(clock, "link");
    else {
      fprintf(stderr, "nnc: error: %s\n", err);
      rc = EXIT_IO;
    }
  }
  unlink(obj);
  oom_untrack_file(obj);
  return rc;
}

/* -c: the library object at o->output and, with --header, its header, both written to
 * temporary files first and renamed only when both are complete, so a failure leaves
 * neither. */
static int write_library(LLVMModuleRef mod, LLVMTargetMachineRef tm, const Program *p,
                         const Options *o, const char *prefix, const char *obj, const char *hdr,
                         StageClock *clock);

static int emit_library(LLVMModuleRef mod, LLVMTargetMachineRef tm, const Program *p,
                        const Options *o, const char *prefix, StageClock *clock) {
  char obj[4096], hdr[4096];
  snprintf(obj, sizeof obj, "%s.tmp.%ld", o->output, (long)getpid());
  snprintf(hdr, sizeof hdr, "%s.tmp.%ld", o->header ? o->header : "", (long)getpid());
  oom_track_file(obj);
  int rc = write_library(mod, tm, p, o, prefix, obj, hdr, clock);
  oom_untrack_file(obj);
  return rc;
}

static int write_library(LLVMModuleRef mod, LLVMTargetMachineRef tm, const Program *p,
                         const Options *o, const char *prefix, const char *obj, const char *hdr,
                         StageClock *clock) {
  char err[1024];
  if (!target_emit_object(mod, tm, obj, err, sizeof err)) {
    unlink(obj);
    fprintf(stderr, "nnc: error: cannot write '%s': %s\n", o->output, err);
    return EXIT_IO;
  }
  stage_clock_lap(clock, "machine code");
  if (o->header) {
    FILE *f = fopen(hdr, "w");
    bool ok = f && embed_write_header(f, p, prefix, p->source_name);
    int e = errno;
    if (f && fclose(f) != 0 && ok)
      ok = false, e = errno;
    if (!ok) {
      fprintf(stderr, "nnc: error: cannot write '%s': %s\n", o->header, strerror(e));
      unlink(hdr);
      unlink(obj);
      return EXIT_IO;
    }
  }
  if (rename(obj, o->output) != 0) {
    fprintf(stderr, "nnc: error: cannot write '%s': %s\n", o->output, strerror(errno));
    unlink(obj);
    if (o->header)
      unlink(hdr);
    return EXIT_IO;
  }
  if (o->header && rename(hdr, o->header) != 0) {
    fprintf(stderr, "nnc: error: cannot write '%s': %s\n", o->header, strerror(errno));
    unlink(hdr);
    unlink(o->output);
    return EXIT_IO;
  }
  return 0;
}

static int back_end(Compilation *c, const Options *o, FILE *out, StageClock *clock) {
  Program p;
  compilation_plan(c, &p, c->src.name);
  if (o->emit == EMIT_SCHED) {
    if (p.can_train) {
      fputs("# nn_step\n", out);
      sched_print(out, &p.step, &c->graph);
      fputs("# nn_evaluate\n", out);
      sched_print(out, &p.evaluate, &c->graph);
    }
    fputs("# nn_predict\n", out);
    sched_print(out, &p.predict, &c->graph);
    return 0;
  }
  char err[4096];
  LLVMTargetMachineRef tm = target_host_machine(o->opt_level, err, sizeof err);
  if (!tm)
    return internal("no target machine for this host", err);
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef mod = codegen_module(&p, ctx, !o->compile_only);
  char buf[256];
  const char *prefix = o->prefix ? o->prefix : embed_prefix(c->model->name, buf, sizeof buf);
  if (o->compile_only)
    embed_module(&p, mod, prefix);
  stage_clock_lap(clock, "codegen");
  bool optimized = target_optimize(mod, tm, o->opt_level, err, sizeof err);
  stage_clock_lap(clock, "LLVM passes");
  int rc = 0;
  if (!optimized)
    rc = internal("LLVM rejected the generated module", err);
  else if (o->emit == EMIT_LLVM) {
    char *ir = LLVMPrintModuleToString(mod);
    fputs(ir, out);
    LLVMDisposeMessage(ir);
  } else if (o->compile_only)
    rc = emit_library(mod, tm, &p, o, prefix, clock);
  else
    rc = emit_executable(mod, tm, o->output, o->mpi, clock);
  LLVMDisposeModule(mod);
  LLVMContextDispose(ctx);
  LLVMDisposeTargetMachine(tm);
  return rc;
}

/* The stages that print an IR and stop. */
static bool emit_front(Compilation *c, const Options *o, FILE *out) {
  switch (o->emit) {
  case EMIT_AST: ast_print(out, c->ast); return true;
  case EMIT_GRAPH:
  case EMIT_GRAD: graph_print(out, &c->graph); return true;
  case EMIT_DOT: graph_print_dot(out, &c->graph); return true;
  default: break;
  }
  if (o->explain) {
    explain_print(out, &c->graph, &c->model->train.opt);
    return true;
  }
  return o->check_only;
}

/* The last front-end stage each emit kind needs: --emit=ast stops after parsing, --emit=graph
 * after lowering (before the backward pass); the others need the whole front end. */
static Stage last_stage(EmitKind k) {
  return k == EMIT_AST ? STAGE_PARSE : k == EMIT_GRAPH ? STAGE_LOWER : STAGE_OPTIM;
}

/* Whether the directory of `path` takes a new file; otherwise says why, before any work is
 * done (the linker would say it later about a temporary file the user never named). */
static bool writable_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char dir[4096];
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
           slash ? path : ".");
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    fprintf(stderr, "nnc: error: cannot write '%s': the directory '%s' does not exist\n", path,
            dir);
    return false;
  }
  if (access(dir, W_OK | X_OK) != 0) {
    fprintf(stderr, "nnc: error: cannot write '%s': the directory '%s' is not writable\n", path,
            dir);
    return false;
  }
  return true;
}

int driver_run(const Options *o, FILE *out) {
  bool writes = o->emit == EMIT_NONE && !o->check_only && !o->explain;
  if (writes && (!writable_dir(o->output) || (o->header && !writable_dir(o->header))))
    return EXIT_IO;
  StageClock clock;
  stage_clock_start(&clock, o->time_stages ? stderr : NULL);
  size_t len = 0;
  char err[4200];
  char *text = driver_read_source(o->input, &len, err, sizeof err);
  if (!text) {
    fprintf(stderr, "nnc: error: %s\n", err);
    return EXIT_IO;
  }
  Compilation c;
  compilation_init(&c, o->input, text, len, stderr);
  c.diag.format = o->diag_format;
  c.diag.werror = o->werror;
  c.want_model = o->model;
  c.layout = !o->explain && (o->emit == EMIT_NONE || o->emit == EMIT_SCHED || o->emit == EMIT_LLVM);
  int rc;
  bool front = compilation_run(&c, last_stage(o->emit));
  stage_clock_lap(&clock, "front end");
  if (!front)
    rc = diag_count(&c.diag) ? EXIT_INPUT : EXIT_INTERNAL;
  else if (o->explain && !c.model->train.present) {
    fprintf(stderr, "nnc: error: model '%s' is not trained, so there is no backward pass to "
            "explain\n", c.model->name);
    rc = EXIT_INPUT;
  } else
    rc = emit_front(&c, o, out) ? 0 : back_end(&c, o, out, &clock);
  compilation_free(&c);
  free(text);
  stage_clock_total(&clock);
  return rc;
}
