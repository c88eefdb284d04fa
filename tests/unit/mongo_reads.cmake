if(CHAT_WITH_MONGO)
  chat_test(unit_mongo_reads SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_mongo_reads.c LABELS unit)
  target_link_libraries(unit_mongo_reads PRIVATE PkgConfig::MONGOC)
endif()
