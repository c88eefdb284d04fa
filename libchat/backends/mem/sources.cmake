list(APPEND CHAT_SOURCES backends/mem/presence.c)
