chat_test(unit_sqlite_checkpoint SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_sqlite_checkpoint.c LABELS unit TIMEOUT 180)
