# explain: the textbook rendering of the derived backward pass (golden .nn/.explain pairs).
nnc_unit_test(test_explain ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_explain.c nnc_compiler)
