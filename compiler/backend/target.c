#include "target.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Support.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <stdio.h>
#include <string.h>

#include "oom.h"

/* LLVM allocates with operator new, which calls the new-handler when malloc fails, and its
 * containers with llvm::safe_malloc, which calls the bad-alloc handler; without handlers both
 * throw std::bad_alloc through LLVM into nnc's C frames, which ends in std::terminate and an
 * abort. The two setters have no C API: they are declared here by their C++ names. */
typedef void (*NewHandler)(void);
typedef void (*BadAllocHandler)(void *data, const char *reason, bool crash_diag);
extern NewHandler cxx_set_new_handler(NewHandler h) __asm__("_ZSt15set_new_handlerPFvvE");
extern void llvm_install_bad_alloc_handler(BadAllocHandler h, void *data)
  __asm__("_ZN4llvm31install_bad_alloc_error_handlerEPFvPvPKcbES0_");

static void llvm_out_of_memory(void *data, const char *reason, bool crash_diag) {
  (void)data, (void)reason, (void)crash_diag;
  oom_exit();
}

void target_handle_out_of_memory(void) {
  cxx_set_new_handler(oom_exit);
  llvm_install_bad_alloc_handler(llvm_out_of_memory, NULL);
}

static void take_message(char *msg, char *err, size_t errlen) {
  snprintf(err, errlen, "%s", msg ? msg : "unknown LLVM error");
  LLVMDisposeMessage(msg);
}

/* The GEMM kernels are vectorised, tiled and unrolled by codegen already, so two of LLVM's
 * steps only cost compile time (docs/performance.md, issue 14: together a third of
 * fashion_mnist.nn's -O2 compile, with bit-identical weights): loop strength reduction in the
 * code generator, and partial and runtime unrolling. Only the CNN's im2col kernel ran slower
 * without LSR (a multiply per tap that LSR made a pointer step): codegen_window.c now steps its
 * own pointers and is as fast as it was with LSR, which would cost a third of code generation. The
 * full unrolling of short constant loops stays (the convolution windows need it), and so do
 * the vectorizers (the elementwise kernels and codegen_math rely on them). Neither has a C API
 * but LLVM's command-line options, which are global: they are set once. */
static void trim_llvm_pipeline(void) {
  static bool done;
  if (done)
    return;
  done = true;
  const char *argv[] = {"nnc", "-disable-lsr", "-unroll-allow-partial=false",
                        "-unroll-runtime=false"};
  LLVMParseCommandLineOptions((int)(sizeof argv / sizeof *argv), argv, "");
}

/* -O2's pipeline: what the kernels codegen emits need, and no more. They are loop nests over
 * one workspace pointer with the induction variables in allocas, already tiled, unrolled and
 * (the GEMMs) vectorised, each a function of its own that nothing inlines; so: promote the
 * allocas (sroa), simplify, rotate the loops and hoist their invariant addresses (licm), turn
 * zeroing loops into memset (loop-idiom), canonicalise the induction variables (indvars:
 * without it the CNN's epoch was 8% slower) and unroll the short constant loops (the
 * convolution windows, rows of 14), then vectorise the elementwise loops, the unrolled short
 * rows (slp-vectorizer: a CNN gradient sum took twice as long without it) and hoist what the
 * unrolling left invariant (licm: the window taps' bounds). default<O2> runs all of this and
 * much more (its inliner, interprocedural passes, GVN, a second unroller, nine rounds of
 * instcombine) at about twice the cost, for the same machine code speed and bit-identical
 * weights on the models measured (docs/performance.md, issue 14: -O2's own pipeline).
 * instcombine runs without its fixpoint check, as in LLVM's own pipelines (the check aborts
 * when a second round would change more). */
#define KERNEL_PASSES                                                                      \
  "function(sroa,early-cse,instcombine<no-verify-fixpoint>,simplifycfg,"                   \
  "loop-mssa(loop-rotate,licm),simplifycfg,instcombine<no-verify-fixpoint>,"               \
  "loop(loop-idiom,indvars,loop-deletion,loop-unroll-full),loop-vectorize,"                \
  "instcombine<no-verify-fixpoint>,simplifycfg,slp-vectorizer,"                            \
  "instcombine<no-verify-fixpoint>,loop-mssa(licm))"

/* Per -O level, the IR pipeline and the code generator's level. -O2's code generation is at
 * LLVM's "less" level: the kernels' loops are simple enough that the "default" level's extra
 * work (a quarter of code generation) made no measurable difference to their speed. -O1 and
 * -O3 are LLVM's own levels. */
typedef struct {
  const char *passes;
  LLVMCodeGenOptLevel codegen;
} Level;

static const Level levels[] = {
  {"default<O0>", LLVMCodeGenLevelNone},
  {"default<O1>", LLVMCodeGenLevelLess},
  {KERNEL_PASSES, LLVMCodeGenLevelLess},
  {"default<O3>", LLVMCodeGenLevelAggressive},
};

static const Level *level_of(int opt_level) {
  return &levels[opt_level < 0 ? 0 : opt_level > 3 ? 3 : opt_level];
}

LLVMTargetMachineRef target_host_machine(int opt_level, char *err, size_t errlen) {
  trim_llvm_pipeline();
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
    tm = LLVMCreateTargetMachine(target, triple, cpu, features, level_of(opt_level)->codegen,
                                 LLVMRelocPIC, LLVMCodeModelDefault);
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
  LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
  LLVMErrorRef e = LLVMRunPasses(mod, level_of(opt_level)->passes, tm, opts);
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
