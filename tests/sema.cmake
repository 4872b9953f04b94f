# Semantic checks and diagnostics: the sema/lowering cmocka suite (label unit) and the diagnostic
# goldens (label golden): tests/golden/diag/*.nn carry their expected diagnostics inline (see
# tests/support/diag_golden.sh); tests/golden/diag/human/*.nn pin the human format (.expect).
nnc_unit_test(test_sema ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_sema.c nnc_compiler)

file(GLOB NNC_DIAG_GOLDENS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/golden/diag/*.nn)
foreach(file ${NNC_DIAG_GOLDENS})
  get_filename_component(name ${file} NAME_WE)
  add_test(NAME diag_${name}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/support/diag_golden.sh $<TARGET_FILE:nnc> ${file})
  set_tests_properties(diag_${name} PROPERTIES LABELS golden TIMEOUT 30)
endforeach()

file(GLOB NNC_DIAG_HUMAN CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/golden/diag/human/*.nn)
foreach(file ${NNC_DIAG_HUMAN})
  get_filename_component(name ${file} NAME_WE)
  add_test(NAME diag_human_${name}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/support/diag_human.sh $<TARGET_FILE:nnc> ${file})
  set_tests_properties(diag_human_${name} PROPERTIES LABELS golden TIMEOUT 30)
endforeach()
