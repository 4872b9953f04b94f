#include "jit.h"

#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <stdio.h>
#include <stdlib.h>

#include "target.h"

struct Jit {
  LLVMOrcLLJITRef lljit;
  LLVMOrcThreadSafeContextRef tsctx;
  LLVMTargetMachineRef tm; /* for the optimisation pipeline, as in the AOT path */
};

static bool failed(LLVMErrorRef e, char *err, size_t errlen) {
  if (!e)
    return false;
  char *m = LLVMGetErrorMessage(e);
  snprintf(err, errlen, "%s", m);
  LLVMDisposeErrorMessage(m);
  return true;
}

Jit *jit_new(char *err, size_t errlen) {
  LLVMInitializeNativeTarget();
  LLVMInitializeNativeAsmPrinter();
  Jit *j = calloc(1, sizeof *j);
  if (!j) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  LLVMOrcDefinitionGeneratorRef gen = NULL;
  if (failed(LLVMOrcCreateLLJIT(&j->lljit, NULL), err, errlen) ||
      failed(LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
               &gen, LLVMOrcLLJITGetGlobalPrefix(j->lljit), NULL, NULL), err, errlen) ||
      !(j->tm = target_host_machine(2, err, errlen))) {
    jit_free(j);
    return NULL;
  }
  LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(j->lljit), gen);
  j->tsctx = LLVMOrcCreateNewThreadSafeContext();
  return j;
}

LLVMContextRef jit_context(Jit *j) { return LLVMOrcThreadSafeContextGetContext(j->tsctx); }

bool jit_add(Jit *j, LLVMModuleRef mod, int opt_level, char *err, size_t errlen) {
  if (!target_optimize(mod, j->tm, opt_level, err, errlen)) {
    LLVMDisposeModule(mod);
    return false;
  }
  LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, j->tsctx);
  LLVMOrcJITDylibRef main_jd = LLVMOrcLLJITGetMainJITDylib(j->lljit);
  LLVMErrorRef e = LLVMOrcLLJITAddLLVMIRModule(j->lljit, main_jd, tsm);
  if (e)
    LLVMOrcDisposeThreadSafeModule(tsm);
  return !failed(e, err, errlen);
}

void *jit_lookup(Jit *j, const char *name) {
  LLVMOrcExecutorAddress addr = 0;
  LLVMErrorRef e = LLVMOrcLLJITLookup(j->lljit, &addr, name);
  if (e) {
    LLVMConsumeError(e);
    return NULL;
  }
  return (void *)(uintptr_t)addr;
}

void jit_free(Jit *j) {
  if (!j)
    return;
  if (j->lljit)
    LLVMOrcDisposeLLJIT(j->lljit);
  if (j->tsctx)
    LLVMOrcDisposeThreadSafeContext(j->tsctx);
  if (j->tm)
    LLVMDisposeTargetMachine(j->tm);
  free(j);
}
