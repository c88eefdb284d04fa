chat_test(unit_service SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_service.c LABELS unit TIMEOUT 120)
