chat_test(unit_rpc SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_rpc.c LABELS unit TIMEOUT 300)
