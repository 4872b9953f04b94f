# Runtime library (nnrt) suites: RNG, initialisation, training loop, checkpoints, command line.
nnc_unit_test(test_runtime ${CMAKE_CURRENT_LIST_DIR}/unit/test_runtime.c nnrt)
