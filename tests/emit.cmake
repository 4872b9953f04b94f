# IR goldens (label golden): `nnc EXAMPLE --emit=graph` and `--emit=grad` of the examples (and of
# the small models kept in tests/golden/emit/, listed in NNC_EMIT_MODELS), compared with
# tests/golden/emit/EXAMPLE.STAGE by tests/support/emit_golden.sh
# (NNC_UPDATE_GOLDEN=1 rewrites them). fashion_mnist is left out: its graphs are large and say
# nothing fashion_bag's do not; neuron is untrained, so it has no grad stage.
set(NNC_EMIT_GOLDENS
  xor:graph xor:grad
  xor_dense:graph xor_dense:grad
  neuron:graph
  flats:graph flats:grad
  fashion_bag:graph fashion_bag:grad
  tiny_cnn:graph tiny_cnn:grad)
set(NNC_EMIT_MODELS tiny_cnn)
foreach(case ${NNC_EMIT_GOLDENS})
  string(REPLACE ":" ";" parts ${case})
  list(GET parts 0 example)
  list(GET parts 1 stage)
  set(source ${PROJECT_SOURCE_DIR}/examples/${example}.nn)
  if(example IN_LIST NNC_EMIT_MODELS)
    set(source ${CMAKE_CURRENT_SOURCE_DIR}/golden/emit/${example}.nn)
  endif()
  add_test(NAME emit_${example}_${stage}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/support/emit_golden.sh $<TARGET_FILE:nnc>
                   ${source} ${stage}
                   ${CMAKE_CURRENT_SOURCE_DIR}/golden/emit/${example}.${stage})
  set_tests_properties(emit_${example}_${stage} PROPERTIES LABELS golden TIMEOUT 60)
endforeach()
