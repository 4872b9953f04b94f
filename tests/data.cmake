# Runtime data loader (runtime/data.c): CSV, IDX (plain and gzipped) and tables, preprocessing.
nnc_unit_test(test_data ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_data.c nnrt)
nnrt_white_box(test_data)
# The data source table and the probe, with nnrt_data alone (what the compiler links): every row
# probes and loads; probe and loader refuse a bad header alike.
nnc_unit_test(test_data_sources ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_data_sources.c nnrt_data)
nnrt_white_box(test_data_sources)
# nnc refuses a CSV the loader would refuse, for the loader's reason; what it accepts loads.
add_test(NAME data_probe_agrees
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/data/probe_agrees.sh $<TARGET_FILE:nnc>
                 ${PROJECT_SOURCE_DIR})
set_tests_properties(data_probe_agrees PROPERTIES LABELS e2e)
