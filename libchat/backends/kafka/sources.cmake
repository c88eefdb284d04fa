# The Apache Kafka event broker ("kafka://HOST:PORT[,...][?options]"), built when
# CHAT_WITH_KAFKA is on (libchat/CMakeLists.txt adds this module and librdkafka).
list(APPEND CHAT_SOURCES
  backends/kafka/broker.c
  backends/kafka/consumer.c
  backends/kafka/dispatch.c
  backends/kafka/producer.c
  backends/kafka/topics.c
  backends/kafka/url.c)
