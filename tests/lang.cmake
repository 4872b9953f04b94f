# Front end: the lexer's tokens and the parser's trees (golden .nn/.ast pairs) and diagnostics.
nnc_unit_test(test_lexer ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_lexer.c nnc_lang)
nnc_unit_test(test_parser ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_parser.c nnc_lang)
target_compile_definitions(test_parser PRIVATE
  NNC_PARSE_GOLDEN_DIR="${CMAKE_CURRENT_SOURCE_DIR}/golden/parse")
