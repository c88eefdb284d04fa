# SQLite stores: the embedded default for auth, user, channel and messages.
list(APPEND CHAT_SOURCES
  backends/sqlite/db.c
  backends/sqlite/auth_store.c
  backends/sqlite/user_store.c
  backends/sqlite/channel_store.c)
# The message store (another engineer) appends itself here when ready:
list(APPEND CHAT_SOURCES backends/sqlite/message_store.c)
# The SQLite event broker ("sqlite:/path/events.db"): shared by processes on one machine.
list(APPEND CHAT_SOURCES backends/sqlite/broker.c)
