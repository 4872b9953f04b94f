# Runtime library (nnrt) suites: RNG, initialisation, training loop, checkpoints, command line.
nnc_unit_test(test_runtime ${CMAKE_CURRENT_LIST_DIR}/unit/test_runtime.c nnrt)
# The ABI v2 training loop: schedules, dropout masks, metrics, validation, early stopping,
# parameter-only checkpoints, standardisation at predict time, data exit codes.
nnc_unit_test(test_train ${CMAKE_CURRENT_LIST_DIR}/unit/test_train.c nnrt)
