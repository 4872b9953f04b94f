/* embed: a compiled model as a library object and its C header (nnc -c [--header H]).
 * Contract: embed_module turns the module of codegen_module(p, ctx, false) into a library:
 * every symbol it defines (entry points, descriptor, kernels) gets internal linkage, and it adds
 * the only exported functions, <prefix>_create, _free, _load, _save, _train_batch and _predict,
 * thin wrappers around nnrt_host.h's nnrt_context_* API with the internal descriptor bound.
 * So two models compiled with -c link into one program without clashing, as long as their
 * prefixes differ. embed_write_header writes the header that declares those functions.
 * Both work for any model, trainable or predict-only. */
#ifndef NNC_EMBED_H
#define NNC_EMBED_H
#include <llvm-c/Core.h>
#include <stdio.h>

#include "codegen.h"

/* name made a C identifier into buf: characters other than letters, digits and '_' become '_',
 * and a name that is empty or starts with a digit gets "nn_" in front. */
const char *embed_prefix(const char *name, char *buf, size_t n);
/* true when s is a C identifier (letters, digits, '_', not starting with a digit). */
bool embed_is_identifier(const char *s);
void embed_module(const Program *p, LLVMModuleRef mod, const char *prefix);
/* The header for the object of p, compiled from source_name. Returns false on a write error. */
bool embed_write_header(FILE *f, const Program *p, const char *prefix, const char *source_name);

#endif
