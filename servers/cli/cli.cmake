# servers/cli/cli.cmake - the `chat` command-line client. The target is
# chat_cli because `chat` is libchat's shared library; the program is `chat`.
set(CLI_DIR ${CMAKE_CURRENT_LIST_DIR})
add_executable(chat_cli ${CLI_DIR}/main.c ${CLI_DIR}/net.c ${CLI_DIR}/util.c)
set_target_properties(chat_cli PROPERTIES OUTPUT_NAME chat)
# Only libchat's public headers (chat_version()): the client speaks HTTP and
# WebSocket to a gateway and has its own helpers for the rest.
target_link_libraries(chat_cli PRIVATE chat_static nng::nng PkgConfig::JANSSON)
install(TARGETS chat_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
