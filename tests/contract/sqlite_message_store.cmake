chat_test(contract_message_store_sqlite
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/message_store_fixture.c
          ${CMAKE_CURRENT_SOURCE_DIR}/test_message_store_messages.c
          ${CMAKE_CURRENT_SOURCE_DIR}/test_message_store_files.c
          ${CMAKE_CURRENT_SOURCE_DIR}/test_message_store_load.c
          ${CMAKE_CURRENT_SOURCE_DIR}/contract.c
  LABELS contract
  ARGS "sqlite:{tmp}/message.db")
