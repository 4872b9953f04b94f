# The benchmark's own checks (bench/test_bench.py: the cnn part's model variant and FLOP count,
# peak.c's output format, the numpy CNN peer's gradients where numpy is installed).
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME bench_checks COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/bench/test_bench.py)
  set_tests_properties(bench_checks PROPERTIES LABELS unit ENVIRONMENT "CC=${CMAKE_C_COMPILER}")
endif()

# bench/gemm.c, the matrix kernels' micro-benchmark (run build/tests/bench_gemm by hand; built here
# so that it links the compiler's libraries as the unit tests do). The test only checks that it
# runs, on an odd batch, and refuses a bad option.
add_executable(bench_gemm ${PROJECT_SOURCE_DIR}/bench/gemm.c)
target_link_libraries(bench_gemm PRIVATE nnc_compiler m)
set_target_properties(bench_gemm PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
add_test(NAME bench_gemm_runs COMMAND bench_gemm --batch 17 --seconds 0.001 --cold)
add_test(NAME bench_gemm_runs_cnn COMMAND bench_gemm --cnn --batch 3 --seconds 0.001)
add_test(NAME bench_gemm_refuses_bad_options COMMAND bench_gemm --batch 0)
set_tests_properties(bench_gemm_runs bench_gemm_runs_cnn bench_gemm_refuses_bad_options
                     PROPERTIES LABELS unit)
set_tests_properties(bench_gemm_refuses_bad_options PROPERTIES WILL_FAIL TRUE)
