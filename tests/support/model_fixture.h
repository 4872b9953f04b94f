/* model_fixture: THE way tests write a descriptor (NnrtModel) by hand; the compiler builds the
 * real ones. FIXTURE_MODEL gives what every descriptor has — the ABI version, names, workspace,
 * batch, input and output slots — and the test adds the rest by field name, so no test depends
 * on the order of the ABI's fields (nnrt_fields.h): a reordered list needs no edit here.
 *
 *   static const NnrtModel m = FIXTURE_MODEL(
 *     "m", "m.nn", workspace_floats, max_batch,
 *     FIXTURE_SLOT("x", x_offset, x_width), FIXTURE_SLOT("p", out_offset, out_width),
 *     FIXTURE_TRAINS(FIXTURE_SLOT("y", y_offset, y_width), loss_offset, lr_offset, step_offset),
 *     .n_params = 2, .params = m_params, .has_train = 1, ...);
 *
 * A predict-only model says FIXTURE_PREDICT_ONLY instead of FIXTURE_TRAINS. Macros rather than
 * functions, so that fixtures stay constant initializers. Nested structs (NnrtParam, NnrtNoise,
 * NnrtLayer, NnrtCheck, NnrtData) are written with designated initializers too. */
#ifndef NNC_MODEL_FIXTURE_H
#define NNC_MODEL_FIXTURE_H
#include "nnrt.h"

#define FIXTURE_MODEL(NAME, SOURCE, WORKSPACE_FLOATS, MAX_BATCH, INPUT, OUTPUT, ...)           \
  {.abi_version = NNRT_ABI_VERSION, .name = (NAME), .source = (SOURCE),                        \
   .workspace_floats = (WORKSPACE_FLOATS), .max_batch = (MAX_BATCH),                            \
   .predict_rows = (MAX_BATCH), .nonfinite_offset = -1, .input = INPUT, .output = OUTPUT,      \
   __VA_ARGS__}

/* A model that can train: its target slot and the scalars step reads and writes (-1: unused). */
#define FIXTURE_TRAINS(TARGET, LOSS_OFFSET, LR_OFFSET, STEP_OFFSET)                            \
  .target = TARGET, .loss_offset = (LOSS_OFFSET), .lr_offset = (LR_OFFSET),                    \
  .step_offset = (STEP_OFFSET)
#define FIXTURE_PREDICT_ONLY .loss_offset = -1, .lr_offset = -1, .step_offset = -1

#define FIXTURE_SLOT(NAME, OFFSET, WIDTH) {.name = (NAME), .offset = (OFFSET), .width = (WIDTH)}
/* No slot: a model the data loader alone reads has no output. */
#define FIXTURE_NO_SLOT {.name = NULL}

#endif
