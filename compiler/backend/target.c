#include "target.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <stdio.h>
#include <string.h>

static void take_message(char *msg, char *err, size_t errlen) {
  snprintf(err, errlen, "%s", msg ? msg : "unknown LLVM error");
  LLVMDisposeMessage(msg);
}

LLVMTargetMachineRef target_host_machine(int opt_level, char *err, size_t errlen) {
  LLVMInitializeNativeTarget();
  LLVMInitializeNativeAsmPrinter();
  char *triple = LLVMGetDefaultTargetTriple();
  char *cpu = LLVMGetHostCPUName();
  char *features = LLVMGetHostCPUFeatures();
  LLVMTargetRef target;
  char *msg = NULL;
  LLVMTargetMachineRef tm = NULL;
  if (LLVMGetTargetFromTriple(triple, &target, &msg))
    take_message(msg, err, errlen);
  else {
    LLVMCodeGenOptLevel level = opt_level <= 0 ? LLVMCodeGenLevelNone
                              : opt_level == 1 ? LLVMCodeGenLevelLess
                              : opt_level == 2 ? LLVMCodeGenLevelDefault
                                               : LLVMCodeGenLevelAggressive;
    tm = LLVMCreateTargetMachine(target, triple, cpu, features, level, LLVMRelocPIC,
                                 LLVMCodeModelDefault);
  }
  LLVMDisposeMessage(triple);
  LLVMDisposeMessage(cpu);
  LLVMDisposeMessage(features);
  return tm;
}

int target_vector_floats(void) {
  char *features = LLVMGetHostCPUFeatures();
  int floats = strstr(features, "+avx512f") ? 16 : strstr(features, "+avx") ? 8 : 4;
  LLVMDisposeMessage(features);
  return floats;
}

bool target_optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, int opt_level, char *err,
                     size_t errlen) {
  char *msg = NULL;
  if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
    take_message(msg, err, errlen);
    return false;
  }
  LLVMDisposeMessage(msg);
  char *triple = LLVMGetTargetMachineTriple(tm);
  LLVMSetTarget(mod, triple);
  LLVMDisposeMessage(triple);
  LLVMTargetDataRef layout = LLVMCreateTargetDataLayout(tm);
  LLVMSetModuleDataLayout(mod, layout);
  LLVMDisposeTargetData(layout);
  char passes[32];
  snprintf(passes, sizeof passes, "default<O%d>", opt_level < 0 ? 0 : opt_level > 3 ? 3 : opt_level);
  LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
  LLVMErrorRef e = LLVMRunPasses(mod, passes, tm, opts);
  LLVMDisposePassBuilderOptions(opts);
  if (e) {
    char *m = LLVMGetErrorMessage(e);
    snprintf(err, errlen, "%s", m);
    LLVMDisposeErrorMessage(m);
    return false;
  }
  return true;
}

bool target_emit_object(LLVMModuleRef mod, LLVMTargetMachineRef tm, const char *path, char *err,
                        size_t errlen) {
  char *msg = NULL;
  if (LLVMTargetMachineEmitToFile(tm, mod, (char *)path, LLVMObjectFile, &msg)) {
    take_message(msg, err, errlen);
    return false;
  }
  return true;
}
