# The layering of compiler/CMakeLists.txt, enforced: each stage's library, given an include of a
# header from a stage above it (or beside it), must fail to build; given its own header, must
# build (so a failure means the include, not a broken probe). Each probe is an object library
# left out of `all`, built by its test. Also: no source includes a path with "../".
set(NNC_LAYER_PROBES
  # library      own header    headers it must not reach
  "nnc_base      arena.h       ast.h graph.h"
  "nnc_lang      ast.h         graph.h sema.h"
  "nnc_ir        graph.h       ast.h sema.h settings.h grad.h codegen.h nnrt.h"
  "nnc_check     sema.h        lower.h grad.h codegen.h"
  "nnc_lower     lower.h       grad.h optim.h codegen.h driver.h"
  "nnc_diff      optim.h       ast.h sema.h lower.h codegen.h"
  "nnc_backend   codegen.h     ast.h sema.h lower.h grad.h explain.h driver.h"
  "nnc_explain   explain.h     ast.h sema.h codegen.h driver.h"
  "nnc_driver    driver.h      repl.h"
  "nnrt          nnrt.h        graph.h arena.h"
  # The runtime's own headers are private: hosts see nnrt_host.h, the back end nnrt.h.
  "nnc_repl      nnrt_host.h   internal.h data.h cli_internal.h"
  "nnrt_abi      nnrt.h        internal.h data.h"
  # The data readers the compiler's checks link: the probe's header, not the loader's insides.
  "nnrt_data     nnrt_data.h   data.h data_internal.h sema.h")

function(nnc_layer_probe lib header expect_ok)
  string(MAKE_C_IDENTIFIER "${lib}_${header}" id)
  set(src ${CMAKE_CURRENT_BINARY_DIR}/layering/${id}.c)
  file(WRITE ${src} "#include \"${header}\"\nint nnc_layer_probe_${id};\n")
  add_library(layer_${id} OBJECT EXCLUDE_FROM_ALL ${src})
  target_link_libraries(layer_${id} PRIVATE ${lib})
  add_test(NAME layering_${id}
           COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target layer_${id})
  set_tests_properties(layering_${id} PROPERTIES LABELS unit RESOURCE_LOCK layering)
  if(NOT expect_ok)
    set_tests_properties(layering_${id} PROPERTIES WILL_FAIL TRUE)
  endif()
endfunction()

foreach(row IN LISTS NNC_LAYER_PROBES)
  string(REGEX REPLACE " +" ";" row "${row}")
  list(POP_FRONT row lib own)
  nnc_layer_probe(${lib} ${own} TRUE)
  foreach(header IN LISTS row)
    nnc_layer_probe(${lib} ${header} FALSE)
  endforeach()
endforeach()

add_test(NAME layering_no_parent_includes
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/layering/no_parent_includes.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(layering_no_parent_includes PROPERTIES LABELS unit)
