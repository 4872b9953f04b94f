# End-to-end tests (label e2e): shell scripts in tests/e2e/ drive the built nnc and the programs
# it writes, each in its own temporary directory (tests/e2e/lib.sh). A script exits 77 when it
# cannot run on this machine (a missing data set), and ctest reports that as skipped.
# Also, of the compiled kernels (issues 12 and 14): kernel_calls, the activations' and small
# powers' kernels are call-free (vectorisable) arithmetic; cnn_loops, the CNN's elementwise and
# window kernels neither gather nor scatter; opt_levels, -O2's own pipeline keeps the trained
# weights of -O1 and -O3; time_stages, nnc --time gives each compile stage's CPU and wall time.
foreach(name xor neuron cli xor_dense flats log_format data_errors cli_xor cli_csv nonfinite cnn_cli
             cnn_repl faults split
             resume kernel_calls cnn_loops opt_levels time_stages)
  add_test(NAME e2e_${name}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/${name}.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR})
  set_tests_properties(e2e_${name} PROPERTIES LABELS e2e TIMEOUT 120 SKIP_RETURN_CODE 77)
endforeach()
# The link: static where the C library's archives exist, else dynamic (issue 14, session 9).
add_test(NAME e2e_link
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/link.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_link PROPERTIES LABELS e2e TIMEOUT 120 SKIP_RETURN_CODE 77)
# Messages that say the fix: non-finite values, output directories, warnings (issue 13).
add_test(NAME e2e_diag_messages
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/diag_messages.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_diag_messages PROPERTIES LABELS e2e TIMEOUT 120)
# Training on Fashion-MNIST (/usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist):
# about 20 s for fashion_mnist, 5 s for fashion_bag on one core; fashion_cnn (one epoch on 2
# threads) and fashion_resnet (one epoch of a 20000-image subset) about 40 s and 70 s unloaded.
# Also labelled slow; CI runs them.
foreach(name fashion_mnist fashion_bag fashion_cnn fashion_resnet)
  add_test(NAME e2e_${name}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/${name}.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR})
  set_tests_properties(e2e_${name} PROPERTIES LABELS "e2e;slow" TIMEOUT 600 SKIP_RETURN_CODE 77)
endforeach()
# Installs the build tree into a temporary prefix: needs nnc and the runtime built first.
add_test(NAME e2e_install
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/install.sh ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_install PROPERTIES LABELS e2e TIMEOUT 120)
# nnc -c --header: the library object and header, examples/embed, several models in one program.
add_test(NAME e2e_embed
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/embed.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR}
                 $<TARGET_FILE:nnrt>)
set_tests_properties(e2e_embed PROPERTIES LABELS e2e TIMEOUT 120)
# The same for a CNN with batch norm and dropout, trained and queried from C.
add_test(NAME e2e_cnn_embed
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/cnn_embed.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR}
                 $<TARGET_FILE:nnrt>)
set_tests_properties(e2e_cnn_embed PROPERTIES LABELS e2e TIMEOUT 120)
# A standardised model (examples/flats.nn) from C: the program's files load, predict agrees.
add_test(NAME e2e_embed_stats
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/embed_stats.sh $<TARGET_FILE:nnc>
                 ${PROJECT_SOURCE_DIR} $<TARGET_FILE:nnrt>)
set_tests_properties(e2e_embed_stats PROPERTIES LABELS e2e TIMEOUT 120)
# nnc's safetensors read by numpy and PyTorch (docs/export.md): each agrees with ./m predict.
# The torch cases are skipped where /usr/bin/python3 cannot import torch.
foreach(mode flats-numpy flats-torch bars-torch)
  add_test(NAME e2e_export_${mode}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/export.sh $<TARGET_FILE:nnc>
                   ${PROJECT_SOURCE_DIR} ${mode})
  set_tests_properties(e2e_export_${mode} PROPERTIES LABELS e2e TIMEOUT 120 SKIP_RETURN_CODE 77)
endforeach()
# predict on new data (files without targets, streaming, class names, --out) and eval's metrics.
add_test(NAME e2e_predict
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/predict.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_predict PROPERTIES LABELS e2e TIMEOUT 180 SKIP_RETURN_CODE 77)
# Programs whose memory cannot exist are refused at once, with the figures (issue 16, item 3).
add_test(NAME e2e_memory
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/memory.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_memory PROPERTIES LABELS e2e TIMEOUT 120)
# Data-parallel training over MPI on loopback ranks (issue 15): skipped, and says why, when
# mpirun is missing or cannot start a job, and under the sanitizers.
add_test(NAME e2e_mpi
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/mpi.sh $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_mpi PROPERTIES LABELS "e2e;mpi" TIMEOUT 600 SKIP_RETURN_CODE 77)
