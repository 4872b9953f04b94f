# Runtime data loader (runtime/data.c): CSV, IDX (plain and gzipped) and tables, preprocessing.
nnc_unit_test(test_data ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_data.c nnrt)
nnrt_white_box(test_data)
