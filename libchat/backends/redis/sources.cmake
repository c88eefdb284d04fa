# The Redis presence store ("redis://HOST:PORT[/DB][?replica=HOST:PORT]" and
# "redis+sentinel://S1:P1,S2:P2/MASTER[/DB]"), built when CHAT_WITH_REDIS is on
# (libchat/CMakeLists.txt adds this module and hiredis). sentinel.c finds the
# servers and pools connections to them; presence.c is the store.
list(APPEND CHAT_SOURCES backends/redis/presence.c backends/redis/sentinel.c)
