# The PostgreSQL auth, user and channel stores (CHAT_WITH_POSTGRES). Each test
# starts its own servers through tests/fixtures/postgres.sh: a primary and
# streaming standbys on free loopback ports, data in a temporary directory,
# stopped afterwards. Without PostgreSQL installed they fail, never skip.
#   contract_*_store_postgres   the unchanged contract suites, on a multi-host
#                               URL (primary + sync + async standby, the
#                               seed's shape), one schema per test
#   integration_postgres_failover  standby down (reads fall back), primary
#                               killed and restarted, migrations raced, bad URLs
#   integration_postgres_replicas  the seed's cluster: reads spread over both
#                               standbys, sync standby lost, both lost, a
#                               stuck primary, failover (figures on stdout)
if(CHAT_WITH_POSTGRES)
  set(chat_pg_fixture ${PROJECT_SOURCE_DIR}/tests/fixtures/postgres.sh)

  foreach(store auth user channel)
    add_executable(contract_${store}_store_postgres
      ${CMAKE_CURRENT_SOURCE_DIR}/test_${store}_store.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c)
    target_link_libraries(contract_${store}_store_postgres PRIVATE
      chat_test_support chat_internal PkgConfig::CHECK Threads::Threads)
    add_test(NAME contract_${store}_store_postgres
      COMMAND bash ${chat_pg_fixture} exec --standbys
              $<TARGET_FILE:contract_${store}_store_postgres> "{pg_all}?schema={uniq}")
    set_tests_properties(contract_${store}_store_postgres PROPERTIES
      TIMEOUT 180 LABELS "contract;postgres")
  endforeach()

  add_executable(integration_postgres_failover
    ${CMAKE_CURRENT_SOURCE_DIR}/test_stores_pg_failover.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c)
  target_link_libraries(integration_postgres_failover PRIVATE
    chat_test_support chat_internal PkgConfig::CHECK Threads::Threads)
  add_test(NAME integration_postgres_failover
    COMMAND integration_postgres_failover ${chat_pg_fixture})
  set_tests_properties(integration_postgres_failover PROPERTIES
    TIMEOUT 180 LABELS "integration;postgres" RUN_SERIAL TRUE)

  add_executable(integration_postgres_replicas
    ${CMAKE_CURRENT_SOURCE_DIR}/test_stores_pg_replicas.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c)
  target_link_libraries(integration_postgres_replicas PRIVATE
    chat_test_support chat_internal PkgConfig::CHECK Threads::Threads)
  add_test(NAME integration_postgres_replicas
    COMMAND bash ${chat_pg_fixture} exec --standbys
            $<TARGET_FILE:integration_postgres_replicas> ${chat_pg_fixture})
  set_tests_properties(integration_postgres_replicas PROPERTIES
    TIMEOUT 240 LABELS "integration;postgres" RUN_SERIAL TRUE)
endif()
