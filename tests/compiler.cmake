nnc_unit_test(test_grad ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_grad.c nnc_compiler)
nnc_unit_test(test_codegen ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_codegen.c nnc_compiler)
nnc_unit_test(test_graph ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_graph.c nnc_compiler)
nnc_unit_test(test_optim ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_optim.c nnc_compiler)
