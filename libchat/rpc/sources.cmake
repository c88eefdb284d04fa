# libchat/rpc: the request/reply transport (server, client, wire, TLS); it
# knows nothing of chat's methods.
list(APPEND CHAT_SOURCES rpc/server.c rpc/client.c rpc/frame.c rpc/tls.c rpc/wire.c
     rpc/tls_session.c)
