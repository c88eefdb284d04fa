list(APPEND CHAT_SOURCES proto/event.c)
