/* test_cnn_run: a compiled convolutional network trains reproducibly. The model (JIT-compiled
 * here, trained by the runtime's loop) has two convolutions each followed by batch norm, max
 * pooling, dropout and Adam under a cosine schedule with shuffling and a last partial batch, so
 * its run depends on the weights, Adam's moments, the running statistics, the step number, the
 * dropout and shuffling streams and the position in the epoch. Checked, byte for byte over every
 * tensor the model keeps (weights, optimizer state, running statistics):
 *  - a checkpoint written at the end of an epoch (SIGTERM during its last step) and resumed
 *    equals the uninterrupted run (a shorter run would not do: the cosine schedule spans the
 *    run's epochs);
 *  - so does one written by SIGINT in the middle of an epoch;
 *  - training on 1, 2 and 3 threads gives the same bytes. */
#include "test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt_host.h"
#include "codegen.h"
#include "driver.h"
#include "jit.h"

#define TEST_TMP_DIR "/tmp/nnc-cnn-run-XXXXXX"
#include "tmp_dir.h"

enum { ROWS = 20, PIXELS = 49, EPOCHS = 5 };

static Compilation comp;
static Jit *jit;
static const NnrtModel *model;
static NnrtTrainData *data;
static char err[1024];

/* 20 images [1, 7, 7] of 3 classes, 4 of them held out: 16 training rows in batches of 6, 6, 4. */
static char *cnn_source(void) {
  size_t cap = 16384;
  char *src = malloc(cap);
  int at = snprintf(src, cap,
                    "model cnn {\n input x[1, 7, 7]\n target y : class(3)\n"
                    " c1 = conv2d(x, 4, 3, bias = false)\n n1 = batch_norm(c1)\n"
                    " p1 = max_pool(relu(n1), 2)\n c2 = conv2d(p1, 6, 3, bias = false)\n"
                    " n2 = batch_norm(c2, momentum = 0.2)\n d = dropout(flatten(relu(n2)), 0.3)\n"
                    " z = dense(d, 3)\n loss = cross_entropy(softmax(z), y)\n output softmax(z)\n}\n"
                    "train cnn {\n data = table {\n");
  for (int r = 0; r < ROWS; r++) {
    for (int k = 0; k < PIXELS; k++)
      at += snprintf(src + at, cap - (size_t)at, " %d", (r * 5 + k * (r % 3 + 1)) % 7);
    at += snprintf(src + at, cap - (size_t)at, " -> %d\n", r % 3);
  }
  snprintf(src + at, cap - (size_t)at,
           " }\n optimizer = adam(lr = 0.01)\n schedule = cosine(final = 0.1)\n batch = 6\n"
           " epochs = %d\n validation_split = 0.2\n shuffle = true\n seed = 5\n}\n", EPOCHS);
  return src;
}

static char *source_text;

static int setup(void **state) {
  if (setup_dir(state))
    return -1;
  source_text = cnn_source();
  compilation_init(&comp, "cnn.nn", source_text, strlen(source_text), stderr);
  if (!compilation_front(&comp))
    return -1;
  Program p;
  compilation_plan(&comp, &p, "cnn.nn");
  jit = jit_new(err, sizeof err);
  if (!jit || !jit_add(jit, codegen_module(&p, jit_context(jit), false), 2, err, sizeof err))
    return -1;
  model = jit_lookup(jit, "nn_model");
  return model && nnrt_train_data_load(model, &data, err, sizeof err) == NNRT_EXIT_OK ? 0 : -1;
}

static int teardown(void **state) {
  nnrt_train_data_free(data);
  jit_free(jit);
  compilation_free(&comp);
  free(source_text);
  return teardown_dir(state);
}

/* Raises sig from the on_step report number `at` of this run. */
typedef struct {
  int count, at, sig;
} Raiser;

static void raise_on_step(const NnrtStepReport *r, void *ctx) {
  (void)r;
  Raiser *x = ctx;
  if (++x->count == x->at)
    raise(x->sig);
}

/* Trains into ws: from the initialisers (seed 5) unless resuming, on `threads` threads; saves
 * to `save` and resumes from `resume` when given. Returns the status. */
static int train(float *ws, int threads, const char *save, const char *resume, Raiser *raiser) {
  if (!resume)
    nnrt_init_params(model, ws, 5);
  NnrtTrainOptions o = nnrt_train_options(model);
  o.threads = threads;
  o.checkpoint_path = save;
  o.resume_path = resume;
  if (raiser) {
    o.report.on_step = raise_on_step;
    o.report.ctx = raiser;
  }
  NnrtTrainResult res;
  nnrt_train_on(model, ws, &o, data, NULL, &res, err, sizeof err);
  if (res.status != NNRT_EXIT_OK && res.status != NNRT_EXIT_INTERRUPTED)
    fail_msg("training failed (%d): %s", res.status, err);
  return res.status;
}

/* Every tensor the model keeps across steps is the same bytes in a and b. */
static void assert_same_tensors(const float *a, const float *b) {
  int buffers = 0;
  for (int32_t i = 0; i < model->n_params; i++) {
    const NnrtParam *p = &model->params[i];
    if (memcmp(a + p->offset, b + p->offset, sizeof(float) * (size_t)p->size) != 0)
      fail_msg("'%s' differs", p->name);
    buffers += p->role == NNRT_ROLE_BUFFER;
  }
  assert_int_equal(buffers, 4); /* the running mean and variance of n1 and n2 */
}

/* The uninterrupted run of EPOCHS epochs, on one thread. */
static float *straight_run(void) {
  float *ws = nnrt_workspace_new(model);
  assert_int_equal(train(ws, 1, NULL, NULL, NULL), NNRT_EXIT_OK);
  return ws;
}

/* A workspace whose every float is garbage: what a resume must not read. */
static float *garbage_workspace(void) {
  float *ws = nnrt_workspace_new(model);
  nnrt_init_params(model, ws, 999);
  for (int32_t i = 0; i < model->n_params; i++)
    for (int64_t k = 0; k < model->params[i].size; k++)
      ws[model->params[i].offset + k] += 0.5f;
  return ws;
}

/* Trains until the signal the raiser raises, then resumes from its checkpoint into garbage;
 * the end must be the straight run's. `interrupted`: where err says it stopped. */
static void check_resume(Raiser x, const char *interrupted) {
  float *a = straight_run(), *b = nnrt_workspace_new(model);
  const char *path = tmp_path("cut.safetensors");
  assert_int_equal(train(b, 1, path, NULL, &x), NNRT_EXIT_INTERRUPTED);
  if (!strstr(err, interrupted))
    fail_msg("'%s' does not say '%s'", err, interrupted);
  float *c = garbage_workspace();
  assert_int_equal(train(c, 1, NULL, path, NULL), NNRT_EXIT_OK);
  assert_same_tensors(a, c);
  nnrt_workspace_free(a);
  nnrt_workspace_free(b);
  nnrt_workspace_free(c);
}

/* 3 steps an epoch: the 6th is epoch 2's last. */
static void resume_after_whole_epochs_is_exact(void **state) {
  (void)state;
  check_resume((Raiser){.at = 6, .sig = SIGTERM}, "interrupted at epoch 2, step 3");
}

static void resume_after_sigint_mid_epoch_is_exact(void **state) {
  (void)state;
  check_resume((Raiser){.at = 8, .sig = SIGINT}, "interrupted at epoch 3, step 2");
}

static void any_thread_count_gives_the_same_bytes(void **state) {
  (void)state;
  float *a = straight_run();
  for (int threads = 2; threads <= 3; threads++) {
    float *b = nnrt_workspace_new(model);
    assert_int_equal(train(b, threads, NULL, NULL, NULL), NNRT_EXIT_OK);
    assert_same_tensors(a, b);
    nnrt_workspace_free(b);
  }
  nnrt_workspace_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(resume_after_whole_epochs_is_exact),
    cmocka_unit_test(resume_after_sigint_mid_epoch_is_exact),
    cmocka_unit_test(any_thread_count_gives_the_same_bytes),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
