# Gateway argument/JSON conversion (libchat/gateway/pbjson.c), with a test-only
# proto compiled here. Only when the servers are built.
if(TARGET chat_gateway_internal)
  set(PBJT_OUT ${CMAKE_CURRENT_BINARY_DIR}/pbjson_proto)
  file(MAKE_DIRECTORY ${PBJT_OUT})
  add_custom_command(
    OUTPUT ${PBJT_OUT}/pbjson_test.pb-c.c ${PBJT_OUT}/pbjson_test.pb-c.h
    COMMAND ${PROTOC_C} --proto_path=${CMAKE_CURRENT_SOURCE_DIR}
            --c_out=${PBJT_OUT} ${CMAKE_CURRENT_SOURCE_DIR}/pbjson_test.proto
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/pbjson_test.proto
    COMMENT "protoc-c pbjson_test.proto")
  set_source_files_properties(${PBJT_OUT}/pbjson_test.pb-c.c PROPERTIES
    COMPILE_OPTIONS "-Wno-missing-prototypes;-Wno-shadow;-Wno-unused-parameter")
  chat_test(unit_pbjson
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_pbjson.c ${PBJT_OUT}/pbjson_test.pb-c.c
    LABELS unit)
  target_include_directories(unit_pbjson PRIVATE ${PBJT_OUT})
  target_link_libraries(unit_pbjson PRIVATE chat_gateway_internal)
endif()
