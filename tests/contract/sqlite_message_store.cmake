chat_test(contract_message_store_sqlite
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_message_store.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c
  LABELS contract
  ARGS "sqlite:{tmp}/message.db")
