# The gateway's protocol layer: HTTP/1.1 heads and chunked bodies
# (libchat/gateway/http_parse.c) and WebSocket frames and messages
# (libchat/gateway/ws_codec.c). Only when the servers are built. ~9 s in a
# Debug build, ~45 s under ASan+UBSan (the fuzz loops), hence the timeout.
if(TARGET chat_gateway_internal)
  chat_test(unit_net_codec
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_http_parse.c ${CMAKE_CURRENT_SOURCE_DIR}/test_ws_codec.c
    LABELS unit TIMEOUT 300)
  target_link_libraries(unit_net_codec PRIVATE chat_gateway_internal)
endif()
