/* sema: meaning for the AST — names, declarations, initialisers and training settings.
 * Contract: checks every model and train block of a file and returns the model to compile
 * (the first one) with its train block resolved, or NULL after reporting errors. Checks made
 * here: duplicate declarations, misplaced statements, unknown or ill-typed settings (with
 * "did you mean"), initialisers, one input, an output, a loss when the model is trained, and
 * data rows whose widths match the input and target. Expressions (names, functions, shapes)
 * are checked while lowering, where the graph builders know the shapes. */
#ifndef NNC_SEMA_H
#define NNC_SEMA_H
#include "ast.h"
#include "shape.h"

typedef struct {
  bool present;
  const AstNode *block;
  int64_t epochs, batch, log_every;
  uint64_t seed;
  bool shuffle;
  double lr;
  const AstNode *data; /* AST_TABLE */
} TrainSettings;

typedef struct {
  const char *name;
  const AstNode *ast;
  const AstNode *input, *target, *loss, *output;
  TrainSettings train;
} Model;

Model *sema_check(Arena *arena, Diag *diag, const AstNode *items);
/* The shape a declaration gives, without the batch axis: [2, 2] for W1[2, 2]; [] for none. */
Shape sema_decl_shape(const AstNode *decl);

#endif
