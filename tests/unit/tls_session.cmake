# Mutual TLS over non-blocking sockets (libchat/rpc/tls_session.c), with
# certificates from scripts/rpc-certs.sh.
chat_test(unit_tls_session SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_tls_session.c LABELS unit
          ARGS ${PROJECT_SOURCE_DIR}/scripts/rpc-certs.sh)
