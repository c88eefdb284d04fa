list(APPEND CHAT_SOURCES backends/file/blob.c)
