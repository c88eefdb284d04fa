# integration_cli: the `chat` command-line client against a chatd of its own
# (test_cli.sh starts it on a free port in a temporary directory).
if(TARGET chat_cli AND TARGET chatd)
  add_test(NAME integration_cli
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_cli.sh $<TARGET_FILE:chatd>
                   $<TARGET_FILE:chat_cli>)
  set_tests_properties(integration_cli PROPERTIES TIMEOUT 120 LABELS integration)
endif()
