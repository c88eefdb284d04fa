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

  # Every message event handled twice (the groups' offsets set back to 0 and
  # libchat reopened on the same stores): unread, mention counts and last
  # activity unchanged; on the SQLite stores, and (label postgres too) on
  # PostgreSQL's from tests/fixtures/postgres.sh.
  add_executable(integration_kafka_redelivery ${CMAKE_CURRENT_SOURCE_DIR}/test_kafka_redelivery.c)
  target_link_libraries(integration_kafka_redelivery PRIVATE
    chat_fixture PkgConfig::RDKAFKA Threads::Threads)
  add_test(NAME integration_kafka_redelivery
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/fixtures/kafka.sh exec
            $<TARGET_FILE:integration_kafka_redelivery> "{kafka}")
  set_tests_properties(integration_kafka_redelivery PROPERTIES
    TIMEOUT 300 LABELS "integration;kafka" RUN_SERIAL TRUE)
  if(CHAT_WITH_POSTGRES)
    add_test(NAME integration_kafka_redelivery_postgres
      COMMAND bash ${PROJECT_SOURCE_DIR}/tests/fixtures/postgres.sh exec
              bash ${PROJECT_SOURCE_DIR}/tests/fixtures/kafka.sh exec
              $<TARGET_FILE:integration_kafka_redelivery> "{kafka}" "{pg}")
    set_tests_properties(integration_kafka_redelivery_postgres PROPERTIES
      TIMEOUT 300 LABELS "integration;kafka;postgres" RUN_SERIAL TRUE)
  endif()
endif()

# On a 3-broker cluster (tests/fixtures/kafka.sh exec --brokers 3; libchat's
# topics with replication=3, min.insync.replicas=2): one broker killed -9
# while posts go out and consumers consume; no acknowledged event lost, the
# counts exact, the error window printed, the broker restarted and back in
# every ISR.
if(CHAT_WITH_KAFKA)
  add_executable(integration_kafka_cluster ${CMAKE_CURRENT_SOURCE_DIR}/test_kafka_cluster.c)
  target_link_libraries(integration_kafka_cluster PRIVATE
    chat_fixture PkgConfig::RDKAFKA Threads::Threads)
  add_test(NAME integration_kafka_cluster
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/fixtures/kafka.sh exec --brokers 3
            $<TARGET_FILE:integration_kafka_cluster>
            ${PROJECT_SOURCE_DIR}/tests/fixtures/kafka.sh "{kafka}")
  # "heavy": the plain build only (scripts/test.sh): it drills a broker's death.
  set_tests_properties(integration_kafka_cluster PROPERTIES
    TIMEOUT 180 LABELS "integration;kafka;heavy" RUN_SERIAL TRUE)
endif()
