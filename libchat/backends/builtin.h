/*
 * libchat/backends/builtin.h - the backends compiled into libchat.
 *
 * Each embedded backend exports only its const ops table; core/registry.c
 * registers these by scheme on first use.
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
extern const chat_presence_store_ops chati_redis_presence_ops; /* "redis://host:port[/db]" */
/* "postgresql://..." (libpq URIs; backends/postgres/) */
extern const chat_auth_store_ops chati_pg_auth_ops;
extern const chat_user_store_ops chati_pg_user_ops;
extern const chat_channel_store_ops chati_pg_channel_ops;
extern const chat_message_store_ops chati_mongo_message_ops; /* "mongodb://..." */
extern const chat_broker_ops chati_kafka_broker_ops;         /* "kafka://host:port[,...]" */
extern const chat_blob_ops chati_s3_blob_ops;                /* "s3://..." */

#endif
