list(APPEND CHAT_SOURCES backends/static/discovery.c)
