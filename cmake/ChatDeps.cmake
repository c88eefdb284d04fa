# Finds libchat's dependencies, all from Debian's packages. Each becomes an
# imported target named chatdep::<name>.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(ARGON2 REQUIRED IMPORTED_TARGET libargon2)
pkg_check_modules(PROTOBUFC REQUIRED IMPORTED_TARGET libprotobuf-c)
find_package(nng REQUIRED)
find_program(PROTOC_C protoc-c REQUIRED)

# mbedtls ships no pkg-config file on Debian 12.
find_path(MBEDTLS_INCLUDE_DIR mbedtls/md.h REQUIRED)
find_library(MBEDTLS_LIB mbedtls REQUIRED)
find_library(MBEDX509_LIB mbedx509 REQUIRED)
find_library(MBEDCRYPTO_LIB mbedcrypto REQUIRED)
add_library(chatdep_mbedtls INTERFACE)
target_include_directories(chatdep_mbedtls INTERFACE ${MBEDTLS_INCLUDE_DIR})
target_link_libraries(chatdep_mbedtls INTERFACE ${MBEDTLS_LIB} ${MBEDX509_LIB} ${MBEDCRYPTO_LIB})

if(CHAT_WITH_POSTGRES)
  pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
endif()
if(CHAT_WITH_MONGO)
  pkg_check_modules(MONGOC REQUIRED IMPORTED_TARGET libmongoc-1.0)
endif()
if(CHAT_WITH_REDIS)
  pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
endif()
if(CHAT_WITH_KAFKA)
  pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)
endif()
# libcurl: the gateway's Events API requests to apps, the S3 store (not
# libs3: Debian's libs3 2.0 signs with Signature V2 only; the store signs V4
# itself with mbedtls) and etcd's JSON gateway.
pkg_check_modules(LIBCURL REQUIRED IMPORTED_TARGET libcurl)
add_library(chatdep_curl INTERFACE)
target_link_libraries(chatdep_curl INTERFACE PkgConfig::LIBCURL)

if(CHAT_BUILD_TESTS)
  pkg_check_modules(CHECK REQUIRED IMPORTED_TARGET check)
endif()
