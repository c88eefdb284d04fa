list(APPEND CHAT_SOURCES auth/password.c auth/jwt.c)
