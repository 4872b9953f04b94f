# The REPL and `nnc run` (label repl): scripted sessions fed on standard input with golden
# output (tests/repl/NAME.in -> NAME.golden), the JIT against the compiled program, and a
# leak check of repeated redefinitions under valgrind (about 3 minutes: also labelled slow).
foreach(name expressions errors redefine)
  add_test(NAME repl_${name}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/repl/golden.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR} ${name})
  set_tests_properties(repl_${name} PROPERTIES LABELS repl TIMEOUT 120)
endforeach()
add_test(NAME repl_xor
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/repl/xor.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR})
set_tests_properties(repl_xor PROPERTIES LABELS "repl;e2e" TIMEOUT 120 SKIP_RETURN_CODE 77)
add_test(NAME repl_leak
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/repl/leak.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR})
set_tests_properties(repl_leak PROPERTIES LABELS "repl;slow" TIMEOUT 900 SKIP_RETURN_CODE 77)
# The table of `:` commands: complete rows, distinct names, each listed by :help.
nnc_unit_test(test_repl_commands ${CMAKE_CURRENT_LIST_DIR}/unit/test_repl_commands.c nnc_repl)
# The program, `nnc run` and :train accept and reject the same options with the same messages.
add_test(NAME repl_flags
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/repl/flags.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR})
set_tests_properties(repl_flags PROPERTIES LABELS "repl;e2e" TIMEOUT 120)
# A model loaded from another directory, redefined at the prompt; :predict on untrained weights.
add_test(NAME repl_loaded
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/repl/loaded.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR})
set_tests_properties(repl_loaded PROPERTIES LABELS repl TIMEOUT 120)
# Every training flag through `nnc run`: the same output, log, plot and weights as the program.
add_test(NAME repl_run_flags
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/repl/run_flags.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR})
set_tests_properties(repl_run_flags PROPERTIES LABELS "repl;e2e" TIMEOUT 120)
# Dropout on a branch that reaches neither output nor loss, through redefinitions (issue 16).
add_test(NAME repl_dropout
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/repl/golden.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR} dropout)
set_tests_properties(repl_dropout PROPERTIES LABELS repl TIMEOUT 120)
