# SQLite stores: the embedded default for auth, user, channel and messages.
list(APPEND CHAT_SOURCES
  backends/sqlite/db.c
  backends/sqlite/db_checkpoint.c
  backends/sqlite/auth_store.c
  backends/sqlite/user_store.c
  backends/sqlite/channel_store.c)
# The message store, split by concern (message_store.h lists its files).
list(APPEND CHAT_SOURCES
  backends/sqlite/message_store.c
  backends/sqlite/message_post.c
  backends/sqlite/message_rows.c
  backends/sqlite/message_lists.c
  backends/sqlite/message_reactions.c
  backends/sqlite/message_search.c
  backends/sqlite/message_files.c
  backends/sqlite/message_outbox.c
  backends/sqlite/message_import.c
  backends/sqlite/message_scheduled.c)
# The SQLite event broker ("sqlite:/path/events.db"): shared by processes on one machine.
list(APPEND CHAT_SOURCES backends/sqlite/broker.c)
