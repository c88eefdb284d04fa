# The PostgreSQL auth, user and channel stores ("postgresql://..." libpq URLs),
# built when CHAT_WITH_POSTGRES is on (libchat/CMakeLists.txt adds libpq).
list(APPEND CHAT_SOURCES
  backends/postgres/url.c
  backends/postgres/pool.c
  backends/postgres/db.c
  backends/postgres/auth_store.c
  backends/postgres/user_store.c
  backends/postgres/channel_store.c)
