/*
 * libchat/backends/builtin.h - the backends compiled into libchat.
 *
 * Each backend exports only its const ops table; backends/builtin.c lists
 * them by scheme and adds them to the registry (core/registry.c, which knows
 * none of them) when chat_open or a chat_*_register call first needs them.
 */
#ifndef CHATI_BACKENDS_BUILTIN_H
#define CHATI_BACKENDS_BUILTIN_H

#include <chat/backend/blob.h>
#include <chat/backend/broker.h>
#include <chat/backend/discovery.h>
#include <chat/backend/presence_store.h>
#include <chat/backend/store.h>

/* sqlite stores (backends/sqlite/): "sqlite:/path/db" */
extern const chat_auth_store_ops chati_sqlite_auth_ops;
extern const chat_user_store_ops chati_sqlite_user_ops;
extern const chat_channel_store_ops chati_sqlite_channel_ops;
extern const chat_message_store_ops chati_sqlite_message_ops;
extern const chat_broker_ops chati_sqlite_broker_ops;         /* "sqlite:/path/events.db" */

extern const chat_broker_ops chati_inproc_broker_ops;         /* "inproc:" */
extern const chat_blob_ops chati_file_blob_ops;               /* "file:/dir" */
extern const chat_presence_store_ops chati_mem_presence_ops;  /* "mem:" */
extern const chat_discovery_ops chati_static_discovery_ops;   /* "static:[/file]" */

/* heavy backends, each built when its CHAT_WITH_* option is on */
/* "redis://host:port[/db]", "redis+sentinel://s1:p1,s2:p2/master[/db]" */
extern const chat_presence_store_ops chati_redis_presence_ops;
/* "postgresql://..." (libpq URIs; backends/postgres/) */
extern const chat_auth_store_ops chati_pg_auth_ops;
extern const chat_user_store_ops chati_pg_user_ops;
extern const chat_channel_store_ops chati_pg_channel_ops;
extern const chat_message_store_ops chati_mongo_message_ops; /* "mongodb://..." */
extern const chat_broker_ops chati_kafka_broker_ops;         /* "kafka://host:port[,...]" */
extern const chat_blob_ops chati_s3_blob_ops;                /* "s3://..." */
extern const chat_discovery_ops chati_etcd_discovery_ops;    /* "etcd://host:port[,...]" */

/* Adds the built-in backends to the registry, once per process (later calls
 * return at once); a scheme the application registered first keeps its
 * table. Thread-safe. chat_open and every chat_*_register call it first;
 * code that looks backends up without chat_open (the contract suites) calls
 * it itself. */
void chati_backends_register_builtin(void);

#endif
