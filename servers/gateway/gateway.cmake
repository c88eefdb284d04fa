# servers/gateway/gateway.cmake - the gateway's code as a static library, so
# the gateway executable, chatd and the tests share it. GW_SOURCES lists its
# sources relative to this folder; append to it before this file is included
# or with target_sources(chat_gateway_core PRIVATE ...) afterwards.
set(GW_DIR ${CMAKE_CURRENT_LIST_DIR})
list(APPEND GW_SOURCES pbjson.c api.c auth.c event_json.c hooks.c http.c hub.c ratelimit.c workers.c
  multipart.c files.c)
list(REMOVE_DUPLICATES GW_SOURCES)
set(GW_SOURCE_PATHS ${GW_SOURCES})
list(TRANSFORM GW_SOURCE_PATHS PREPEND ${GW_DIR}/)

add_library(chat_gateway_core STATIC ${GW_SOURCE_PATHS})
target_include_directories(chat_gateway_core PUBLIC ${GW_DIR})
target_link_libraries(chat_gateway_core PUBLIC chat_internal nng::nng m PkgConfig::JANSSON
                      PkgConfig::PROTOBUFC)
