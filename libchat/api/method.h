/*
 * libchat/api/method.h - the service methods: one table, used by every way of
 * calling them (directly in chatd, over nng RPC between the separate servers).
 *
 * A method is a protobuf-c request, a protobuf-c response and one function in
 * libchat. The message types live in libchat/proto/api_*.proto and are shaped
 * like Slack's Web API (field names are Slack's parameter and response names),
 * so the gateway converts HTTP arguments and JSON replies generically from the
 * descriptors. Adding a method: a message pair in the .proto, a handler, a row
 * in the table (api/methods.c).
 */
#ifndef CHATI_API_METHOD_H
#define CHATI_API_METHOD_H

#include <protobuf-c/protobuf-c.h>

#include "core/internal.h"

/* The service (and so the server process) that runs a method. */
typedef enum chati_service {
    CHATI_SVC_AUTH,
    CHATI_SVC_USER,
    CHATI_SVC_CHANNEL,
    CHATI_SVC_MESSAGE,
    CHATI_SVC_PRESENCE,
    CHATI_SVC__COUNT
} chati_service;

/* Service names as used for discovery and in server flags. */
const char *chati_service_name(chati_service svc);
/* -1 when unknown. */
int chati_service_from_name(const char *name);

#define CHATI_M_NO_AUTH 0x1u   /* callable without a session (signup, login, api.test) */
#define CHATI_M_INTERNAL 0x2u  /* between services only, never routed from HTTP */
/* Safe to run twice with the same outcome (a read, or a write that sets a
 * value): over RPC it is sent again to another instance when its server dies
 * during the call. Requests with a client_msg_id field are safe too: one is
 * made up when the caller gives none, and the store drops the repeat. */
#define CHATI_M_SAFE 0x4u
/* Called with an app-level token (xapp-), and only with one: Socket Mode. */
#define CHATI_M_APP_TOKEN 0x8u

/* A handler fills *resp, a fresh message of the method's response type that the
 * caller allocated and initialised; strings and sub-messages it sets are
 * allocated with chat_malloc and freed with the response by
 * protobuf_c_message_free_unpacked(resp, NULL). On an error the response is
 * discarded. s is NULL for CHATI_M_NO_AUTH methods. */
typedef chat_err (*chati_handler)(chat_ctx *ctx, const chat_session *s,
                                  const ProtobufCMessage *req, ProtobufCMessage *resp);

typedef struct chati_method {
    uint32_t id;                /* stable wire id, never reused */
    const char *name;           /* Slack method name, "conversations.history" */
    chati_service service;
    unsigned flags;             /* CHATI_M_* */
    const ProtobufCMessageDescriptor *req;
    const ProtobufCMessageDescriptor *resp;
    chati_handler fn;
    /* For a write whose response is empty and that a second run refuses
     * with this error (already_reacted, already_archived, ...): over RPC it
     * is sent again to another instance when its server dies mid-call, and
     * this error from that second attempt means the first one did it. */
    chat_err done_err;
} chati_method;

/* Method id 0, "health": answered by every RPC server itself (an empty reply,
 * or service_unavailable while it is stopping), for readiness checks. */
#define CHATI_RPC_HEALTH 0u

/* A health method to call service svc with (request and response are
 * chat.rpc.Empty). Through the direct service client it answers OK at once.
 * NULL for an unknown svc. Static storage. */
const chati_method *chati_rpc_health_method(chati_service svc);

/* Methods between services (api/internal_methods.c). */
extern const chati_method chati_internal_methods[];
extern const size_t chati_n_internal_methods;

/* (api/permits.c) Whether s may call m: not_allowed_token_type when the kind
 * of token does not fit, missing_scope (the detail names the scopes) when a
 * bot lacks every scope m takes. */
chat_err chati_method_permits(const chati_method *m, const chat_session *s);
/* Whether s may open the event stream (rtm.connect, the WebSocket): a
 * person's token, or a bot's with a history scope. */
chat_err chati_stream_permits(const chat_session *s);
/* The scopes one of which a bot needs for a method, comma-separated; NULL
 * when none is needed. */
const char *chati_method_scopes(const char *method);
/* Whether that table is sorted, names methods that exist and scopes that
 * parse (for a test: a row it cannot find would let a bot through). */
bool chati_method_scopes_ok(void);

/* Lookups over both tables; NULL when unknown. */
const chati_method *chati_method_by_name(const char *name);

/* The idempotency key field of m's request (a string named client_msg_id),
 * or NULL when it has none. */
const ProtobufCFieldDescriptor *chati_method_key_field(const chati_method *m);

/* An idempotency key in the UUID form Slack clients use for client_msg_id:
 * derived from seed (the same seed, the same key), or random when seed is
 * NULL. */
#define CHATI_IDEMPOTENCY_KEY_LEN 36
void chati_idempotency_key(const char *seed, char out[CHATI_IDEMPOTENCY_KEY_LEN + 1]);
const chati_method *chati_method_by_id(uint32_t id);
/* Every method, for listings and tests. */
const chati_method *chati_methods(size_t *n);

/* Allocates and initialises an empty message of descriptor d (free with
 * protobuf_c_message_free_unpacked). NULL on allocation failure. */
ProtobufCMessage *chati_pb_new(const ProtobufCMessageDescriptor *d);

/* Runs a method in this process: checks that the ctx runs its service,
 * allocates the response and calls the handler. On success *resp_out is the
 * response; on failure it is NULL and the detail is set. */
chat_err chati_method_call(chat_ctx *ctx, const chati_method *m, const chat_session *s,
                           const ProtobufCMessage *req, ProtobufCMessage **resp_out);

#endif
