/* schedule (sched_*): fusion of the graph into kernels, and the workspace plan.
 * Contract: for a list of roots (what a function must produce), picks the nodes that must be
 * materialized in memory — leaves the runtime fills, reductions and matrix products, roots,
 * values used more than once, and values whose consumer iterates over another shape — and
 * makes one kernel per materialized non-leaf node, in id (topological) order. Every other
 * elementwise node is fused into the expression of the kernel that consumes it, so a chain
 * like σ(x W + b) is one loop. Constants and N are immediates. An update's kernel
 * writes over its parameter (plan.c places both in one region), and runs after every kernel
 * that reads it. */
#ifndef NNC_SCHED_H
#define NNC_SCHED_H
#include <stdio.h>

#include "graph.h"

typedef struct {
  Node *root;      /* computed by this kernel */
  int64_t out;     /* workspace offset it writes */
  bool joins_previous; /* computed in the same loop as the kernel before it (sched_join) */
} Kernel;

typedef struct {
  Kernel *kernel;
  int n;
  bool *materialized; /* by node id */
} Schedule;

typedef struct MemPlan MemPlan; /* plan.h */

void sched_build(Schedule *s, Graph *g, Node *const *roots, int nroots);
/* Whether the matrix product mm reads its operand `src` (0 or 1), a convolution's patches
 * (an unfold of an image stored channels last), through the window from the image
 * (codegen_matmul_through.c): as A of the convolution (B read transposed), or as B of its weight
 * gradient (A read transposed) when C is a multiple of 32, so that no column block of any
 * vector width straddles two taps. Patches that every product reads so are never materialized:
 * they would be 9 times the image (3 × 3 taps), written once and read from memory twice. */
bool sched_reads_through_window(const Node *mm, int src);
/* Whether fold computes the product it folds (codegen_matmul_through.c, emit_fold_product): a
 * convolution's input gradient fold(δ W) on an image stored channels last, δ [N, OH, OW, F]
 * and W [F, taps·C], when the product has no other reader. The product is then never
 * materialized: it would be the patches' gradient, 9 times the image. */
bool sched_folds_product(const Node *fold);
/* Sets kernel output offsets from the plan. */
void sched_assign(Schedule *s, const MemPlan *p);
/* Loop fusion across kernels: marks each elementwise kernel that can run in the loop of the one
 * before it — same shape, and every value the joined loop reads that one of its kernels writes
 * read at the element being computed, so no kernel sees a value written for another element.
 * Adam's three updates of a weight become one pass; so do a bias add and its activation. */
void sched_join(Schedule *s, const MemPlan *p);
/* The number of loops (groups of joined kernels) of s. */
int sched_groups(const Schedule *s);
/* Whether every in-place update is safe: no kernel after the one that overwrites a parameter
 * or state reads that leaf's old value. */
bool sched_updates_in_place_safely(const Schedule *s, const Graph *g);
/* Whether kernel ka of a and kb of b compute the same thing the same way (same root, output
 * and fused expression), so that one compiled function can serve both. */
bool sched_same_kernel(const Schedule *a, const Kernel *ka, const Schedule *b, const Kernel *kb);
/* The same for the groups of joined kernels starting at ka and kb. */
bool sched_same_group(const Schedule *a, const Kernel *ka, const Schedule *b, const Kernel *kb);
/* One line per kernel: `k3 matmul %12 -> ws[40] : [N, 2]  fused: add sigmoid`. */
void sched_print(FILE *out, const Schedule *s, const Graph *g);

#endif
