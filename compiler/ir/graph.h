/* graph: the tensor graph IR — compact nodes of primitive ops (ops.def), as in ggml and kann.
 * Contract: nodes are only appended, after their sources, so creation order (Node.id) is a
 * topological order. Builders g_* check the shape rule of the op (reporting a user error at
 * g->loc and returning NULL on failure; a NULL source gives NULL, so errors propagate without
 * cascades), apply the algebraic rewrites of simplify.c, and hash-cons equal (op, src, arg) so
 * an expression built twice is one node. An op takes up to NNC_MAX_SRC sources and
 * NNC_MAX_PARAMS integer parameters (ops.def says how many); unused ones are NULL and 0.
 * graph_verify checks these invariants. */
#ifndef NNC_GRAPH_H
#define NNC_GRAPH_H
#include <stdio.h>

#include "arena.h"
#include "diag.h"
#include "ops.h"
#include "shape.h"

enum {
  NODE_INPUT = 1 << 0,  /* fed by the runtime each step: input and target rows */
  NODE_PARAM = 1 << 1,  /* trained parameter */
  NODE_HYPER = 1 << 2,  /* scalar set by the runtime, not trained (the learning rate) */
  NODE_BACKWARD = 1 << 3, /* built by the gradient pass */
  NODE_UPDATE = 1 << 4,  /* built by the optimizer */
  NODE_STATE = 1 << 5,   /* optimizer state: kept across steps, not trained */
  NODE_NOISE = 1 << 6,   /* dropout mask, filled by the runtime before each step */
  NODE_BUFFER = 1 << 7,  /* running statistic: kept across steps, moved by each step, not trained */
};

/* Provenance: what the builder that made a node made it as, for --explain. Tags take no part
 * in hash-consing, so one node can be asked for by two builders: the first tag wins (a node
 * keeps what it was first built as; simplification may hand a builder an older node). */
typedef enum {
  PROV_NONE,
  PROV_ADJOINT,     /* grad: ∂L/∂of, the adjoint of the value `of` */
  PROV_STEP,        /* optim: the step number t */
  PROV_STATE,       /* optim: state `index` of the optimizer's row, of parameter `of` */
  PROV_ESTIMATE,    /* optim: the bias-corrected estimate of the state leaf `of` */
  PROV_LOG_SOFTMAX, /* sugar: log_softmax of the logits `of` */
  PROV_SOFTMAX_CE,  /* sugar: the loss −Σ y ⊙ `of`, `of` a log_softmax */
  PROV_BCE_LOGITS,  /* sugar: binary cross-entropy written on the logits `of` */
  PROV_DERIVATIVE,  /* grad rules: f′ of the op `index`, built from the forward value `of` */
} ProvKind;

/* What an op computes with besides its sources: part of a node's identity. */
typedef struct {
  double k;                   /* CONST value, POWC exponent, a dropout mask's drop probability */
  int32_t p[NNC_MAX_PARAMS];  /* integer parameters: axes, transposes, permutation (shape.h) */
} OpArg;

typedef struct Node Node;
struct Node {
  Op op;
  uint32_t id; /* position in Graph.node */
  uint16_t flags;
  uint8_t nsrc;
  Shape shape;
  Node *src[NNC_MAX_SRC];
  OpArg arg;
  Loc loc;          /* the user's source that this node computes (backward nodes: the forward's) */
  const char *name; /* "W1", "A2", "∂L/∂W1"; NULL for anonymous temporaries */
  struct {
    uint8_t kind, index; /* ProvKind */
    Node *of;
  } prov;
};

/* How the runtime fills a tensor that lives across steps (mirrors NnrtInitKind). */
typedef enum { INIT_ZEROS, INIT_ONES, INIT_CONST, INIT_NORMAL, INIT_UNIFORM, INIT_VALUES } InitKind;

typedef struct {
  InitKind kind;
  double a, b;
  const float *values; /* INIT_VALUES */
} ParamInit;

/* Mirrors NnrtRole: trained parameter, optimizer state, constant tensor, running statistic. */
typedef enum { ROLE_PARAM, ROLE_STATE, ROLE_CONST, ROLE_BUFFER } LeafRole;

/* A tensor that lives in the workspace across steps: a trained parameter (with its derived
 * gradient), a piece of optimizer state, a constant, or a running statistic (a buffer, saved
 * with the weights but not trained); `update` is its value after a step. */
typedef struct {
  Node *param, *grad, *update;
  ParamInit init;
  LeafRole role;
  Node *target;    /* ROLE_BUFFER: the batch statistic it follows (a forward value) */
  double momentum; /* ROLE_BUFFER: each step moves it by momentum · (target − itself) */
} ParamSlot;

typedef struct {
  Arena *arena;
  Diag *diag;
  Loc loc; /* where new nodes come from: set by the stage building them */
  Node **node;
  uint32_t n, cap;
  Node **cse;
  uint32_t cse_cap;
  Node *input, *target;
  Node *lr, *step; /* hyper-parameters the runtime writes: η (scheduled) and the step number t */
  Node **noise;    /* dropout masks (NODE_NOISE leaves) */
  int nnoise, noise_cap;
  Node *training;  /* g_training's flag, NULL until asked for */
  Node *loss, *output;
  /* The roots as lowered when layout.c rebuilt the forward graph (its nodes stay, in the
   * language's layout: what `info` describes); NULL when it did not. */
  Node *lowered_loss, *lowered_output;
  ParamSlot *params;
  int nparams, params_cap;
  int rewrites; /* how many simplifications the builders applied */
  int metric;   /* NnrtMetric: how the runtime scores predictions (lower sets it) */
  Node **adjoint;    /* grad_build's record: ∂L/∂n of forward node n, by id (< nadjoint); NULL */
  uint32_t nadjoint; /* where the loss does not depend on n. --explain reads δ from it */
} Graph;

void graph_init(Graph *g, Arena *arena, Diag *diag);
/* Leaves. */
Node *g_const(Graph *g, double k);
Node *g_batch(Graph *g);
Node *g_leaf(Graph *g, Op op, const char *name, Shape shape, uint16_t flags);
/* A trained parameter, initialised to zeros unless g_param_init says otherwise. */
Node *g_param(Graph *g, const char *name, Shape shape);
Node *g_param_init(Graph *g, const char *name, Shape shape, ParamInit init);
/* Optimizer state, zero at the start. */
Node *g_state(Graph *g, const char *name, Shape shape);
/* A constant tensor: stored in the workspace, never trained. */
Node *g_tensor(Graph *g, const char *name, Shape shape, const float *values);
/* A dropout mask of the given shape; its slot records the drop probability p. */
Node *g_noise(Graph *g, Shape shape, double p);
/* A running statistic (PyTorch's buffer), starting at init, that every training step moves
 * towards `target`, a forward value of the same shape without a batch axis:
 * new = (1 − momentum) · old + momentum · target, 0 < momentum <= 1 (optim_build builds the
 * update). Not trained; saved, loaded and restored with the weights. */
Node *g_buffer(Graph *g, const char *name, Shape shape, ParamInit init, Node *target,
               double momentum);
/* The scalar that reads 1 during a training step and 0 in evaluate and predict (the runtime
 * writes it with the dropout masks); one per graph. */
Node *g_training(Graph *g);
/* The slot of a parameter, state, constant or buffer leaf; NULL for other nodes. */
ParamSlot *graph_slot(const Graph *g, const Node *leaf);
/* Any non-leaf op through the table, reading op_info[op].arity entries of src; the named
 * builders below are shorthands. `want` is the result shape for ops that cannot infer it
 * (EXPAND); NULL otherwise. */
Node *g_op(Graph *g, Op op, Node *const src[], OpArg arg, const Shape *want);
Node *g_neg(Graph *g, Node *a);
Node *g_recip(Graph *g, Node *a);
Node *g_exp(Graph *g, Node *a);
Node *g_log(Graph *g, Node *a);
Node *g_log1p(Graph *g, Node *a);
Node *g_sigmoid(Graph *g, Node *a);
Node *g_tanh(Graph *g, Node *a);
Node *g_powc(Graph *g, Node *a, double k);
Node *g_add(Graph *g, Node *a, Node *b);
Node *g_sub(Graph *g, Node *a, Node *b);
Node *g_mul(Graph *g, Node *a, Node *b);
Node *g_div(Graph *g, Node *a, Node *b);
Node *g_max(Graph *g, Node *a, Node *b);
Node *g_cmpgt(Graph *g, Node *a, Node *b);
Node *g_sum(Graph *g, Node *a, uint32_t axes);
Node *g_maxr(Graph *g, Node *a, uint32_t axes);
/* Axis i of the result is axis perm[i] of a (perm has a's rank entries). */
Node *g_permute(Graph *g, Node *a, const int32_t perm[]);
/* a with its last two axes swapped. */
Node *g_transpose(Graph *g, Node *a);
Node *g_sqrt(Graph *g, Node *a);
Node *g_abs(Graph *g, Node *a);
Node *g_expand(Graph *g, Node *a, uint32_t axes, Shape to);
Node *g_matmul(Graph *g, Node *a, Node *b, bool transpose_a, bool transpose_b);
/* a's elements, in their row-major order, in shape `to` (the batch axis stays in front). */
Node *g_reshape(Graph *g, Node *a, Shape to);
/* The patches of images x [N, C, H, W] under window w (im2col): [N, OH, OW, C·kh·kw], patch
 * element (c, i, j) in column (c·kh + i)·kw + j, padding read as 0. A convolution with
 * weights [F, C, kh, kw] is these patches times the weights reshaped to [F, C·kh·kw], transposed. */
Node *g_unfold(Graph *g, Node *x, const Window *w);
/* Max and average over each window of x [N, C, H, W]: [N, C, OH, OW]. Max ignores padding;
 * average divides by kh·kw, counting padding as 0 (PyTorch's count_include_pad). */
Node *g_maxpool(Graph *g, Node *x, const Window *w);
Node *g_avgpool(Graph *g, Node *x, const Window *w);

/* Tags n with its provenance unless it already has one (first tag wins); n may be NULL. */
void g_tag(Node *n, ProvKind kind, Node *of, int index);

bool node_is_const(const Node *n, double k);
/* The index space a node's kernel iterates over: its source's for a reduction, else its own. */
const Shape *node_space(const Node *n);
/* Strides that read source s of n at each index of node_space(n): broadcasting for
 * elementwise ops, the inserted axes of EXPAND, the permuted axes of PERMUTE. */
void node_src_view(const Node *n, int s, int64_t stride[NNC_MAX_RANK]);
/* "add", "matmul": for messages. */
const char *node_op_name(const Node *n);
/* One line per node: `%7 = add %5 %6 : [N, 2]  # A1` — the --emit=graph format. */
void graph_print(FILE *out, const Graph *g);
/* The graph for Graphviz (`--emit=dot`): leaves, forward, backward and update nodes in their
 * own colours, edges from sources to users. */
void graph_print_dot(FILE *out, const Graph *g);
/* Checks the IR invariants; on failure prints what broke and returns false. */
bool graph_verify(const Graph *g, FILE *err);

#endif
