list(APPEND CHAT_SOURCES auth/password.c auth/jwt.c auth/jwt_cache.c)
