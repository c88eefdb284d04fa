# chat_message_import on the embedded SQLite message store.
chat_test(integration_message_import SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_message_import.c
          LABELS integration TIMEOUT 300)
target_link_libraries(integration_message_import PRIVATE chat_fixture)
