# The MongoDB message store ("mongodb://HOST:PORT[,HOST:PORT...]/DB?options"),
# built when CHAT_WITH_MONGO is on (libchat/CMakeLists.txt adds this module and
# libmongoc). Tested against FerretDB: tests/contract/mongo_message_store.cmake.
list(APPEND CHAT_SOURCES
  backends/mongo/conn.c
  backends/mongo/reads.c
  backends/mongo/search_text.c
  backends/mongo/message_doc.c
  backends/mongo/message_lists.c
  backends/mongo/outbox.c
  backends/mongo/lease.c
  backends/mongo/relay.c
  backends/mongo/files.c
  backends/mongo/scheduled.c
  backends/mongo/message_store.c)
