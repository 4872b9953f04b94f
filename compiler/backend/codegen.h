/* codegen: scheduled kernels -> an LLVM module, through the LLVM-C API.
 * Contract: emits one internal function per kernel (nnk_<id>_<op>, a loop nest with its fused
 * expression), the entry points nn_step and nn_predict (void (float *ws, int64_t n): call the
 * kernels in schedule order), nn_evaluate (forward and loss), and the descriptor `nn_model` of nnrt.h with the
 * workspace plan, parameter initialisers, training settings and data. With `with_main`, also
 * `main`, which hands nn_model to the runtime. The same module serves the object file and the
 * JIT. Returns NULL only on an internal failure (reported on stderr). */
#ifndef NNC_CODEGEN_H
#define NNC_CODEGEN_H
#include <llvm-c/Core.h>

#include "plan.h"

LLVMModuleRef codegen_module(const Program *p, LLVMContextRef ctx, bool with_main);
/* How the runtime names value x of g when it turns non-finite (NnrtCheck.what): its name, else
 * the source text it computes (first line, cut), else its op; allocated in g's arena. */
const char *codegen_value_words(Graph *g, const Node *x);

#endif
