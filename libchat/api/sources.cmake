# libchat/api: the API surface: the method table and its handlers, protobuf
# <-> domain conversion, the service clients (direct and over RPC), serving
# the table over the RPC transport, and the peer tables over RPC.
list(APPEND CHAT_SOURCES
  api/methods.c api/internal_methods.c api/convert.c api/envelope.c
  api/h_auth_user.c api/h_channel.c api/h_message.c api/h_webhook.c api/h_file.c api/h_app.c api/h_scheduled.c api/h_usergroups.c api/permits.c
  api/svc.c api/svc_rpc.c api/serve.c api/peers_rpc.c api/service.c api/rpc_auth.c api/announce.c)
