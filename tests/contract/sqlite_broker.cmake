# The broker contract suite against the SQLite broker, which separate
# processes share through one file ("{tmp}" = a fresh directory per test).
chat_test(contract_broker_sqlite
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_broker.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c
  LABELS contract ARGS "sqlite:{tmp}/events.db")
# Processes sharing one events file: exactly once per group without a crash,
# at least once (and in order per key) when a group's owner is SIGKILLed.
chat_test(contract_broker_sqlite_procs
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_broker_sqlite_procs.c
          ${CMAKE_CURRENT_SOURCE_DIR}/contract.c
  LABELS contract TIMEOUT 300)
