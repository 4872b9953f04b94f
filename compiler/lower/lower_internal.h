/* lower_internal: what the files of lower share; not part of lower.h's API.
 * Contract: lower.c owns the scope and the driver and lowers expressions and declarations;
 * lower_call.c lowers function calls (layers, elementwise functions, reductions, dot,
 * transpose), lower_image.c those over images, lower_norm.c the normalisations, and lower_call
 * dispatches the rest to lower_sugar.c's tables of activations, losses and
 * regularisers; lower_args.c binds call arguments; lower_init.c owns the initialisers. Every
 * function reports at the user's source through L->diag and returns NULL (false) after an
 * error. */
#ifndef NNC_LOWER_INTERNAL_H
#define NNC_LOWER_INTERNAL_H
#include "lower.h"
#include "strmap.h"

typedef struct {
  const char *name;
  Node *node;
} Binding;

/* A softmax built here and the logits it was built from, so cross_entropy(p, y) of a named
 * softmax can use the stable log-softmax of the logits. */
typedef struct {
  Node *probs, *logits;
} SoftmaxOf;

typedef struct {
  Graph *g;
  Diag *diag;
  const Model *m;
  Binding *scope; /* every binding in order (for "did you mean") */
  int nscope, cap;
  StrMap latest;  /* name -> 1 + the index in scope of its latest binding */
  SoftmaxOf *softmax;
  int nsoftmax, softmax_cap;
  Node *class_target;  /* the target leaf when it holds class labels (one-hot rows) */
  int nliterals;       /* constant tensors from array literals, for their names */
  bool class_loss;     /* cross_entropy or nll was used */
  bool binary_loss;    /* binary_cross_entropy(_with_logits) was used */
  Node *binary_probs;  /* the probabilities binary_cross_entropy was given, when built */
} Lower;

/* --- lower.c --- */

Node *lower_expr(Lower *L, const AstNode *e);
void lower_bind(Lower *L, const char *name, Node *n);

/* --- lower_args.c: arguments of calls --- */

const AstNode *lower_arg_value(const AstNode *a);
bool lower_bind_args(Lower *L, const AstNode *call, const char *const *spec, int nparams,
                     int nreq, const AstNode *out[MAX_ARGS]);
/* The one argument x of call(x), lowered (NULL after reporting an error); g->loc is the call. */
Node *lower_single_arg(Lower *L, const AstNode *call);
/* A number or a negated number. */
bool lower_constant_value(const AstNode *e, double *out);
bool lower_number_arg(Lower *L, const AstNode *call, const AstNode *a, const char *what,
                      double *out);
bool lower_bool_arg(Lower *L, const AstNode *a, const char *what, bool *out);
const AstNode *lower_single_arg_of(const AstNode *e, const char *f);

/* --- lower_sugar.c: helpers, and the tables of activations, losses and regularisers --- */

Node *lower_min2(Graph *g, Node *a, Node *b);
uint32_t lower_all_axes(const Node *x);
Node *lower_mean_axes(Graph *g, Node *x, uint32_t axes);
Node *lower_dot(Graph *g, Node *a, Node *b);

typedef Node *ActBuild(Lower *L, Node *x, double k);
struct Activation {
  const char *name;
  const char *param; /* NULL: none */
  double def;
  ActBuild *build;
  bool to_probability; /* its values are probabilities: applied to one again, it warns */
};
extern const struct Activation lower_activations[]; /* identity first */
const struct Activation *lower_find_activation(const char *name);
Node *lower_activation_call(Lower *L, const AstNode *call, const struct Activation *act);
/* act(x) where the activation's place is x's (g->loc); NULL for a NULL x. */
Node *lower_apply_activation(Lower *L, const struct Activation *act, Node *x, double k);
bool lower_activation_spec(Lower *L, const AstNode *layer, const AstNode *v,
                           const struct Activation **act, double *k);

struct Loss;
const struct Loss *lower_find_loss(const char *name);
Node *lower_loss_call(Lower *L, const AstNode *call, const struct Loss *loss);

/* The regulariser of index i (as lower_regulariser_name(i)) applied to call's argument. */
Node *lower_regulariser(Lower *L, const AstNode *call, int i);

/* The NNRT_METRIC_* the runtime scores predictions with. */
int lower_choose_metric(const Lower *L);

/* --- lower_range.c: the interval of values a forward node can take (sound, often loose) --- */

typedef struct {
  double lo, hi;
} Interval;
Interval lower_range(Graph *g, const Node *n);
/* Whether every value of n lies in [0, 1]: a softmax, a sigmoid, a bounded expression. */
bool lower_is_probability(Graph *g, const Node *n);

/* --- lower.c --- */

/* Whether `n` reads `leaf`. */
bool lower_depends_on(Graph *g, const Node *n, const Node *leaf);

/* --- lower_init.c --- */

bool lower_init(Lower *L, const AstNode *v, const char *pname, Shape s, ParamInit *init);
Node *lower_declare_param(Lower *L, const char *name, Shape s, ParamInit init);
bool lower_array_literal(Lower *L, const AstNode *e, Shape *s, float **values);

/* --- lower_call.c, lower_image.c: the functions that are not table sugar --- */

typedef struct {
  const char *name;
  Node *(*lower)(Lower *L, const AstNode *call, const char *let_name);
} LowerFunction;
/* conv2d, conv, the pools, flatten, reshape (lower_image.c); batch_norm, layer_norm
 * (lower_norm.c); each ends with a NULL name */
extern const LowerFunction lower_image_functions[], lower_norm_functions[];

Node *lower_call(Lower *L, const AstNode *call, const char *let_name);
/* The transpose of the last two axes. */
Node *lower_transpose(Lower *L, Node *x);

#endif
