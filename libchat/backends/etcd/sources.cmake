# etcd discovery ("etcd://host:port[,...][/prefix]"), built when CHAT_WITH_ETCD
# is on: etcd's v3 JSON gateway over libcurl (leases, keys, a watch).
list(APPEND CHAT_SOURCES
  backends/curl_global.c
  backends/etcd/client.c
  backends/etcd/watch.c
  backends/etcd/discovery.c)
