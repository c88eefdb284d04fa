# libchat on the Kafka broker through a Kafka outage (CHAT_WITH_KAFKA): the test
# runs inside tests/fixtures/kafka.sh exec (a single-node KRaft broker on free
# loopback ports, data in a temporary directory), stops Kafka, posts, restarts
# it on the same port and data, and checks exactly-once delivery to two
# consumer groups. Without Java or Kafka's jars it fails, never skips.
if(CHAT_WITH_KAFKA)
  add_executable(integration_kafka_outage ${CMAKE_CURRENT_SOURCE_DIR}/test_kafka_outage.c)
  target_link_libraries(integration_kafka_outage PRIVATE chat_fixture Threads::Threads)
  add_test(NAME integration_kafka_outage
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/fixtures/kafka.sh exec
            $<TARGET_FILE:integration_kafka_outage>
            ${PROJECT_SOURCE_DIR}/tests/fixtures/kafka.sh "{kafka}")
  set_tests_properties(integration_kafka_outage PROPERTIES
    TIMEOUT 300 LABELS "integration;kafka" RUN_SERIAL TRUE)
endif()
