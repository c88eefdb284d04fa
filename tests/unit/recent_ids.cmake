chat_test(unit_recent_ids SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_recent_ids.c LABELS unit)
