# libchat/gateway/gateway.cmake - the gateway (HTTP, WebSocket hub, JSON <->
# protobuf) as a library of its own, chat_gateway, over libchat's API layer.
# chatd and chat-gateway link it and see only include/chat/gateway.h.
set(GW_DIR ${CMAKE_CURRENT_LIST_DIR})
set(GW_SOURCES pbjson.c pbjson_out.c api.c auth.c event_json.c hooks.c http.c hub.c ratelimit.c workers.c
  multipart.c files.c http_parse.c ws_codec.c ws_io.c links.c
  app_http.c avatars.c)
list(APPEND GW_SOURCES net.c net_tls.c httpd.c)
list(TRANSFORM GW_SOURCES PREPEND ${GW_DIR}/)

add_library(chat_gateway STATIC ${GW_SOURCES})
target_include_directories(chat_gateway PUBLIC ${GW_DIR}/include PRIVATE ${GW_DIR})
target_link_libraries(chat_gateway PUBLIC chat_static PRIVATE chat_internal nng::nng m
                      PkgConfig::JANSSON PkgConfig::PROTOBUFC chatdep_curl)
# The gateway's internal headers, for its unit tests.
add_library(chat_gateway_internal INTERFACE)
target_include_directories(chat_gateway_internal INTERFACE ${GW_DIR})
target_link_libraries(chat_gateway_internal INTERFACE chat_gateway chat_internal nng::nng m
                      PkgConfig::JANSSON PkgConfig::PROTOBUFC)
