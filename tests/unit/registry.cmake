# The backend registry: table checks, optional methods, built-ins vs. the
# application's. The heavy built-ins it expects are those whose option is on.
chat_test(unit_registry SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_registry.c LABELS unit)
foreach(b REDIS POSTGRES MONGO KAFKA S3)
  if(CHAT_WITH_${b})
    target_compile_definitions(unit_registry PRIVATE CHAT_WITH_${b}=1)
  endif()
endforeach()
