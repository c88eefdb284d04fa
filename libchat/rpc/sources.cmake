# libchat/rpc: service clients (direct and nng RPC), the RPC server, the method
# table and its handlers.
list(APPEND CHAT_SOURCES
  rpc/server.c rpc/client.c rpc/svc.c
  # methods and handlers (lead)
  rpc/methods.c rpc/internal_methods.c rpc/convert.c rpc/h_auth_user.c rpc/h_channel.c rpc/h_message.c rpc/h_webhook.c
  rpc/h_file.c)
