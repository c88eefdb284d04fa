# The gateway's socket loops (libchat/gateway/net.c) over loopback TCP.
if(TARGET chat_gateway_internal)
  chat_test(unit_net SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_net.c LABELS unit)
  target_link_libraries(unit_net PRIVATE chat_gateway_internal)
endif()
