/* What each backend interface asks of an ops table: the newest version this
 * library knows and, per method, whether it is required and since which
 * version. The registry checks every table against this before adding it,
 * so the rest of libchat may call a required method without looking. */
#include <stddef.h>
#include <string.h>

#include <chat/backend/blob.h>
#include <chat/backend/broker.h>
#include <chat/backend/discovery.h>
#include <chat/backend/presence_store.h>
#include <chat/backend/store.h>

#include "core/internal.h"

typedef void (*any_fn)(void);

typedef struct {
    const char *name;
    size_t offset;
    uint32_t since;  /* the version that added it: tables of older versions end before it */
    bool required;   /* in tables of version >= since */
} method;

typedef struct {
    const char *name;       /* for error details: "message store" */
    uint32_t newest;
    const method *methods;  /* every method, in field order */
    size_t n;
} iface_desc;

#define REQ(type, m, v) {#m, offsetof(type, m), v, true}
#define OPT(type, m, v) {#m, offsetof(type, m), v, false}

/* A list must name every method of its table: a method added to a header
 * without being classified here stops the build. */
#define METHODS_COVER(type, list)                                                        \
    _Static_assert(CHATI_ARRAY_LEN(list) ==                                              \
                       (sizeof(type) - offsetof(type, open)) / sizeof(any_fn),           \
                   #list " must list every method of " #type)

#define S1 CHAT_STORE_V1
#define S2 CHAT_STORE_V2
#define S3 CHAT_STORE_V3
#define S4 CHAT_STORE_V4
#define S5 CHAT_STORE_V5
#define S6 CHAT_STORE_V6
static const method auth_methods[] = {
    REQ(chat_auth_store_ops, open, S1),
    REQ(chat_auth_store_ops, close, S1),
    REQ(chat_auth_store_ops, create, S1),
    REQ(chat_auth_store_ops, get_by_email, S1),
    REQ(chat_auth_store_ops, get, S1),
    REQ(chat_auth_store_ops, set_password, S1),
    REQ(chat_auth_store_ops, bump_generation, S1),
    REQ(chat_auth_store_ops, set_active, S1),
    OPT(chat_auth_store_ops, remove, S1),
    OPT(chat_auth_store_ops, create_app, S4),
    OPT(chat_auth_store_ops, get_app, S4),
    OPT(chat_auth_store_ops, list_apps, S4),
    OPT(chat_auth_store_ops, bump_app_generation, S4),
    OPT(chat_auth_store_ops, queue_app_events, S5),
    OPT(chat_auth_store_ops, lease_app_events, S5),
    OPT(chat_auth_store_ops, ack_app_events, S5),
    OPT(chat_auth_store_ops, due_apps, S5),
    OPT(chat_auth_store_ops, create_view, S6),
    OPT(chat_auth_store_ops, get_view, S6),
    OPT(chat_auth_store_ops, update_view, S6),
    OPT(chat_auth_store_ops, drop_views, S6),
};
METHODS_COVER(chat_auth_store_ops, auth_methods);

static const method user_methods[] = {
    REQ(chat_user_store_ops, open, S1),
    REQ(chat_user_store_ops, close, S1),
    REQ(chat_user_store_ops, create_team, S1),
    REQ(chat_user_store_ops, get_team, S1),
    REQ(chat_user_store_ops, get_team_by_domain, S1),
    REQ(chat_user_store_ops, create_user, S1),
    REQ(chat_user_store_ops, get_user, S1),
    REQ(chat_user_store_ops, get_user_by_email, S1),
    REQ(chat_user_store_ops, update_user, S1),
    REQ(chat_user_store_ops, list_users, S1),
    REQ(chat_user_store_ops, set_read_marker, S1),
    REQ(chat_user_store_ops, get_read_marker, S1),
    OPT(chat_user_store_ops, apply_activity, S1),
    OPT(chat_user_store_ops, counts, S1),
    REQ(chat_user_store_ops, delete_user, S1),
    OPT(chat_user_store_ops, put_usergroup, S6),
    OPT(chat_user_store_ops, list_usergroups, S6),
};
METHODS_COVER(chat_user_store_ops, user_methods);

static const method channel_methods[] = {
    REQ(chat_channel_store_ops, open, S1),
    REQ(chat_channel_store_ops, close, S1),
    REQ(chat_channel_store_ops, create, S1),
    REQ(chat_channel_store_ops, get, S1),
    REQ(chat_channel_store_ops, get_by_name, S1),
    REQ(chat_channel_store_ops, get_by_dm_key, S1),
    REQ(chat_channel_store_ops, update, S1),
    REQ(chat_channel_store_ops, list, S1),
    REQ(chat_channel_store_ops, list_for_member, S1),
    REQ(chat_channel_store_ops, add_members, S1),
    REQ(chat_channel_store_ops, remove_member, S1),
    REQ(chat_channel_store_ops, is_member, S1),
    REQ(chat_channel_store_ops, list_members, S1),
    OPT(chat_channel_store_ops, touch_activity, S1),
    OPT(chat_channel_store_ops, add_pin, S6),
    OPT(chat_channel_store_ops, remove_pin, S6),
    OPT(chat_channel_store_ops, list_pins, S6),
    OPT(chat_channel_store_ops, put_bookmark, S6),
    OPT(chat_channel_store_ops, remove_bookmark, S6),
    OPT(chat_channel_store_ops, list_bookmarks, S6),
};
METHODS_COVER(chat_channel_store_ops, channel_methods);

static const method message_methods[] = {
    REQ(chat_message_store_ops, open, S1),
    REQ(chat_message_store_ops, close, S1),
    REQ(chat_message_store_ops, post, S1),
    REQ(chat_message_store_ops, get, S1),
    REQ(chat_message_store_ops, update, S1),
    REQ(chat_message_store_ops, remove, S1),
    REQ(chat_message_store_ops, add_reaction, S1),
    REQ(chat_message_store_ops, remove_reaction, S1),
    REQ(chat_message_store_ops, history, S1),
    REQ(chat_message_store_ops, replies, S1),
    OPT(chat_message_store_ops, search, S1),
    REQ(chat_message_store_ops, file_insert, S1),
    REQ(chat_message_store_ops, file_get, S1),
    REQ(chat_message_store_ops, file_list, S1),
    REQ(chat_message_store_ops, file_delete, S1),
    REQ(chat_message_store_ops, outbox_fetch, S1),
    REQ(chat_message_store_ops, outbox_ack, S1),
    OPT(chat_message_store_ops, outbox_add, S1),
    OPT(chat_message_store_ops, file_complete, S1),
    OPT(chat_message_store_ops, file_set_title, S1),
    OPT(chat_message_store_ops, outbox_lease, S2),
    OPT(chat_message_store_ops, import, S3),
    OPT(chat_message_store_ops, schedule, S6),
    OPT(chat_message_store_ops, list_scheduled, S6),
    OPT(chat_message_store_ops, unschedule, S6),
    OPT(chat_message_store_ops, lease_scheduled, S6),
    OPT(chat_message_store_ops, reacted, S6),
};
METHODS_COVER(chat_message_store_ops, message_methods);
#undef S1
#undef S2
#undef S3

static const method broker_methods[] = {
    REQ(chat_broker_ops, open, CHAT_BROKER_V1),
    REQ(chat_broker_ops, close, CHAT_BROKER_V1),
    REQ(chat_broker_ops, publish, CHAT_BROKER_V1),
    REQ(chat_broker_ops, subscribe, CHAT_BROKER_V1),
    REQ(chat_broker_ops, unsubscribe, CHAT_BROKER_V1),
    REQ(chat_broker_ops, flush, CHAT_BROKER_V1),
    OPT(chat_broker_ops, subscribe_batched, CHAT_BROKER_V2),
};
METHODS_COVER(chat_broker_ops, broker_methods);

static const method blob_methods[] = {
    REQ(chat_blob_ops, open, CHAT_BLOB_V1),
    REQ(chat_blob_ops, close, CHAT_BLOB_V1),
    REQ(chat_blob_ops, put, CHAT_BLOB_V1),
    REQ(chat_blob_ops, get, CHAT_BLOB_V1),
    REQ(chat_blob_ops, remove, CHAT_BLOB_V1),
    OPT(chat_blob_ops, stat, CHAT_BLOB_V1),
};
METHODS_COVER(chat_blob_ops, blob_methods);

static const method presence_methods[] = {
    REQ(chat_presence_store_ops, open, CHAT_PRESENCE_STORE_V1),
    REQ(chat_presence_store_ops, close, CHAT_PRESENCE_STORE_V1),
    REQ(chat_presence_store_ops, heartbeat, CHAT_PRESENCE_STORE_V1),
    REQ(chat_presence_store_ops, set_away, CHAT_PRESENCE_STORE_V1),
    REQ(chat_presence_store_ops, get, CHAT_PRESENCE_STORE_V1),
    OPT(chat_presence_store_ops, expired, CHAT_PRESENCE_STORE_V1),
};
METHODS_COVER(chat_presence_store_ops, presence_methods);

static const method discovery_methods[] = {
    REQ(chat_discovery_ops, open, CHAT_DISCOVERY_V1),
    REQ(chat_discovery_ops, close, CHAT_DISCOVERY_V1),
    OPT(chat_discovery_ops, announce, CHAT_DISCOVERY_V1),
    OPT(chat_discovery_ops, withdraw, CHAT_DISCOVERY_V1),
    OPT(chat_discovery_ops, lookup, CHAT_DISCOVERY_V1),
};
METHODS_COVER(chat_discovery_ops, discovery_methods);

#define DESC(name, newest, list) {name, newest, list, CHATI_ARRAY_LEN(list)}
static const iface_desc ifaces[CHATI_IFACE__COUNT] = {
    [CHATI_IFACE_AUTH] = DESC("auth store", CHAT_STORE_V6, auth_methods),
    [CHATI_IFACE_USER] = DESC("user store", CHAT_STORE_V6, user_methods),
    [CHATI_IFACE_CHANNEL] = DESC("channel store", CHAT_STORE_V6, channel_methods),
    [CHATI_IFACE_MESSAGE] = DESC("message store", CHAT_STORE_V6, message_methods),
    [CHATI_IFACE_BROKER] = DESC("broker", CHAT_BROKER_V2, broker_methods),
    [CHATI_IFACE_BLOB] = DESC("blob store", CHAT_BLOB_V1, blob_methods),
    [CHATI_IFACE_PRESENCE] = DESC("presence store", CHAT_PRESENCE_STORE_V1, presence_methods),
    [CHATI_IFACE_DISCOVERY] = DESC("discovery", CHAT_DISCOVERY_V1, discovery_methods),
};

/* Every version of every table starts with these two fields. */
typedef struct {
    uint32_t version;
    const char *scheme;
} ops_head;

chat_err chati_iface_check(chati_iface iface, const char *scheme, const void *ops)
{
    if ((unsigned)iface >= CHATI_IFACE__COUNT)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no such backend interface");
    const iface_desc *d = &ifaces[iface];
    if (ops == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "%s: no ops table", d->name);
    const char *sch = scheme ? scheme : "";
    uint32_t version = ((const ops_head *)ops)->version;
    if (version == 0)
        return chati_fail(CHAT_ERR_NOT_SUPPORTED, "%s \"%.64s\": version 0 is not a version",
                          d->name, sch);
    if (version > d->newest)
        return chati_fail(CHAT_ERR_NOT_SUPPORTED,
                          "%s \"%.64s\": version %u is newer than this library knows (%u)",
                          d->name, sch, (unsigned)version, (unsigned)d->newest);
    for (size_t i = 0; i < d->n; i++) {
        const method *m = &d->methods[i];
        /* Fields past the table's own version are not there to read. */
        if (!m->required || m->since > version)
            continue;
        any_fn fn;
        memcpy(&fn, (const char *)ops + m->offset, sizeof fn);
        if (fn == NULL)
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS,
                              "%s \"%.64s\": required method %s is NULL", d->name, sch,
                              m->name);
    }
    return CHAT_OK;
}
