list(APPEND CHAT_SOURCES
  core/alloc.c core/error.c core/buf.c core/utf8.c core/text.c core/scopes.c core/ids.c core/ts.c
  core/encode.c core/config.c core/registry.c core/iface.c core/entity.c core/accessors.c
  core/list.c core/paging.c core/sync.c core/hmac.c)
