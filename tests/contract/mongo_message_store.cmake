# The MongoDB message store (CHAT_WITH_MONGO), against FerretDB 1.x on its
# SQLite backend. Each test starts and stops its own server through
# tests/fixtures/ferretdb.sh on a free loopback port, data in a temporary
# directory (the server is built once into ~/.cache/libchat by
# scripts/deps-server-ferretdb.sh); without it they fail, never skip.
#   contract_message_store_mongo          the unchanged message store contract
#                                         suite, one database per test ({uniq})
#   contract_message_store_mongo_secondary  the same suite with a URL that
#                                         asks for reads from secondaries (tags,
#                                         max staleness): accepted, and every
#                                         check passes (FerretDB has no replica
#                                         set, so every read lands on its one
#                                         server; where each read goes is
#                                         unit_mongo_reads)
#   integration_message_store_mongo_restart  server killed / restarted
if(CHAT_WITH_MONGO)
  set(chat_ferretdb_fixture ${PROJECT_SOURCE_DIR}/tests/fixtures/ferretdb.sh)

  add_executable(contract_message_store_mongo
    ${CMAKE_CURRENT_SOURCE_DIR}/message_store_fixture.c
    ${CMAKE_CURRENT_SOURCE_DIR}/test_message_store_messages.c
    ${CMAKE_CURRENT_SOURCE_DIR}/test_message_store_files.c
    ${CMAKE_CURRENT_SOURCE_DIR}/test_message_store_load.c
    ${CMAKE_CURRENT_SOURCE_DIR}/contract.c)
  target_link_libraries(contract_message_store_mongo PRIVATE
    chat_test_support chat_internal PkgConfig::CHECK Threads::Threads)
  add_test(NAME contract_message_store_mongo
    COMMAND bash ${chat_ferretdb_fixture} exec $<TARGET_FILE:contract_message_store_mongo>
            "{mongo}/{uniq}")
  # The suite gives each test 60 s, sized for SQLite; over FerretDB (which
  # scans collections) the 1700-post tests take a good part of that on a busy
  # machine, hence the multiplier.
  set_tests_properties(contract_message_store_mongo PROPERTIES
    TIMEOUT 400 LABELS "contract;mongodb" ENVIRONMENT "CK_TIMEOUT_MULTIPLIER=3")

  add_test(NAME contract_message_store_mongo_secondary
    COMMAND bash ${chat_ferretdb_fixture} exec $<TARGET_FILE:contract_message_store_mongo>
            "{mongo}/{uniq}?readPreference=secondaryPreferred&maxStalenessSeconds=90&readPreferenceTags=dc:east&readPreferenceTags=")
  # "heavy": the plain build only (scripts/test.sh); reads.c runs under the
  # sanitizers in unit_mongo_reads.
  set_tests_properties(contract_message_store_mongo_secondary PROPERTIES
    TIMEOUT 400 LABELS "contract;mongodb;heavy" ENVIRONMENT "CK_TIMEOUT_MULTIPLIER=3")

  add_executable(integration_message_store_mongo_restart
    ${CMAKE_CURRENT_SOURCE_DIR}/test_message_store_mongo_restart.c
    ${CMAKE_CURRENT_SOURCE_DIR}/contract.c)
  target_link_libraries(integration_message_store_mongo_restart PRIVATE
    chat_test_support chat_internal PkgConfig::CHECK PkgConfig::MONGOC Threads::Threads)
  add_test(NAME integration_message_store_mongo_restart
    COMMAND integration_message_store_mongo_restart ${chat_ferretdb_fixture})
  set_tests_properties(integration_message_store_mongo_restart PROPERTIES
    TIMEOUT 300 LABELS "integration;mongodb" RUN_SERIAL TRUE)
endif()
