/* codegen_internal: what codegen.c and descriptor.c share — the state of the module being
 * built and the small constant makers. Not for other stages. */
#ifndef NNC_CODEGEN_INTERNAL_H
#define NNC_CODEGEN_INTERNAL_H
#include "codegen.h"

typedef struct {
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  LLVMTypeRef f32, i32, i64, ptr, f64;
  LLVMTypeRef entry_fn;  /* void (float *ws, int64_t n) */
  LLVMTypeRef kernel_fn; /* void (float *ws, int64_t n, int64_t part, int64_t parts) */
  LLVMValueRef fn, ws, n; /* the function being built and its arguments */
  LLVMValueRef part, parts; /* a kernel's share of the work: part of parts (0 of 1: all) */
  LLVMBasicBlockRef entry;
  const Program *p;
  const Schedule *s;
  /* Scalars a kernel reads (η, t, the loss's 1/N...), loaded once before its loops: loads
   * through the one workspace pointer cannot be hoisted by LLVM past the kernel's stores. */
  const Node *scalar_node[16];
  LLVMValueRef scalar_value[16];
  int nscalars;
} CgCtx;

LLVMValueRef cg_f32(CgCtx *c, double v);
LLVMValueRef cg_i64(CgCtx *c, int64_t v);
/* The constant `nn_model` (runtime/nnrt.h) for entry points step, evaluate (both may be NULL)
 * and predict; the builder must be positioned in some function (for global strings). */
void descriptor_emit(CgCtx *c, LLVMValueRef step, LLVMValueRef evaluate, LLVMValueRef predict,
                     LLVMValueRef *step_kernels);
/* int main(int argc, char **argv) { return nnrt_main(&nn_model, argc, argv); } */
void descriptor_emit_main(CgCtx *c);

#endif
