# The S3 blob store (CHAT_WITH_S3) against a real S3 server: S3Proxy, started by
# tests/fixtures/s3.sh on a free loopback port with its objects in a temporary
# directory (the jar is fetched once by scripts/deps-server-s3.sh into
# ~/.cache/libchat). Without Java or the jar the tests fail, never skip.
#   unit_blob_s3_sigv4            Signature V4 against AWS's published examples
#   unit_blob_s3_conf             parsing of s3:// URLs
#   contract_blob_s3              the unchanged blob contract suite, path-style
#                                 bucket, each test under its own key prefix;
#                                 5 MiB parts so the 8 MiB object is multipart
#   contract_blob_s3_vhost        the same with virtual-host-style addressing
#                                 (bucket.localhost) and single-part uploads
#   contract_blob_s3_tls          the same over https (self-signed certificate
#                                 trusted through ca_file=)
#   integration_blob_s3_failures  wrong secret, tampered body, aborted multipart
#                                 upload, hung server, server stopped during
#                                 uploads through the domain API, restart
#   integration_blob_s3_tls       https: an untrusted certificate is refused
if(CHAT_WITH_S3)
  set(chat_s3_fixture ${PROJECT_SOURCE_DIR}/tests/fixtures/s3.sh)
  # The fixture's credentials; {uniq} is left for the contract suite.
  set(chat_s3_url "s3://chatkey:chatsecret@chat-test/{uniq}?endpoint={s3_endpoint}&create_bucket=1")

  foreach(t sigv4 conf)
    add_executable(unit_blob_s3_${t} ${CMAKE_CURRENT_SOURCE_DIR}/test_blob_s3_${t}.c)
    target_link_libraries(unit_blob_s3_${t} PRIVATE
      chat_test_support chat_internal PkgConfig::CHECK)
    add_test(NAME unit_blob_s3_${t} COMMAND unit_blob_s3_${t})
    set_tests_properties(unit_blob_s3_${t} PROPERTIES TIMEOUT 60 LABELS "unit;s3")
  endforeach()

  add_executable(contract_blob_s3
    ${CMAKE_CURRENT_SOURCE_DIR}/test_blob.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c)
  target_link_libraries(contract_blob_s3 PRIVATE
    chat_test_support chat_internal PkgConfig::CHECK Threads::Threads)
  add_test(NAME contract_blob_s3
    COMMAND bash ${chat_s3_fixture} exec $<TARGET_FILE:contract_blob_s3>
            "${chat_s3_url}&part_size=5242880")
  set_tests_properties(contract_blob_s3 PROPERTIES
    TIMEOUT 300 LABELS "contract;s3" RUN_SERIAL TRUE)

  add_test(NAME contract_blob_s3_vhost
    COMMAND bash ${chat_s3_fixture} exec $<TARGET_FILE:contract_blob_s3>
            "s3://chatkey:chatsecret@chat-test/{uniq}?endpoint=http://localhost:{s3_port}&style=virtual&create_bucket=1")
  set_tests_properties(contract_blob_s3_vhost PROPERTIES
    TIMEOUT 300 LABELS "contract;s3" RUN_SERIAL TRUE ENVIRONMENT "CHAT_TEST_S3_VHOST=1")

  add_test(NAME contract_blob_s3_tls
    COMMAND bash ${chat_s3_fixture} exec $<TARGET_FILE:contract_blob_s3>
            "${chat_s3_url}&ca_file={s3_ca}")
  set_tests_properties(contract_blob_s3_tls PROPERTIES
    TIMEOUT 300 LABELS "contract;s3" RUN_SERIAL TRUE ENVIRONMENT "CHAT_TEST_S3_TLS=1")
endif()

if(CHAT_WITH_S3)
  # Stops and restarts its server: objects on disk (filesystem backend) so they
  # survive the restart; its keys are flat file ids, which that backend holds.
  # Request bodies above 6 MiB are refused, to fail a multipart upload midway.
  add_executable(integration_blob_s3_failures
    ${CMAKE_CURRENT_SOURCE_DIR}/test_blob_s3_failures.c
    ${PROJECT_SOURCE_DIR}/tests/integration/fixture.c)
  target_include_directories(integration_blob_s3_failures PRIVATE
    ${PROJECT_SOURCE_DIR}/tests/integration)
  target_link_libraries(integration_blob_s3_failures PRIVATE
    chat_test_support chat_internal PkgConfig::CHECK)
  add_test(NAME integration_blob_s3_failures
    COMMAND bash ${chat_s3_fixture} exec $<TARGET_FILE:integration_blob_s3_failures>
            ${chat_s3_fixture} "{s3_dir}" "{s3_endpoint}")
  set_tests_properties(integration_blob_s3_failures PROPERTIES
    TIMEOUT 300 LABELS "integration;s3" RUN_SERIAL TRUE
    ENVIRONMENT "CHAT_TEST_S3_BACKEND=filesystem;CHAT_TEST_S3_MAX_REQUEST=6291456")
endif()

if(CHAT_WITH_S3)
  add_executable(integration_blob_s3_tls ${CMAKE_CURRENT_SOURCE_DIR}/test_blob_s3_tls.c)
  target_link_libraries(integration_blob_s3_tls PRIVATE
    chat_test_support chat_internal PkgConfig::CHECK)
  add_test(NAME integration_blob_s3_tls
    COMMAND bash ${chat_s3_fixture} exec $<TARGET_FILE:integration_blob_s3_tls>
            "{s3_endpoint}" "{s3_ca}")
  set_tests_properties(integration_blob_s3_tls PROPERTIES
    TIMEOUT 120 LABELS "integration;s3" RUN_SERIAL TRUE ENVIRONMENT "CHAT_TEST_S3_TLS=1")
endif()
