/* test_noalloc: a training step allocates nothing. This program replaces malloc and its kin
 * (forwarding to glibc's own) and counts every call; a model with dropout and Adam, and a
 * convolutional one with batch norm (running statistics, the training flag), max pooling and
 * dropout, are compiled by the JIT and trained through nnrt_train_on, whose on_step report runs
 * after every step.
 * Between two reports of one epoch lies a whole step (batch gathering, the step on 1 or 2
 * threads, loss, metric and finiteness checks): the count must not move there. Allocations
 * before the first step and between epochs (validation, checkpoints) are allowed.
 * A sanitizer build replaces malloc itself, so there the suite is skipped. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt_host.h"
#include "codegen.h"
#include "driver.h"
#include "jit.h"

static long allocations;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define REPLACES_MALLOC 0
#else
#define REPLACES_MALLOC 1
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void __libc_free(void *p);

void *malloc(size_t n) {
  __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
  return __libc_malloc(n);
}
void *calloc(size_t n, size_t size) {
  __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
  return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n) {
  __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
  return __libc_realloc(p, n);
}
void *aligned_alloc(size_t align, size_t n) {
  __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
  return __libc_memalign(align, n);
}
int posix_memalign(void **out, size_t align, size_t n) {
  __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
  *out = __libc_memalign(align, n);
  return *out ? 0 : 12; /* ENOMEM */
}
void free(void *p) { __libc_free(p); }
#endif

static const char mlp[] =
  "model m {\n input x[6]\n target y : class(3)\n h = dense(x, 20, relu)\n"
  " d = dropout(h, 0.25)\n z = dense(d, 3)\n loss = cross_entropy(softmax(z), y)\n"
  " output softmax(z)\n}\n"
  "train m {\n"
  " data = table {\n"
  "  1 0 0 0 1 0 -> 0\n 0 1 0 1 0 0 -> 1\n 0 0 1 0 0 1 -> 2\n 1 1 0 0 1 0 -> 0\n"
  "  0 1 1 1 0 0 -> 1\n 1 0 1 0 0 1 -> 2\n 1 0 0 1 1 0 -> 0\n 0 1 0 1 1 0 -> 1\n"
  "  0 0 1 1 0 1 -> 2\n 1 0 0 0 1 1 -> 0\n 0 1 0 0 0 0 -> 1\n 0 0 1 0 1 1 -> 2\n"
  "  1 1 1 0 1 0 -> 0\n 0 1 1 1 1 0 -> 1\n 1 0 1 1 0 1 -> 2\n 1 0 1 0 1 0 -> 0\n"
  " }\n"
  " optimizer = adam(lr = 0.01)\n batch = 3\n epochs = 4\n validation_split = 0.25\n}\n";

typedef struct {
  int64_t epoch;
  long allocations;
  int steps, steps_checked;
} Watch;

/* Runs between steps: compares the count with the one the previous step of the epoch left. */
static void on_step(const NnrtStepReport *s, void *ctx) {
  Watch *w = ctx;
  long now = __atomic_load_n(&allocations, __ATOMIC_RELAXED);
  if (s->epoch == w->epoch) {
    if (now != w->allocations)
      fail_msg("epoch %lld, step %lld: %ld heap allocations during the step", (long long)s->epoch,
               (long long)s->step, now - w->allocations);
    w->steps_checked++;
  }
  w->epoch = s->epoch;
  w->allocations = now;
  w->steps++;
}

/* Trains m on `threads` threads for its 4 epochs of 4 steps (12 training rows in batches of 3),
 * counting allocations between the steps of each epoch. */
static void train_counting(const NnrtModel *m, int threads) {
  char err[512];
  NnrtTrainData *td = NULL;
  assert_int_equal(nnrt_train_data_load(m, &td, err, sizeof err), NNRT_EXIT_OK);
  float *ws = nnrt_workspace_new(m);
  assert_non_null(ws);
  nnrt_init_params(m, ws, 7);
  NnrtTrainOptions o = nnrt_train_options(m);
  o.threads = threads;
  Watch w = {.epoch = -1};
  o.report.on_step = on_step;
  o.report.ctx = &w;
  NnrtTrainResult res;
  double loss = nnrt_train_on(m, ws, &o, td, NULL, &res, err, sizeof err);
  assert_int_equal(res.status, NNRT_EXIT_OK);
  assert_true(loss == loss);
  /* 12 training rows in batches of 3: 4 steps per epoch, 3 of them after another */
  assert_int_equal(w.steps, 4 * 4);
  assert_int_equal(w.steps_checked, 3 * 4);
  nnrt_workspace_free(ws);
  nnrt_train_data_free(td);
}

/* Compiles `source` by the JIT and trains it on 1 and 2 threads, counting. */
static void check_no_allocation(const char *source) {
  if (!REPLACES_MALLOC)
    skip();
  Compilation c;
  compilation_init(&c, "noalloc.nn", source, strlen(source), stderr);
  assert_true(compilation_front(&c));
  Program p;
  compilation_plan(&c, &p, "noalloc.nn");
  char err[1024];
  Jit *j = jit_new(err, sizeof err);
  assert_non_null(j);
  assert_true(jit_add(j, codegen_module(&p, jit_context(j), false), 2, err, sizeof err));
  const NnrtModel *m = jit_lookup(j, "nn_model");
  assert_non_null(m);
  long before = allocations;
  train_counting(m, 1);
  train_counting(m, 2);
  assert_true(allocations > before); /* the counter does count: setting up a run allocates */
  jit_free(j);
  compilation_free(&c);
}

static void a_training_step_allocates_nothing(void **state) {
  (void)state;
  check_no_allocation(mlp);
}

/* Images [1, 5, 5]: convolution, batch norm, max pooling, dropout and a dense layer, on 16 rows
 * of 25 pixels (rows as the table above, 12 for training and 4 held out). */
static void a_cnn_training_step_allocates_nothing(void **state) {
  (void)state;
  char cnn[8192];
  int at = snprintf(cnn, sizeof cnn,
                    "model m {\n input x[1, 5, 5]\n target y : class(3)\n"
                    " c = conv2d(x, 4, 3, bias = false)\n n = batch_norm(c)\n"
                    " p = max_pool(relu(n), 2)\n d = dropout(flatten(p), 0.25)\n z = dense(d, 3)\n"
                    " loss = cross_entropy(softmax(z), y)\n output softmax(z)\n}\n"
                    "train m {\n data = table {\n");
  for (int r = 0; r < 16; r++) {
    for (int k = 0; k < 25; k++)
      at += snprintf(cnn + at, sizeof cnn - (size_t)at, " %d", (r * 7 + k * 3) % 5);
    at += snprintf(cnn + at, sizeof cnn - (size_t)at, " -> %d\n", r % 3);
  }
  snprintf(cnn + at, sizeof cnn - (size_t)at,
           " }\n optimizer = adam(lr = 0.01)\n batch = 3\n epochs = 4\n"
           " validation_split = 0.25\n}\n");
  check_no_allocation(cnn);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(a_training_step_allocates_nothing),
    cmocka_unit_test(a_cnn_training_step_allocates_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
