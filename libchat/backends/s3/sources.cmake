# The S3 blob store ("s3://[ACCESS:SECRET@]BUCKET[/PREFIX]?endpoint=..."), built
# when CHAT_WITH_S3 is on: AWS Signature V4 (mbedtls HMAC) over libcurl.
list(APPEND CHAT_SOURCES
  backends/s3/sigv4.c
  backends/s3/s3_conf.c
  backends/s3/s3_client.c
  backends/s3/s3_multipart.c
  backends/s3/blob.c)
list(APPEND CHAT_SOURCES backends/curl_global.c)
