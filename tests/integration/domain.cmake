add_library(chat_fixture STATIC ${CMAKE_CURRENT_SOURCE_DIR}/fixture.c)
target_link_libraries(chat_fixture PUBLIC chat_test_support)
foreach(t auth_users channels messages files_presence events concurrency file_upload)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/test_${t}.c)
    chat_test(integration_${t} SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_${t}.c
              LABELS integration TIMEOUT 300)
    target_link_libraries(integration_${t} PRIVATE chat_fixture)
  endif()
endforeach()
