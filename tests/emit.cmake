# IR goldens (label golden): `nnc EXAMPLE --emit=graph` and `--emit=grad` of the examples,
# compared with tests/golden/emit/EXAMPLE.STAGE by tests/support/emit_golden.sh
# (NNC_UPDATE_GOLDEN=1 rewrites them). fashion_mnist is left out: its graphs are large and say
# nothing fashion_bag's do not; neuron is untrained, so it has no grad stage.
set(NNC_EMIT_GOLDENS
  xor:graph xor:grad
  xor_dense:graph xor_dense:grad
  neuron:graph
  flats:graph flats:grad
  fashion_bag:graph fashion_bag:grad)
foreach(case ${NNC_EMIT_GOLDENS})
  string(REPLACE ":" ";" parts ${case})
  list(GET parts 0 example)
  list(GET parts 1 stage)
  add_test(NAME emit_${example}_${stage}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/support/emit_golden.sh $<TARGET_FILE:nnc>
                   ${PROJECT_SOURCE_DIR}/examples/${example}.nn ${stage}
                   ${CMAKE_CURRENT_SOURCE_DIR}/golden/emit/${example}.${stage})
  set_tests_properties(emit_${example}_${stage} PROPERTIES LABELS golden TIMEOUT 60)
endforeach()
