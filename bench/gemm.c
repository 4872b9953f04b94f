/* gemm.c: the matrix kernels of codegen_matmul.c alone, on the products of the benchmark's MLP
 * (784-128-64-10) or, with --cnn, of examples/fashion_cnn.nn's convolutions (N·784 and N·196
 * rows for a batch of N): each one JIT-compiled as nnc compiles it, run repeatedly on one thread
 * and timed in CPU time, so that other processes on a shared machine do not lower the figure.
 *   build/tests/bench_gemm [--cnn] [--batch N] [--cpu CPU] [--floats W] [--peak G] [--seconds S]
 *                          [--cold]
 * prints one line per product: its shape, GFLOP/s and, with --peak (bench/peak.c's 1-thread
 * figure for the vector width), the share of the peak; then the rate of all of them, as one SGD
 * step does each once. --batch: the rows of a step (default 64); --seconds: CPU time per product
 * (default 0.3); --cpu compiles every function for another CPU (LLVM's "target-cpu" attribute;
 * haswell, znver2 or znver3 give AVX2 code with its 16 registers on an AVX-512 machine;
 * skylake-avx512, znver4), --floats the vector width the kernels are tiled for (default: the
 * host's, or 8 with --cpu); --cold evicts the caches
 * before each call (in a step, the operands were last touched a few kernels earlier), and then
 * times each call alone, which adds a system call's time to the small products. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen.h"
#include "graph.h"
#include "jit.h"
#include "plan.h"

typedef void EntryFn(float *ws, int64_t n);

/* C = op(A) op(B) with A m×k and B k×n before the transposes; what the step computes it for. */
typedef struct {
  const char *what;
  int64_t m, k, n;
  bool ta, tb;
} Product;

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Every function of mod compiled for cpu (its own features, not the host's). */
static void retarget(LLVMModuleRef mod, const char *cpu) {
  LLVMContextRef ctx = LLVMGetModuleContext(mod);
  for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f)) {
    if (LLVMIsDeclaration(f))
      continue;
    LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
                            LLVMCreateStringAttribute(ctx, "target-cpu", 10, cpu,
                                                      (unsigned)strlen(cpu)));
    LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
                            LLVMCreateStringAttribute(ctx, "target-features", 15, "", 0));
  }
}

/* Writes a buffer twice the size of L2 so that a product's operands come from L3, as in a step. */
static void evict(void) {
  static float junk[1 << 19];
  for (size_t i = 0; i < sizeof junk / sizeof *junk; i += 16)
    junk[i] += 1.0f;
}

/* GFLOP/s of one product, over about `seconds` of CPU time. */
static double time_product(const Product *pr, const char *cpu, int floats, double seconds,
                           bool cold) {
  Arena arena;
  Diag diag;
  Graph g;
  arena_init(&arena);
  diag_init(&diag, NULL, stderr);
  graph_init(&g, &arena, &diag);
  Node *A = g_param(&g, "A", pr->ta ? (Shape){2, {pr->k, pr->m}} : (Shape){2, {pr->m, pr->k}});
  Node *B = g_param(&g, "B", pr->tb ? (Shape){2, {pr->n, pr->k}} : (Shape){2, {pr->k, pr->n}});
  g.output = g_matmul(&g, A, B, pr->ta, pr->tb);
  TrainSettings none = {0};
  Program p;
  program_plan(&p, &g, "mm", 0, &none, "gemm.nn");
  p.vector_floats = floats;
  char err[1024];
  Jit *j = jit_new(err, sizeof err);
  LLVMModuleRef mod = j ? codegen_module(&p, jit_context(j), false) : NULL;
  if (mod && cpu)
    retarget(mod, cpu);
  if (!mod || !jit_add(j, mod, 2, err, sizeof err)) {
    fprintf(stderr, "bench_gemm: %s\n", err);
    exit(1);
  }
  EntryFn *predict = (EntryFn *)jit_lookup(j, "nn_predict");
  float *ws = calloc((size_t)p.plan.total, sizeof(float));
  for (int64_t i = 0; i < p.plan.total; i++)
    ws[i] = (float)(i % 7) * 0.125f - 0.375f;
  double flop = 2.0 * (double)(pr->m * pr->k * pr->n);
  /* Warm: calls in rounds of 64, timed together; cold: each call after an eviction, alone. */
  long reps = 0, round = cold ? 1 : 64;
  double t = 0;
  while (t < seconds) {
    if (cold)
      evict();
    double t0 = cpu_seconds();
    for (long r = 0; r < round; r++)
      predict(ws, 1);
    t += cpu_seconds() - t0;
    reps += round;
  }
  free(ws);
  jit_free(j);
  arena_free(&arena);
  return flop * (double)reps / t / 1e9;
}

/* The CPUs --cpu takes (LLVM aborts on a name it does not know): AVX2 and AVX-512 ones. */
static const char *const cpus[] = {"haswell", "znver2", "znver3", "skylake-avx512", "znver4"};

static bool known_cpu(const char *name) {
  for (size_t i = 0; i < sizeof cpus / sizeof *cpus; i++)
    if (!strcmp(name, cpus[i]))
      return true;
  return false;
}

int main(int argc, char **argv) {
  int64_t n = 64;
  const char *cpu = NULL;
  int floats = 0;
  double peak = 0, seconds = 0.3;
  bool cold = false, cnn = false;
  static const char *const valued[] = {"--batch", "--cpu", "--floats", "--peak", "--seconds"};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--cold") || !strcmp(argv[i], "--cnn")) {
      if (!strcmp(argv[i], "--cold"))
        cold = true;
      else
        cnn = true;
      continue;
    }
    int opt = -1;
    for (int o = 0; o < (int)(sizeof valued / sizeof *valued); o++)
      if (!strcmp(argv[i], valued[o]))
        opt = o;
    if (opt < 0 || i + 1 >= argc) {
      fprintf(stderr, opt < 0 ? "bench_gemm: unknown option %s\n" : "bench_gemm: %s needs a value\n",
              argv[i]);
      return 2;
    }
    const char *v = argv[++i];
    switch (opt) {
    case 0: n = atol(v); break;
    case 1: cpu = v; break;
    case 2: floats = atoi(v); break;
    case 3: peak = atof(v); break;
    default: seconds = atof(v); break;
    }
  }
  if (n < 1 || seconds <= 0 || (floats != 0 && floats != 4 && floats != 8 && floats != 16) ||
      (cpu && !known_cpu(cpu))) {
    fprintf(stderr, "bench_gemm: --batch must be at least 1, --seconds above 0, --floats 4, 8 "
                    "or 16, --cpu haswell, znver2, znver3, skylake-avx512 or znver4\n");
    return 2;
  }
  if (cpu && !floats)
    floats = 8;
  const Product mlp[] = {
    {"x @ W1", n, 784, 128, false, false},     {"h1 @ W2", n, 128, 64, false, false},
    {"h2 @ W3", n, 64, 10, false, false},      {"xT d1 (dW1)", 784, n, 128, true, false},
    {"h1T d2 (dW2)", 128, n, 64, true, false}, {"h2T d3 (dW3)", 64, n, 10, true, false},
    {"d2 W2T (dh1)", n, 64, 128, false, true}, {"d3 W3T (dh2)", n, 10, 64, false, true},
  };
  /* conv 1 (1 -> 32 channels on 28 x 28) and conv 2 (32 -> 64 on 14 x 14), 3 x 3, channels last */
  const Product cnn_products[] = {
    {"P1 W1T", n * 784, 9, 32, false, true},        {"d1T P1 (dW1)", 32, n * 784, 9, true, false},
    {"P2 W2T", n * 196, 288, 64, false, true},      {"d2T P2 (dW2)", 64, n * 196, 288, true, false},
    {"d2 W2 (dP2)", n * 196, 64, 288, false, false},
  };
  const Product *products = cnn ? cnn_products : mlp;
  size_t nproducts = cnn ? sizeof cnn_products / sizeof *cnn_products : sizeof mlp / sizeof *mlp;
  double total_flop = 0, total_s = 0;
  for (size_t i = 0; i < nproducts; i++) {
    const Product *pr = &products[i];
    double g = time_product(pr, cpu, floats, seconds, cold);
    double flop = 2.0 * (double)(pr->m * pr->k * pr->n);
    total_flop += flop;
    total_s += flop / (g * 1e9);
    printf("%-14s %5lldx%5lldx%4lld%s%s %7.1f GFLOP/s", pr->what, (long long)pr->m,
           (long long)pr->k, (long long)pr->n, pr->ta ? " T" : "  ", pr->tb ? " T" : "  ", g);
    if (peak > 0)
      printf("  %5.1f%%", 100 * g / peak);
    printf("\n");
  }
  double g = total_flop / total_s / 1e9;
  printf("%-14s %24s %7.1f GFLOP/s", "all", "", g);
  if (peak > 0)
    printf("  %5.1f%%", 100 * g / peak);
  printf("\n");
  return 0;
}
