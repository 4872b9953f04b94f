/* jit: running codegen's modules in this process with LLVM's ORC LLJIT.
 * Contract: jit_new makes an LLJIT whose symbol lookups fall back to this process (libm,
 * the runtime linked into nnc); jit_add optimizes and adds a module built with
 * jit_context's context, taking ownership of it; jit_lookup returns the address of a defined
 * symbol or NULL. jit_free releases everything. Errors are LLVM's message in err. */
#ifndef NNC_JIT_H
#define NNC_JIT_H
#include <llvm-c/Core.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct Jit Jit;

Jit *jit_new(char *err, size_t errlen);
/* The context new modules for this JIT must be created in. */
LLVMContextRef jit_context(Jit *j);
bool jit_add(Jit *j, LLVMModuleRef mod, int opt_level, char *err, size_t errlen);
void *jit_lookup(Jit *j, const char *name);
void jit_free(Jit *j);

#endif
