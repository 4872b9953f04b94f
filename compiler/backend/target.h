/* target: finishing an LLVM module for the host CPU.
 * Contract: target_optimize verifies the module (a failure is an internal error: nnc emitted
 * bad IR) and runs the -O level's pipeline for the host's CPU and features: at -O2 the short one
 * the kernels need, else LLVM's `default<On>`; never partial or runtime unrolling or loop
 * strength reduction (target.c says why). target_emit_object writes a relocatable object
 * file. Errors are written to `err` (LLVM's message) and return false. Both work on any
 * module built by codegen, for the AOT path and the JIT alike. */
#ifndef NNC_TARGET_H
#define NNC_TARGET_H
#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>
#include <stdbool.h>
#include <stddef.h>

/* From now on, LLVM running out of memory ends nnc as oom.h says (status 1, no partial files). */
void target_handle_out_of_memory(void);
LLVMTargetMachineRef target_host_machine(int opt_level, char *err, size_t errlen);
bool target_optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, int opt_level, char *err,
                     size_t errlen);
/* Floats in the host's widest vector register: 16 with AVX-512, 8 with AVX, else 4. */
int target_vector_floats(void);
bool target_emit_object(LLVMModuleRef mod, LLVMTargetMachineRef tm, const char *path, char *err,
                        size_t errlen);

#endif
