# libchat/rpc: the nng request/reply transport (server, client, frames); it
# knows nothing of chat's methods.
list(APPEND CHAT_SOURCES rpc/server.c rpc/client.c rpc/frame.c rpc/tls.c)
