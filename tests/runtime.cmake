# The runtime's private headers (internal.h, data.h, ...) are visible to runtime/ alone; a suite
# that tests its internals asks for them here.
function(nnrt_white_box target)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/runtime)
endfunction()

# Runtime library (nnrt) suites: RNG, initialisation, training loop, checkpoints, command line.
nnc_unit_test(test_runtime ${CMAKE_CURRENT_LIST_DIR}/unit/test_runtime.c nnrt)
nnrt_white_box(test_runtime)
# The ABI v2 training loop: schedules, dropout masks, metrics, validation, early stopping,
# parameter-only checkpoints, standardisation at predict time, data exit codes.
nnc_unit_test(test_train ${CMAKE_CURRENT_LIST_DIR}/unit/test_train.c nnrt)
nnrt_white_box(test_train)
# The generated program's command line: every subcommand and flag, exit codes, predict from
# standard input and data files, eval's confusion matrix, info's table, progress, JSON log, SVG.
nnc_unit_test(test_cli ${CMAKE_CURRENT_LIST_DIR}/unit/test_cli.c nnrt)
nnrt_white_box(test_cli)
# Checkpoints as files: the layout read back by an independent safetensors reader, model-hash
# refusal, --init, atomic replacement while savers are SIGKILLed.
nnc_unit_test(test_checkpoint ${CMAKE_CURRENT_LIST_DIR}/unit/test_checkpoint.c nnrt)
nnrt_white_box(test_checkpoint)
# Resuming exactly (after whole epochs, mid-epoch after SIGINT/SIGTERM), exit 130, schedule
# continuity, and the hunt for the first non-finite value (exit 3).
nnc_unit_test(test_resume ${CMAKE_CURRENT_LIST_DIR}/unit/test_resume.c nnrt)
nnrt_white_box(test_resume)
# The descriptor round trip: every field of the NnrtModel the JIT-compiled model hands the
# runtime equals what the compiler meant, compared field by field from nnrt_fields.h.
nnc_unit_test(test_descriptor ${CMAKE_CURRENT_LIST_DIR}/unit/test_descriptor.c nnc_compiler nnrt)
nnc_unit_test(test_summary ${CMAKE_CURRENT_LIST_DIR}/unit/test_summary.c nnc_compiler)
# Running statistics (g_buffer, NNRT_ROLE_BUFFER) and the training flag, end to end: the
# builders, the optimizer's updates, and a compiled model through the runtime — the momentum
# rule, the flag in step/evaluate/predict, weights files, --init, exact resume, info.
nnc_unit_test(test_buffers ${CMAKE_CURRENT_LIST_DIR}/unit/test_buffers.c nnc_compiler nnrt)
nnrt_white_box(test_buffers)
# eval's metrics (metrics.h): per-class precision, recall, F1 and regression errors, by hand.
nnc_unit_test(test_metrics ${CMAKE_CURRENT_LIST_DIR}/unit/test_metrics.c nnrt)
nnrt_white_box(test_metrics)

# The pool's choice between its threads and the calling thread alone, with made-up step times.
nnc_unit_test(test_pool ${CMAKE_CURRENT_LIST_DIR}/unit/test_pool.c nnrt)
nnrt_white_box(test_pool)
