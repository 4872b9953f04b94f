# The benchmark's own checks (bench/test_bench.py: the cnn part's model variant and FLOP count,
# peak.c's output format, the numpy CNN peer's gradients where numpy is installed).
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME bench_checks COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/bench/test_bench.py)
  set_tests_properties(bench_checks PROPERTIES LABELS unit ENVIRONMENT "CC=${CMAKE_C_COMPILER}")
endif()
