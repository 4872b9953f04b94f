/* jit_fixture: a planned Program compiled by the JIT, for the tests that run generated kernels
 * (test_codegen, test_vecmath, test_elem_loops). */
#ifndef NNC_TEST_JIT_FIXTURE_H
#define NNC_TEST_JIT_FIXTURE_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "codegen.h"
#include "jit.h"
#include "target.h"

typedef void EntryFn(float *ws, int64_t n);

/* The JIT holding p's module at -O2; *ok false (and the reason on stderr) when LLVM refused it. */
static inline Jit *jit_program(const Program *p, bool *ok) {
  char err[1024];
  Jit *j = jit_new(err, sizeof err);
  assert_non_null(j);
  LLVMModuleRef mod = codegen_module(p, jit_context(j), false);
  *ok = jit_add(j, mod, 2, err, sizeof err);
  if (!*ok)
    fprintf(stderr, "jit: %s\n", err);
  return j;
}

/* The JIT holding p's module at -O2 (asserted) and its nn_predict in *predict. */
static inline Jit *jit_predict(const Program *p, EntryFn **predict) {
  bool ok;
  Jit *j = jit_program(p, &ok);
  assert_true(ok);
  *predict = (EntryFn *)jit_lookup(j, "nn_predict");
  assert_non_null(*predict);
  return j;
}

/* p's module optimised at -O2 for the host, as text (free it with LLVMDisposeMessage). */
static inline char *jit_optimised_ir(const Program *p) {
  char err[512];
  LLVMTargetMachineRef tm = target_host_machine(2, err, sizeof err);
  assert_non_null(tm);
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef mod = codegen_module(p, ctx, false);
  assert_true(target_optimize(mod, tm, 2, err, sizeof err));
  char *ir = LLVMPrintModuleToString(mod);
  LLVMDisposeModule(mod);
  LLVMContextDispose(ctx);
  LLVMDisposeTargetMachine(tm);
  return ir;
}

#endif
