# The Redis presence store ("redis://HOST:PORT[/DB][?replica=HOST:PORT]"), built
# when CHAT_WITH_REDIS is on (libchat/CMakeLists.txt adds this module and hiredis).
list(APPEND CHAT_SOURCES backends/redis/presence.c)
