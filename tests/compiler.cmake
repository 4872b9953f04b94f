nnc_unit_test(test_grad ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_grad.c nnc_compiler)
nnc_unit_test(test_codegen ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_codegen.c nnc_compiler)
# codegen_math.c's exp, log, tanh, ... within 2 ulp of libm over a dense sweep, and vectorized.
nnc_unit_test(test_vecmath ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_vecmath.c nnc_compiler)
nnc_unit_test(test_window ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_window.c nnc_compiler)
nnc_unit_test(test_graph ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_graph.c nnc_compiler)
nnc_unit_test(test_optim ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_optim.c nnc_compiler)
# A training step allocates nothing: the suite counts malloc calls around each step.
nnc_unit_test(test_noalloc ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_noalloc.c nnc_compiler nnrt)
# The model hash reads the graph, not a printer: the suite brings its own graph_print.
nnc_unit_test(test_model_hash ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_model_hash.c nnc_compiler nnrt)
# batch_norm and layer_norm: gradients, training against evaluation, running statistics after
# compiled steps (the JIT and the runtime's training loop).
nnc_unit_test(test_norm ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_norm.c nnc_compiler nnrt)
# A compiled CNN (batch norm, dropout, Adam) resumes exactly and trains to the same bytes on any
# number of threads.
nnc_unit_test(test_cnn_run ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_cnn_run.c nnc_compiler nnrt)
# Elementwise kernels over images: one vector loop when every array is read in place, one loop
# per axis when one broadcasts, scalar loops when one is permuted (no gathers), tiles of shuffles
# for a lone transpose per image; compiled equals interpreted either way.
nnc_unit_test(test_elem_loops ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_elem_loops.c nnc_compiler)
