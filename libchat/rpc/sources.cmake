# transport (server, client, direct service client)
foreach(f rpc/server.c rpc/client.c rpc/svc.c)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/../${f})
    list(APPEND CHAT_SOURCES ${f})
  endif()
endforeach()
# methods and handlers (lead)
list(APPEND CHAT_SOURCES rpc/methods.c rpc/convert.c rpc/h_auth_user.c rpc/h_channel.c
     rpc/h_message.c)
