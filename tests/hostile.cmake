# Hostile inputs (label hostile): one test per case, each asserting the message and the exit
# code documented in docs/errors.md. tests/hostile/source.sh: nnc on broken source files;
# data.sh: generated programs on broken CSV and IDX files; checkpoint.sh: on broken safetensors.
set(NNC_HOSTILE_SOURCE random_bytes nul_bytes invalid_utf8 ten_megabytes over_size_limit nesting
    number_overflow shape_overflow shape_memory directory unreadable missing no_partial_output)
set(NNC_HOSTILE_DATA idx_dims_beyond_file idx_wrong_magic idx_truncated_gzip idx_empty
    csv_million_columns csv_long_line csv_empty)
set(NNC_HOSTILE_CHECKPOINT header_beyond_file offsets_overlap offsets_past_end dtype_mismatch
    shape_mismatch not_json empty)
foreach(kind source data checkpoint)
  string(TOUPPER ${kind} KIND)
  foreach(case ${NNC_HOSTILE_${KIND}})
    add_test(NAME hostile_${kind}_${case}
             COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/hostile/${kind}.sh $<TARGET_FILE:nnc>
                     ${PROJECT_SOURCE_DIR} ${case})
    set_tests_properties(hostile_${kind}_${case} PROPERTIES LABELS hostile TIMEOUT 300
                         SKIP_RETURN_CODE 77)
  endforeach()
endforeach()

# Resource bounds (label hostile): tests/hostile/bounds.sh generates a 100 MB source, 10^6
# statements, expressions nested 10^5 deep and a table of 10^6 rows, each run in 30 s and 2 GB.
foreach(case big_source million_statements deep_expression million_rows)
  add_test(NAME hostile_bounds_${case}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/hostile/bounds.sh $<TARGET_FILE:nnc>
                   ${PROJECT_SOURCE_DIR} ${case})
  set_tests_properties(hostile_bounds_${case} PROPERTIES LABELS hostile TIMEOUT 300)
endforeach()

# Valgrind (label valgrind): nnc compiling every example with no memory error and no definite
# leak (LLVM's still-reachable memory is not an error). Not in a sanitizer build: valgrind and
# ASan cannot share a process.
find_program(VALGRIND valgrind)
if(VALGRIND AND NOT NNC_SANITIZE)
  file(GLOB nnc_examples RELATIVE ${PROJECT_SOURCE_DIR}/examples ${PROJECT_SOURCE_DIR}/examples/*.nn)
  foreach(example ${nnc_examples})
    string(REGEX REPLACE "\\.nn$" "" name ${example})
    add_test(NAME valgrind_${name}
             COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/hostile/valgrind.sh ${VALGRIND}
                     $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR}/examples/${example})
    set_tests_properties(valgrind_${name} PROPERTIES LABELS valgrind TIMEOUT 600)
  endforeach()
endif()
