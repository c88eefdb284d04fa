# Contract suites run against the embedded backends. Each suite takes a backend
# URL template as its argument ("{tmp}" = a fresh directory per test), so a
# heavy backend registers the same sources with its own URL, e.g.
#   chat_test(contract_broker_kafka SOURCES test_broker.c contract.c
#             LABELS contract integration ARGS "kafka://127.0.0.1:9092")
# The *_only suites test what one embedded backend promises beyond the contract.
chat_test(contract_broker_inproc SOURCES test_broker.c contract.c
          LABELS contract ARGS "inproc:")
chat_test(contract_broker_inproc_only SOURCES test_broker_inproc.c contract.c
          LABELS contract ARGS "inproc:")
chat_test(contract_blob_file SOURCES test_blob.c contract.c
          LABELS contract ARGS "file:{tmp}/blobs")
chat_test(contract_blob_file_only SOURCES test_blob_file.c contract.c
          LABELS contract ARGS "file:{tmp}/blobs")
chat_test(contract_presence_mem SOURCES test_presence.c contract.c
          LABELS contract ARGS "mem:")
chat_test(contract_discovery_static SOURCES test_discovery.c contract.c
          LABELS contract ARGS "static:")
chat_test(contract_discovery_static_file SOURCES test_discovery.c contract.c
          LABELS contract ARGS "static:{tmp}/services")
chat_test(contract_discovery_static_only SOURCES test_discovery_static.c contract.c
          LABELS contract ARGS "static:")
