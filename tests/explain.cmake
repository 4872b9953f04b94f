# explain: the textbook rendering of the derived backward pass — golden .nn/.explain pairs in
# tests/golden/explain, and examples/*.nn against tests/golden/explain/example_*.explain.
nnc_unit_test(test_explain ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_explain.c nnc_compiler)
