/* The public chat_*_register functions. The built-ins go in first, so that
 * an application's table for the same scheme replaces the built-in one
 * whether it registers before or after chat_open. */
#include <chat/backend/blob.h>
#include <chat/backend/broker.h>
#include <chat/backend/discovery.h>
#include <chat/backend/presence_store.h>
#include <chat/backend/store.h>

#include "backends/builtin.h"
#include "core/internal.h"

#define CHATI_REGISTER(fn, type, iface)                                                  \
    chat_err fn(const type *ops)                                                         \
    {                                                                                    \
        chati_clear_errmsg();                                                            \
        chati_backends_register_builtin();                                               \
        return chati_backend_add(iface, ops ? ops->scheme : NULL, ops,                   \
                                 CHATI_BACKEND_REPLACE);                                 \
    }

CHATI_REGISTER(chat_auth_store_register, chat_auth_store_ops, CHATI_IFACE_AUTH)
CHATI_REGISTER(chat_user_store_register, chat_user_store_ops, CHATI_IFACE_USER)
CHATI_REGISTER(chat_channel_store_register, chat_channel_store_ops, CHATI_IFACE_CHANNEL)
CHATI_REGISTER(chat_message_store_register, chat_message_store_ops, CHATI_IFACE_MESSAGE)
CHATI_REGISTER(chat_broker_register, chat_broker_ops, CHATI_IFACE_BROKER)
CHATI_REGISTER(chat_blob_register, chat_blob_ops, CHATI_IFACE_BLOB)
CHATI_REGISTER(chat_presence_store_register, chat_presence_store_ops, CHATI_IFACE_PRESENCE)
CHATI_REGISTER(chat_discovery_register, chat_discovery_ops, CHATI_IFACE_DISCOVERY)
