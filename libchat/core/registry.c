/* Backends by URL scheme, one table per interface. The built-in (embedded)
 * backends are registered the first time any lookup happens. */
#include <pthread.h>
#include <string.h>

#include <chat/backend/blob.h>
#include <chat/backend/broker.h>
#include <chat/backend/discovery.h>
#include <chat/backend/presence_store.h>
#include <chat/backend/store.h>

#include "backends/builtin.h"
#include "core/internal.h"

#define MAX_BACKENDS 16
#define MAX_SCHEME 32

typedef struct {
    char scheme[MAX_SCHEME];
    const void *ops;
} entry;

static entry table[CHATI_IFACE__COUNT][MAX_BACKENDS];
static size_t counts[CHATI_IFACE__COUNT];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

static void add_locked(chati_iface iface, const char *scheme, const void *ops, chat_err *rv)
{
    size_t n = counts[iface];
    for (size_t i = 0; i < n; i++) {
        if (strcmp(table[iface][i].scheme, scheme) == 0) {
            table[iface][i].ops = ops; /* a later registration replaces an earlier one */
            *rv = CHAT_OK;
            return;
        }
    }
    if (n == MAX_BACKENDS) {
        *rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "too many backends registered");
        return;
    }
    strcpy(table[iface][n].scheme, scheme);
    table[iface][n].ops = ops;
    counts[iface] = n + 1;
    *rv = CHAT_OK;
}

static void register_builtins(void)
{
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
    };
    chat_err rv;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < CHATI_ARRAY_LEN(builtins); i++)
        if (chati_iface_check(builtins[i].iface, builtins[i].scheme, builtins[i].ops) == CHAT_OK)
            add_locked(builtins[i].iface, builtins[i].scheme, builtins[i].ops, &rv);
    pthread_mutex_unlock(&lock);
}

chat_err chati_backend_add(chati_iface iface, const char *scheme, const void *ops)
{
    chat_err rv = chati_iface_check(iface, scheme, ops);
    if (rv != CHAT_OK)
        return rv;
    if (scheme == NULL || scheme[0] == '\0' || strlen(scheme) >= MAX_SCHEME ||
        strchr(scheme, ':'))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a backend needs a scheme of 1-%d "
                          "characters without ':'", MAX_SCHEME - 1);
    pthread_once(&builtins_once, register_builtins);
    pthread_mutex_lock(&lock);
    add_locked(iface, scheme, ops, &rv);
    pthread_mutex_unlock(&lock);
    return rv;
}

const void *chati_backend_find(chati_iface iface, const char *url)
{
    if ((unsigned)iface >= CHATI_IFACE__COUNT || url == NULL) {
        chati_fail(CHAT_ERR_UNKNOWN_SCHEME, "no backend URL given");
        return NULL;
    }
    pthread_once(&builtins_once, register_builtins);
    size_t len = strcspn(url, ":");
    const void *found = NULL;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < counts[iface] && url[len] == ':'; i++)
        if (strlen(table[iface][i].scheme) == len && strncmp(table[iface][i].scheme, url, len) == 0)
            found = table[iface][i].ops;
    pthread_mutex_unlock(&lock);
    if (found == NULL)
        chati_fail(CHAT_ERR_UNKNOWN_SCHEME, "no backend for \"%.*s\" (is it built in?)",
                   (int)(len > 64 ? 64 : len), url);
    return found;
}

const char *chati_url_rest(const char *url)
{
    const char *p = strchr(url, ':');
    if (p == NULL)
        return url;
    p++;
    if (p[0] == '/' && p[1] == '/')
        p += 2;
    return p;
}

/* The public registration functions: chati_backend_add checks the table. */
#define CHATI_REGISTER(fn, type, iface)                                                  \
    chat_err fn(const type *ops)                                                         \
    {                                                                                    \
        return chati_backend_add(iface, ops ? ops->scheme : NULL, ops);                  \
    }

CHATI_REGISTER(chat_auth_store_register, chat_auth_store_ops, CHATI_IFACE_AUTH)
CHATI_REGISTER(chat_user_store_register, chat_user_store_ops, CHATI_IFACE_USER)
CHATI_REGISTER(chat_channel_store_register, chat_channel_store_ops, CHATI_IFACE_CHANNEL)
CHATI_REGISTER(chat_message_store_register, chat_message_store_ops, CHATI_IFACE_MESSAGE)
CHATI_REGISTER(chat_broker_register, chat_broker_ops, CHATI_IFACE_BROKER)
CHATI_REGISTER(chat_blob_register, chat_blob_ops, CHATI_IFACE_BLOB)
CHATI_REGISTER(chat_presence_store_register, chat_presence_store_ops, CHATI_IFACE_PRESENCE)
CHATI_REGISTER(chat_discovery_register, chat_discovery_ops, CHATI_IFACE_DISCOVERY)
