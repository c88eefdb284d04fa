chat_test(unit_entities SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_entities.c LABELS unit)
