if(CHAT_WITH_POSTGRES)
  chat_test(unit_pg_url SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_pg_url.c LABELS unit)
endif()
