# The sugar of lower_sugar.c and lower_init.c (activations, losses, regularisers, initialisers, layers): gradients
# against finite differences for every table entry, values, shapes and diagnostics. Its
# diagnostic goldens are tests/golden/diag/lower_*.nn, registered with the others in sema.cmake.
nnc_unit_test(test_sugar ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_sugar.c nnc_compiler)
# The image layers of lower_image.c: shapes, parameters, the windows of "same" and "valid",
# values against hand-computed ones and a direct convolution, gradients. Goldens as above.
nnc_unit_test(test_image_sugar ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_image_sugar.c nnc_compiler)
