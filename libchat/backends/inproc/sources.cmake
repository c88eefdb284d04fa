list(APPEND CHAT_SOURCES backends/inproc/broker.c)
