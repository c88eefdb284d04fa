chat_test(unit_crypto SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_crypto.c LABELS unit)
