# The Kafka event broker (CHAT_WITH_KAFKA). Each test starts and stops its own
# single-node Apache Kafka (KRaft) through tests/fixtures/kafka.sh on free
# loopback ports, data in a temporary directory; without Java or Kafka's jars
# (scripts/deps-server-kafka.sh) they fail, never skip.
#   contract_broker_kafka          the broker contract suite
#   contract_broker_kafka_groups   one group in two broker instances (as two
#                                  processes): Kafka splits and hands over partitions
if(CHAT_WITH_KAFKA)
  set(chat_kafka_fixture ${PROJECT_SOURCE_DIR}/tests/fixtures/kafka.sh)

  add_executable(contract_broker_kafka
    ${CMAKE_CURRENT_SOURCE_DIR}/test_broker.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c)
  target_link_libraries(contract_broker_kafka PRIVATE
    chat_test_support chat_internal PkgConfig::CHECK Threads::Threads)
  add_test(NAME contract_broker_kafka
    COMMAND bash ${chat_kafka_fixture} exec $<TARGET_FILE:contract_broker_kafka> "{kafka}")
  set_tests_properties(contract_broker_kafka PROPERTIES
    TIMEOUT 300 LABELS "contract;kafka" RUN_SERIAL TRUE)

  add_executable(contract_broker_kafka_groups
    ${CMAKE_CURRENT_SOURCE_DIR}/test_broker_kafka_groups.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c)
  target_link_libraries(contract_broker_kafka_groups PRIVATE
    chat_test_support chat_internal PkgConfig::CHECK Threads::Threads)
  add_test(NAME contract_broker_kafka_groups
    COMMAND bash ${chat_kafka_fixture} exec $<TARGET_FILE:contract_broker_kafka_groups> "{kafka}")
  set_tests_properties(contract_broker_kafka_groups PROPERTIES
    TIMEOUT 300 LABELS "contract;kafka" RUN_SERIAL TRUE)
endif()
