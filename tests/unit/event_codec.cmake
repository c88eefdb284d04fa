chat_test(unit_event_codec SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_event_codec.c LABELS unit)
