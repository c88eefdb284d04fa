chat_test(unit_sqlite_open SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_sqlite_open.c LABELS unit TIMEOUT 180)
