/* sema: meaning for the AST — names, declarations, initialisers and training settings.
 * Contract: checks every model and train block of a file and returns the model to compile
 * (the first one) with its train block resolved, or NULL after reporting errors in that model's
 * block (or when there is no such model). A model whose own block is sound is returned even
 * when errors were reported elsewhere (its train block, another model), so that the caller can
 * lower it and report its expressions' errors in the same run; the caller fails when
 * diag_count grew. Checks made here: duplicate declarations, misplaced statements, unknown or
 * ill-typed settings (with "did you mean"), initialisers, one input, an output, a loss when the
 * model is trained, and data rows whose widths match the input and target. Expressions (names, functions, shapes)
 * are checked while lowering, where the graph builders know the shapes. */
#ifndef NNC_SEMA_H
#define NNC_SEMA_H
#include "ast.h"
#include "settings.h"
#include "shape.h"

/* A declaration a model has at most one of, resolved: its input, target, loss or output. */
typedef struct {
  bool present;
  const char *name; /* NULL for an unnamed loss or output */
  Shape shape;      /* of one row (input, target): without the batch axis */
  int64_t width;    /* elements of one row */
  Loc loc;
} ModelDecl;

/* The checked model: resolved declarations and settings. Its statements (body) are the
 * interface to lower, which alone reads them; nothing after lower sees a Model. */
typedef struct {
  const char *name;
  Loc loc;
  const AstNode *body; /* the model block's statements, in order */
  ModelDecl input, target, loss, output;
  int n_classes; /* target y : class(K) gives K; 0 for real-valued targets */
  TrainSettings train;
} Model;

/* `want` names the model to compile (NULL: the first one of the file). */
Model *sema_check(Arena *arena, Diag *diag, const AstNode *items, const char *want);
/* The shape a declaration gives, without the batch axis: [2, 2] for W1[2, 2]; [] for none. */
Shape sema_decl_shape(const AstNode *decl);

#endif
