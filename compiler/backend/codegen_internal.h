/* codegen_internal: what codegen.c, codegen_matmul.c and descriptor.c share — the state of the module being
 * built and the small constant makers. Not for other stages. */
#ifndef NNC_CODEGEN_INTERNAL_H
#define NNC_CODEGEN_INTERNAL_H
#include "codegen.h"

/* A kernel's function, kept to serve every entry point whose kernel computes the same. */
typedef struct {
  const Schedule *s;
  const Kernel *k;
  LLVMValueRef fn;
} BuiltKernel;

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
  BuiltKernel *built;
  int nbuilt;
  bool *tested; /* by node id: a gradient the step's updates test for non-finite values */
  LLVMValueRef predict_head, predict_tail; /* the cut predict's entries, or NULL (plan.h) */
  LLVMAttributeRef noinline;
  int vector_floats; /* lanes of the host's widest float vector: 4, 8 or 16 */
} CgCtx;

LLVMValueRef cg_f32(CgCtx *c, double v);
LLVMValueRef cg_i64(CgCtx *c, int64_t v);
/* A call of the float function (an intrinsic or libm's) `name` with 1 to 3 float arguments. */
LLVMValueRef cg_call_f32(CgCtx *c, const char *name, LLVMValueRef *args, unsigned nargs);
/* An extent: a constant, or the batch size n for DIM_BATCH. */
LLVMValueRef cg_extent(CgCtx *c, int64_t dim);
LLVMValueRef cg_alloca(CgCtx *c, LLVMTypeRef type, const char *name);

/* Counted loops: open returns the index, valid in the body; close ends the body. */
typedef struct {
  LLVMValueRef counter;
  LLVMBasicBlockRef cond, exit;
} Loop;
LLVMValueRef cg_loop_open_range(CgCtx *c, Loop *l, LLVMValueRef lo, LLVMValueRef hi,
                                const char *name);
LLVMValueRef cg_loop_open(CgCtx *c, Loop *l, LLVMValueRef ext, const char *name);
/* Closes the loop; returns its back edge (the branch that loop metadata goes on). */
LLVMValueRef cg_loop_close(CgCtx *c, Loop *l, LLVMValueRef i);
/* Marks the loop whose back edge is `back` (cg_loop_close's) as not to be vectorised. */
void cg_keep_scalar(CgCtx *c, LLVMValueRef back);
/* [lo, hi): this kernel's part of an axis of extent ext, for the runtime's threads. */
void cg_share(CgCtx *c, LLVMValueRef ext, LLVMValueRef *lo, LLVMValueRef *hi);

/* &ws[base + Σ idx[i]·stride[i]] and its load as a float. */
LLVMValueRef cg_address(CgCtx *c, int64_t base, const LLVMValueRef *idx, const int64_t *stride,
                        int rank);
LLVMValueRef cg_load_node(CgCtx *c, const Node *n, const LLVMValueRef *idx, const int64_t *stride,
                          int rank);

/* The kernels of the ops that are a loop nest of their own (the lower column of ops.def): the
 * matrix product (codegen_matmul.c) and the window ops (codegen_window.c). */
typedef void CgKernel(CgCtx *c, const Kernel *k);
CgKernel emit_matmul, cg_unfold, cg_fold, cg_maxpool, cg_maxpool_back, cg_avgpool, cg_avgpool_back;
/* codegen_matmul_through.c: fold of a product left to it (sched_folds_product) as one product
 * whose A is δ read through the window; false when k is not that. */
bool emit_fold_product(CgCtx *c, const Kernel *k);
/* codegen_window_last.c: the window ops over images stored channels last (Window.last); the
 * pools return false (nothing emitted) for windows of more taps than they unroll. */
CgKernel cg_unfold_last, cg_fold_last;
bool cg_maxpool_last(CgCtx *c, const Kernel *k);
bool cg_maxpool_back_last(CgCtx *c, const Kernel *k);
/* n floats at base[i], of which the first `lanes` are read (the rest are 0) / written. */
LLVMValueRef cg_load_lanes(CgCtx *c, LLVMValueRef base, LLVMValueRef i, int n, int lanes);
void cg_store_lanes(CgCtx *c, LLVMValueRef base, LLVMValueRef i, LLVMValueRef v, int n, int lanes);
/* How many permutations the fused expression rooted at n reads through (itself included);
 * *first (NULL on entry) the first of them. */
int cg_moves(CgCtx *c, const Node *n, const Node **first);
/* The lowering of elementwise op n (ops.def's lower column) applied to a and b. */
LLVMValueRef cg_elem_op(CgCtx *c, const Node *n, LLVMValueRef a, LLVMValueRef b);
/* codegen_transpose.c: the kernel of an elementwise expression over a permutation that
 * transposes each image ([N, A.., B..] to [N, B.., A..]) as tiles transposed in registers;
 * false (nothing emitted) for any other kernel. */
bool cg_transpose(CgCtx *c, const Kernel *k);
/* out[k·out_row + j] = in[j·in_row + k] for the rows j in [lo, hi) of `in` and k in [0, cols),
 * as tiles transposed in registers (a matrix product's B read transposed). */
void cg_transpose_rows(CgCtx *c, LLVMValueRef in, int64_t in_row, LLVMValueRef lo,
                       LLVMValueRef hi, LLVMValueRef cols, LLVMValueRef out, int64_t out_row);
/* The constant `nn_model` (nnrt.h) for entry points step, evaluate (both may be NULL)
 * and predict; the builder must be positioned in some function (for global strings). */
void descriptor_emit(CgCtx *c, LLVMValueRef step, LLVMValueRef evaluate, LLVMValueRef predict,
                     LLVMValueRef *step_kernels);
/* int main(int argc, char **argv) { return nnrt_main(&nn_model, argc, argv); } */
void descriptor_emit_main(CgCtx *c);

/* codegen_math.c: float exp, expm1, log, log1p and tanh as vectorizable arithmetic (no calls),
 * within 1.5 ulp. */
LLVMValueRef cgm_exp(CgCtx *c, LLVMValueRef x);
LLVMValueRef cgm_expm1(CgCtx *c, LLVMValueRef x);
LLVMValueRef cgm_log(CgCtx *c, LLVMValueRef x);
LLVMValueRef cgm_log1p(CgCtx *c, LLVMValueRef x);
LLVMValueRef cgm_tanh(CgCtx *c, LLVMValueRef x);

#endif
