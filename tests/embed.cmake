# The runtime's context API behind nnc -c (runtime/embed.c); nnc -c itself is tests/e2e/embed.sh.
nnc_unit_test(test_embed ${CMAKE_CURRENT_LIST_DIR}/unit/test_embed.c nnrt)
nnrt_white_box(test_embed)
