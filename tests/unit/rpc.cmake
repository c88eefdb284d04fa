chat_test(unit_rpc SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_rpc.c LABELS unit TIMEOUT 300)
chat_test(unit_rpc_tls SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_rpc_tls.c LABELS unit
          ARGS ${PROJECT_SOURCE_DIR}/scripts/rpc-certs.sh)
chat_test(unit_rpc_routing SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_rpc_routing.c LABELS unit
          TIMEOUT 300)
