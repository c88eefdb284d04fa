chat_test(unit_paging SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_paging.c LABELS unit)
