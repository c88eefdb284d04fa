/* The backends compiled into libchat, added to the registry at the library's
 * edge (chat_open, chat_*_register) so that core/ knows none of them. */
#include <pthread.h>

#include "backends/builtin.h"
#include "core/internal.h"

static const struct {
    chati_iface iface;
    const char *scheme;
    const void *ops;
} builtins[] = {
    {CHATI_IFACE_AUTH, "sqlite", &chati_sqlite_auth_ops},
    {CHATI_IFACE_USER, "sqlite", &chati_sqlite_user_ops},
    {CHATI_IFACE_CHANNEL, "sqlite", &chati_sqlite_channel_ops},
    {CHATI_IFACE_MESSAGE, "sqlite", &chati_sqlite_message_ops},
    {CHATI_IFACE_BROKER, "inproc", &chati_inproc_broker_ops},
    {CHATI_IFACE_BROKER, "sqlite", &chati_sqlite_broker_ops},
    {CHATI_IFACE_BLOB, "file", &chati_file_blob_ops},
    {CHATI_IFACE_PRESENCE, "mem", &chati_mem_presence_ops},
    {CHATI_IFACE_DISCOVERY, "static", &chati_static_discovery_ops},
#ifdef CHAT_WITH_REDIS
    {CHATI_IFACE_PRESENCE, "redis", &chati_redis_presence_ops},
    {CHATI_IFACE_PRESENCE, "redis+sentinel", &chati_redis_presence_ops},
#endif
#ifdef CHAT_WITH_POSTGRES
    {CHATI_IFACE_AUTH, "postgresql", &chati_pg_auth_ops},
    {CHATI_IFACE_AUTH, "postgres", &chati_pg_auth_ops},
    {CHATI_IFACE_USER, "postgresql", &chati_pg_user_ops},
    {CHATI_IFACE_USER, "postgres", &chati_pg_user_ops},
    {CHATI_IFACE_CHANNEL, "postgresql", &chati_pg_channel_ops},
    {CHATI_IFACE_CHANNEL, "postgres", &chati_pg_channel_ops},
#endif
#ifdef CHAT_WITH_MONGO
    {CHATI_IFACE_MESSAGE, "mongodb", &chati_mongo_message_ops},
#endif
#ifdef CHAT_WITH_KAFKA
    {CHATI_IFACE_BROKER, "kafka", &chati_kafka_broker_ops},
#endif
#ifdef CHAT_WITH_S3
    {CHATI_IFACE_BLOB, "s3", &chati_s3_blob_ops},
#endif
#ifdef CHAT_WITH_ETCD
    {CHATI_IFACE_DISCOVERY, "etcd", &chati_etcd_discovery_ops},
#endif
};

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void add_builtins(void)
{
    /* CHATI_BACKEND_KEEP: a table the application added first stays. A
     * built-in that fails its check is a bug the contract suites catch (its
     * scheme stays unknown_backend); there is no caller to report it to. */
    for (size_t i = 0; i < CHATI_ARRAY_LEN(builtins); i++)
        (void)chati_backend_add(builtins[i].iface, builtins[i].scheme, builtins[i].ops,
                                CHATI_BACKEND_KEEP);
}

void chati_backends_register_builtin(void)
{
    pthread_once(&once, add_builtins);
}
