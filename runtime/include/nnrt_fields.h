/* nnrt_fields: THE list of the descriptor's fields, one list per struct of nnrt.h, in layout
 * order. nnrt.h declares the C structs from these lists and the compiler's descriptor emitter
 * (compiler/backend/descriptor.c) builds the matching LLVM types and constants from the same
 * lists, so the two sides cannot disagree: a field added here is in both, or the emitter, which
 * needs a value for every field by name, does not compile.
 *
 *   X(KIND, C type, name)
 *
 * KIND says how the emitter builds the field (and how tests compare it):
 *   I32, I64, U64, F64  an integer or a double
 *   STR                 a NUL-terminated string (const char *), NULL allowed
 *   PTR                 any other pointer: an array the count field before it sizes, or a
 *                       function
 *   DIMS                NnrtDims, four int64_t
 *   SLOT, DATA          a nested NnrtSlot or NnrtData, by value
 * Every offset is in floats from the workspace's start (see nnrt.h). */
#ifndef NNRT_FIELDS_H
#define NNRT_FIELDS_H

/* A tensor that lives across steps (NnrtParam). */
#define NNRT_PARAM_FIELDS(X)                                                                    \
  X(STR, const char *, name) /* as in the source: "W1", "h1.W" for layers, "W1.m" for state */  \
  X(I64, int64_t, offset)                                                                       \
  X(I64, int64_t, size) /* floats */                                                            \
  X(I32, int32_t, rank)                                                                         \
  X(DIMS, NnrtDims, dim)                                                                        \
  X(I32, int32_t, init) /* NnrtInitKind */                                                      \
  X(F64, double, a)                                                                             \
  X(F64, double, b)                                                                             \
  X(PTR, const float *, values) /* NNRT_INIT_VALUES only, else NULL */                          \
  X(I32, int32_t, role)         /* NnrtRole */

/* A tensor the runtime writes before each step, evaluate and predict (NnrtNoise). */
#define NNRT_NOISE_FIELDS(X)                                                                    \
  X(I32, int32_t, kind) /* NnrtNoiseKind */                                                     \
  X(I64, int64_t, offset)                                                                       \
  X(I64, int64_t, width)                                                                        \
  X(F64, double, p)

/* A row of `info` (NnrtLayer). */
#define NNRT_LAYER_FIELDS(X)                                                                    \
  X(STR, const char *, name)                                                                    \
  X(STR, const char *, op) /* the primitive that computes it: "matmul", "sigmoid", ... */       \
  X(I32, int32_t, rank)    /* of one sample's value (the batch axis left out) */                \
  X(DIMS, NnrtDims, dim)                                                                        \
  X(I64, int64_t, params) /* parameter floats first used by this value's computation */         \
  X(I64, int64_t, flops)  /* floating-point operations per sample to compute it */

/* A buffer the training step writes (NnrtCheck). */
#define NNRT_CHECK_FIELDS(X)                                                                    \
  X(I64, int64_t, offset)                                                                       \
  X(I64, int64_t, width) /* floats, per row when per_row (times n rows), else in total */       \
  X(I32, int32_t, per_row)                                                                      \
  X(I32, int32_t, line) /* in the .nn file; 0 for values the compiler made up */                \
  X(I32, int32_t, col)                                                                          \
  X(STR, const char *, what) /* "A1", "∂L/∂W1", "matmul" */                                     \
  X(I32, int32_t, group) /* the step_kernels entry that writes it (kernels share loops) */     \
  /* A parameter's gradient that the step's update tests as it reads it: a non-finite value    \
   * sets the model's nonfinite flag, so the runtime need not read it again. */                \
  X(I32, int32_t, tested)

/* A data source as the train block names it (NnrtData). */
#define NNRT_DATA_FIELDS(X)                                                                     \
  X(I32, int32_t, kind) /* NnrtDataKind */                                                      \
  /* NNRT_DATA_TABLE: rows of input.width floats in x; targets in y (target.width floats per    \
   * row, or one label per row for classes). */                                                 \
  X(I64, int64_t, rows)                                                                         \
  X(PTR, const float *, x)                                                                      \
  X(PTR, const float *, y)                                                                      \
  /* NNRT_DATA_CSV: path; NNRT_DATA_IDX: path holds the inputs, labels_path the labels. */      \
  X(STR, const char *, path)                                                                    \
  X(STR, const char *, labels_path)                                                             \
  X(I32, int32_t, header)    /* CSV: the first line names the columns */                        \
  X(I32, int32_t, delimiter) /* CSV: the separator character */                                 \
  X(I32, int32_t, n_x_cols)  /* CSV: feature columns, 0-based; 0: every column not a target */  \
  X(PTR, const int32_t *, x_cols)                                                               \
  X(I32, int32_t, n_y_cols) /* CSV: target columns (one label column for classes) */            \
  X(PTR, const int32_t *, y_cols)                                                               \
  /* CSV with classes: labels written as these names, 0.. in order; 0 means integers. */        \
  X(I32, int32_t, n_class_names)                                                                \
  X(PTR, const char *const *, class_names)                                                      \
  X(I32, int32_t, scaling) /* NnrtScaling of the inputs */                                      \
  X(F64, double, scale)    /* NNRT_SCALE_FACTOR: inputs are multiplied by it (1/255) */         \
  /* A model without classes: target 1 where the label equals `positive`, 0 elsewhere. */       \
  X(I32, int32_t, one_vs_rest)                                                                  \
  X(I32, int32_t, positive)

/* A batch buffer (NnrtSlot): max_batch rows of `width` floats each. */
#define NNRT_SLOT_FIELDS(X)                                                                     \
  X(STR, const char *, name)                                                                    \
  X(I64, int64_t, offset)                                                                       \
  X(I64, int64_t, width)

/* The model (NnrtModel). */
#define NNRT_MODEL_FIELDS(X)                                                                    \
  X(I32, int32_t, abi_version) /* NNRT_ABI_VERSION */                                           \
  X(STR, const char *, name)   /* model name */                                                 \
  X(STR, const char *, source) /* the .nn file it came from, for messages */                    \
  X(I64, int64_t, workspace_floats)                                                             \
  X(I64, int64_t, max_batch) /* step and predict accept 1 <= n <= max_batch rows */             \
  X(SLOT, NnrtSlot, input)                                                                      \
  X(SLOT, NnrtSlot, target) /* width 0 when the model cannot train */                           \
  X(SLOT, NnrtSlot, output)                                                                     \
  X(I64, int64_t, loss_offset) /* scalar written by step; -1 when the model cannot train */     \
  X(I64, int64_t, lr_offset)   /* scalar read by step: the learning rate; -1 likewise */        \
  X(I64, int64_t, step_offset) /* scalar read by step: t = 1, 2, ...; -1 if unused */           \
  X(I32, int32_t, n_params) /* parameters, optimizer state, constants, running statistics */    \
  X(PTR, const NnrtParam *, params)                                                             \
  X(I32, int32_t, n_noise)                                                                      \
  X(PTR, const NnrtNoise *, noise)                                                              \
  X(I32, int32_t, n_classes) /* > 0: targets are class labels, one-hot in the target slot */    \
  X(I32, int32_t, metric)    /* NnrtMetric */                                                   \
  /* Settings of the train block; has_train == 0 for a predict-only model. */                   \
  X(I32, int32_t, has_train)                                                                    \
  X(I64, int64_t, epochs)                                                                       \
  X(I64, int64_t, batch)                                                                        \
  X(I64, int64_t, log_every)                                                                    \
  X(U64, uint64_t, seed)                                                                        \
  X(I32, int32_t, shuffle)                                                                      \
  X(F64, double, lr)                                                                            \
  X(I32, int32_t, lr_schedule) /* NnrtLrSchedule, with its arguments */                         \
  X(F64, double, lr_schedule_a)                                                                 \
  X(F64, double, lr_schedule_b)                                                                 \
  X(F64, double, warmup_epochs) /* η grows linearly from 0 over this many epochs (0: none) */   \
  X(DATA, NnrtData, train)                                                                      \
  X(DATA, NnrtData, validate)                                                                   \
  X(F64, double, validation_split) /* train rows held out when validate.kind is NONE */         \
  X(I32, int32_t, split_shuffle) /* 1: a seeded random part of them, 0: the last rows */        \
  /* Patience in epochs on the validation loss (0: off); the best weights are restored. */      \
  X(I32, int32_t, early_stopping)                                                               \
  X(I64, int64_t, checkpoint_every) /* epochs between checkpoints (0: only at the end) */       \
  /* Forward, backward and optimizer update on the first n rows of input/target; writes the     \
   * mean loss of those rows at loss_offset and their outputs in the output slot. */            \
  X(PTR, NnrtStepFn, step)                                                                      \
  /* Forward only, with the loss: fills output and loss_offset for the first n rows of input    \
   * and target, changing nothing else (for validation; NULL when the model cannot train). */   \
  X(PTR, NnrtStepFn, evaluate)                                                                  \
  /* Forward only: fills the first n rows of output from the first n rows of input. */          \
  X(PTR, NnrtStepFn, predict)                                                                   \
  /* A hash of the compiled graph (forward, backward and optimizer): checkpoints carry it, so   \
   * a checkpoint from another model, or the same model with another optimizer, is refused. */  \
  X(U64, uint64_t, model_hash)                                                                  \
  X(I32, int32_t, n_layers) /* for `info`, in the order the model computes them */              \
  X(PTR, const NnrtLayer *, layers)                                                             \
  X(I32, int32_t, n_checks) /* every buffer nn_step writes, in order */                         \
  X(PTR, const NnrtCheck *, checks)                                                             \
  /* The memory plan in floats: parameters, optimizer state, running statistics and everything  \
   * else the workspace holds (inputs, activations, gradients) for max_batch rows. */           \
  X(I64, int64_t, mem_params)                                                                   \
  X(I64, int64_t, mem_state)                                                                    \
  X(I64, int64_t, mem_buffers)                                                                  \
  X(I64, int64_t, mem_other)                                                                    \
  /* The kernels of step, in order, for running it on several threads (see NnrtKernelFn). */    \
  X(I32, int32_t, n_step_kernels)                                                               \
  X(PTR, const NnrtKernelFn *, step_kernels)                                                    \
  /* The first step_kernels entry of the optimizer's updates: every gradient is written before \
   * it and only updates from it on (data-parallel training sums the gradients of all ranks in  \
   * between); -1 when the schedule does not separate them. */                                 \
  X(I32, int32_t, first_update_group)                                                           \
  /* The workspace float, read as an int32, that a step sets to nonzero when a buffer of a     \
   * check marked `tested` held an infinity or a NaN; the runtime zeroes it before each step.   \
   * -1 for a model that cannot train. */                                                       \
  X(I64, int64_t, nonfinite_offset)                                                             \
  /* The rows predict (or predict_head) is given at a time (1..max_batch): fewer when one row's \
   * forward values are large (a CNN's: hundreds of KB), so that a chunk's stay in the cache.   \
   * Set only when no value of predict mixes rows, so the outputs do not depend on it. */       \
  X(I64, int64_t, predict_rows)                                                                 \
  /* predict cut in two (both NULL when it is not): the head, run predict_rows at a time, ends  \
   * with the value at predict_cut_offset (predict_cut_width floats a row), the only one of its \
   * values the tail reads; the tail then runs on all the rows (a CNN's dense layers). */       \
  X(PTR, NnrtStepFn, predict_head)                                                              \
  X(PTR, NnrtStepFn, predict_tail)                                                              \
  X(I64, int64_t, predict_cut_offset)                                                           \
  X(I64, int64_t, predict_cut_width)

#endif
