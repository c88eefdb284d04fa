# The Kafka event broker (CHAT_WITH_KAFKA). Each test starts and stops its own
# single-node Apache Kafka (KRaft) through tests/fixtures/kafka.sh on free
# loopback ports, data in a temporary directory; without Java or Kafka's jars
# (scripts/deps-server-kafka.sh) they fail, never skip.
#   contract_broker_kafka          the broker contract suite
#   contract_broker_kafka_groups   one group in two broker instances (as two
#                                  processes): Kafka splits and hands over partitions
#   contract_broker_kafka_handover one group in two forked processes: one is
#                                  SIGKILLed or stops cleanly mid-stream, the
#                                  other takes its partitions (time printed, bounded)
#   contract_broker_kafka_cluster  the broker contract suite on a 3-broker
#                                  cluster (kafka.sh exec --brokers 3), topics
#                                  with replication=3 and min.insync.replicas=2
if(CHAT_WITH_KAFKA)
  set(chat_kafka_fixture ${PROJECT_SOURCE_DIR}/tests/fixtures/kafka.sh)

  # contract_broker_kafka runs test_broker.c, contract_broker_kafka_NAME
  # test_broker_kafka_NAME.c.
  foreach(name kafka kafka_groups kafka_handover)
    set(src ${CMAKE_CURRENT_SOURCE_DIR}/test_broker_${name}.c)
    if(name STREQUAL "kafka")
      set(src ${CMAKE_CURRENT_SOURCE_DIR}/test_broker.c)
    endif()
    add_executable(contract_broker_${name} ${src} ${CMAKE_CURRENT_SOURCE_DIR}/contract.c)
    target_link_libraries(contract_broker_${name} PRIVATE
      chat_test_support chat_internal PkgConfig::CHECK Threads::Threads)
    add_test(NAME contract_broker_${name}
      COMMAND bash ${chat_kafka_fixture} exec $<TARGET_FILE:contract_broker_${name}> "{kafka}")
    set_tests_properties(contract_broker_${name} PROPERTIES
      TIMEOUT 300 LABELS "contract;kafka" RUN_SERIAL TRUE)
  endforeach()

  add_test(NAME contract_broker_kafka_cluster
    COMMAND bash ${chat_kafka_fixture} exec --brokers 3 $<TARGET_FILE:contract_broker_kafka>
            "{kafka}?replication=3")
  # "heavy": the plain build only (scripts/test.sh); the broker's C code is
  # the one contract_broker_kafka runs under the sanitizers.
  set_tests_properties(contract_broker_kafka_cluster PROPERTIES
    TIMEOUT 300 LABELS "contract;kafka;heavy" RUN_SERIAL TRUE)
endif()
