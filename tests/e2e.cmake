# End-to-end tests (label e2e): shell scripts in tests/e2e/ drive the built nnc and the programs
# it writes, each in its own temporary directory (tests/e2e/lib.sh).
foreach(name xor neuron cli)
  add_test(NAME e2e_${name}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/${name}.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR})
  set_tests_properties(e2e_${name} PROPERTIES LABELS e2e TIMEOUT 120)
endforeach()
# Installs the build tree into a temporary prefix: needs nnc and the runtime built first.
add_test(NAME e2e_install
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/install.sh ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_install PROPERTIES LABELS e2e TIMEOUT 120)
