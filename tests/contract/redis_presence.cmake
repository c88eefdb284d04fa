# The Redis presence store (CHAT_WITH_REDIS). Each test starts and stops its own
# redis-server through tests/fixtures/redis.sh on a free loopback port, data in
# a temporary directory; without redis-server installed they fail, never skip.
#   contract_presence_redis            the unchanged presence contract suite
#   contract_presence_redis_sentinel   the same through redis+sentinel:// (reads
#                                      from the replicas)
#   integration_presence_redis_restart kill -9 / restart, replica reads, pub/sub
#   integration_presence_redis_sentinel reads over both replicas, a replica and
#                                      Sentinels killed, kill -9 of the primary
#                                      under load (prints "sentinel:" figures)
if(CHAT_WITH_REDIS)
  set(chat_redis_fixture ${PROJECT_SOURCE_DIR}/tests/fixtures/redis.sh)

  add_executable(contract_presence_redis
    ${CMAKE_CURRENT_SOURCE_DIR}/test_presence.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c)
  target_link_libraries(contract_presence_redis PRIVATE
    chat_test_support chat_internal PkgConfig::CHECK)
  add_test(NAME contract_presence_redis
    COMMAND bash ${chat_redis_fixture} exec $<TARGET_FILE:contract_presence_redis> "{redis}/0")
  set_tests_properties(contract_presence_redis PROPERTIES
    TIMEOUT 120 LABELS "contract;redis")
  # The same suite through Sentinel: a primary, 2 replicas, 3 Sentinels.
  add_test(NAME contract_presence_redis_sentinel
    COMMAND bash ${chat_redis_fixture} exec --sentinel
            $<TARGET_FILE:contract_presence_redis> "{redis}/0")
  set_tests_properties(contract_presence_redis_sentinel PROPERTIES
    TIMEOUT 180 LABELS "contract;redis")

  add_executable(integration_presence_redis_restart
    ${CMAKE_CURRENT_SOURCE_DIR}/test_presence_redis.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c)
  target_link_libraries(integration_presence_redis_restart PRIVATE
    chat_test_support chat_internal PkgConfig::CHECK PkgConfig::HIREDIS Threads::Threads)
  add_test(NAME integration_presence_redis_restart
    COMMAND integration_presence_redis_restart ${chat_redis_fixture})
  set_tests_properties(integration_presence_redis_restart PROPERTIES
    TIMEOUT 120 LABELS "integration;redis")

  add_executable(integration_presence_redis_sentinel
    ${CMAKE_CURRENT_SOURCE_DIR}/test_presence_redis_sentinel.c ${CMAKE_CURRENT_SOURCE_DIR}/contract.c)
  target_link_libraries(integration_presence_redis_sentinel PRIVATE
    chat_test_support chat_internal PkgConfig::CHECK PkgConfig::HIREDIS Threads::Threads)
  add_test(NAME integration_presence_redis_sentinel
    COMMAND bash ${chat_redis_fixture} exec --sentinel
            $<TARGET_FILE:integration_presence_redis_sentinel> ${chat_redis_fixture})
  set_tests_properties(integration_presence_redis_sentinel PROPERTIES
    TIMEOUT 300 LABELS "integration;redis")
endif()
