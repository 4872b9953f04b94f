# The runtime's context API behind nnc -c (runtime/context.c); nnc -c itself is tests/e2e/embed.sh.
nnc_unit_test(test_embed ${CMAKE_CURRENT_LIST_DIR}/unit/test_embed.c nnrt)
nnrt_white_box(test_embed)
# The runtime exports only nnrt_* symbols: nm's list, and a program that defines every name it
# once exported (json_init, cli_say, data_fail, ...) links with the whole library and runs.
add_test(NAME symbols_prefix
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/symbols/symbols.sh $<TARGET_FILE:nnc>
                 ${PROJECT_SOURCE_DIR} $<TARGET_FILE:nnrt>)
set_tests_properties(symbols_prefix PROPERTIES LABELS e2e TIMEOUT 120)
