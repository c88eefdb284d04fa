# Two MongoDB message stores in two processes on one database (FerretDB, one
# server per run through tests/fixtures/ferretdb.sh exec), as two
# chat-messaged would share it: ts unique and increasing per channel, one
# relay publishing every event once, and a standby relay taking over within
# seconds after the lease holder is killed (-9).
if(CHAT_WITH_MONGO)
  add_executable(contract_message_store_mongo_two
    ${CMAKE_CURRENT_SOURCE_DIR}/test_message_store_mongo_two.c
    ${CMAKE_CURRENT_SOURCE_DIR}/contract.c)
  target_link_libraries(contract_message_store_mongo_two PRIVATE
    chat_test_support chat_internal PkgConfig::CHECK PkgConfig::MONGOC Threads::Threads)
  add_test(NAME contract_message_store_mongo_two
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/fixtures/ferretdb.sh exec
            $<TARGET_FILE:contract_message_store_mongo_two> "{mongo}")
  set_tests_properties(contract_message_store_mongo_two PROPERTIES
    TIMEOUT 600 LABELS "contract;mongodb")
endif()
