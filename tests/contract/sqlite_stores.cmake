# Contract suites for the auth, user and channel stores, run against SQLite.
# Each takes a store URL template; "{tmp}" becomes a fresh directory per test.
# Another backend runs the same sources with its own URL (see postgres_*.cmake).
chat_test(contract_auth_store_sqlite
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_auth_store.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c
  LABELS contract ARGS "sqlite:{tmp}/auth.db")
chat_test(contract_user_store_sqlite
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_user_store.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c
  LABELS contract ARGS "sqlite:{tmp}/user.db")
chat_test(contract_channel_store_sqlite
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_channel_store.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c
  LABELS contract ARGS "sqlite:{tmp}/channel.db")
# The same suites on an in-memory database (each handle its own database).
chat_test(contract_user_store_sqlite_memory
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_user_store.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c
  LABELS contract ARGS "sqlite::memory:")
