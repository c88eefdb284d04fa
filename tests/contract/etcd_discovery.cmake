# etcd discovery (CHAT_WITH_ETCD). Each test runs under tests/fixtures/etcd.sh,
# which starts a one-member etcd (Debian's etcd-server) on free loopback ports
# and stops it afterwards; without etcd installed they fail, never skip.
#   contract_discovery_etcd  the unchanged discovery contract suite
#   integration_discovery_etcd  leases, the watch, etcd killed and restarted
#   integration_discovery_etcd_cluster  a 3-member cluster (etcd.sh exec
#                            --members 3): the leader killed -9 and restarted
#                            while registrations renew and lookups go on
if(CHAT_WITH_ETCD)
  set(chat_etcd_fixture ${PROJECT_SOURCE_DIR}/tests/fixtures/etcd.sh)

  add_executable(contract_discovery_etcd
    ${CMAKE_CURRENT_SOURCE_DIR}/test_discovery.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c)
  target_link_libraries(contract_discovery_etcd PRIVATE
    chat_test_support chat_internal PkgConfig::CHECK)
  add_test(NAME contract_discovery_etcd
    COMMAND bash ${chat_etcd_fixture} exec $<TARGET_FILE:contract_discovery_etcd>
            "etcd://{etcd}/contract")
  set_tests_properties(contract_discovery_etcd PROPERTIES
    TIMEOUT 120 LABELS "contract;etcd")

  add_executable(integration_discovery_etcd
    ${CMAKE_CURRENT_SOURCE_DIR}/test_discovery_etcd.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c)
  target_link_libraries(integration_discovery_etcd PRIVATE
    chat_test_support chat_internal PkgConfig::CHECK)
  add_test(NAME integration_discovery_etcd
    COMMAND bash ${chat_etcd_fixture} exec $<TARGET_FILE:integration_discovery_etcd>
            ${chat_etcd_fixture})
  set_tests_properties(integration_discovery_etcd PROPERTIES
    TIMEOUT 180 LABELS "integration;etcd")

  add_executable(integration_discovery_etcd_cluster
    ${CMAKE_CURRENT_SOURCE_DIR}/test_discovery_etcd_cluster.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c)
  target_link_libraries(integration_discovery_etcd_cluster PRIVATE
    chat_test_support chat_internal PkgConfig::CHECK)
  add_test(NAME integration_discovery_etcd_cluster
    COMMAND bash ${chat_etcd_fixture} exec --members 3
            $<TARGET_FILE:integration_discovery_etcd_cluster> ${chat_etcd_fixture})
  set_tests_properties(integration_discovery_etcd_cluster PROPERTIES
    TIMEOUT 120 LABELS "integration;etcd")
endif()
