/*
 * libchat/api/svc.h - the service client: how the gateway (and a service that
 * needs another) calls methods, without knowing where they run.
 *
 * Two implementations: direct calls into a chat_ctx in this process (chatd),
 * and nng REQ/REP RPC to the servers found through discovery (the distributed
 * deployment). Both run the same handlers, so both behave the same.
 *
 * Thread safety: a chati_svc is shared by all threads; call() is reentrant.
 */
#ifndef CHATI_API_SVC_H
#define CHATI_API_SVC_H

#include "api/method.h"

typedef struct chati_svc chati_svc;

typedef struct chati_svc_ops {
    /* Calls m as session s (NULL for CHATI_M_NO_AUTH methods) with req. On
     * success *resp is a response owned by the caller (free with
     * protobuf_c_message_free_unpacked); on failure *resp is NULL, and
     * chati_errmsg() has the detail (from the remote side for RPC). A remote
     * that does not answer within timeout_ms gives CHAT_ERR_TIMEOUT; one that
     * cannot be reached gives CHAT_ERR_SERVICE_UNAVAILABLE. */
    chat_err (*call)(void *impl, const chati_method *m, const chat_session *s,
                     const ProtobufCMessage *req, int timeout_ms, ProtobufCMessage **resp);
    void (*close)(void *impl);
} chati_svc_ops;

struct chati_svc {
    const chati_svc_ops *ops;
    void *impl;
};

/* The direct implementation over ctx (not owned: close the svc first). */
chat_err chati_svc_direct(chat_ctx *ctx, chati_svc **out);
/* The RPC implementation: each method goes to the servers of its service.
 * Each service's address list is config "rpc.<service>"
 * ("tcp://10.0.0.5:7101,tcp://10.0.0.6:7101") or else what ctx->discovery
 * finds for the service name (looked up again every few seconds, and at once
 * when no server is reachable). Calls run concurrently. timeout_ms <= 0
 * means 10 s. A server that is stopping refuses without running the method,
 * and the call goes to another server when there is one.
 *
 * Errors: the remote error with its detail; service_unavailable when no
 * address is known, no server connects within min(timeout, 300 ms), or the
 * connection drops during the call; request_timeout when the server does not
 * answer in time. ctx is not owned (cfg and discovery are read from it) and
 * must outlive the client. Free *out with chati_svc_close(). */
chat_err chati_svc_rpc(chat_ctx *ctx, chati_svc **out);
/* Calls through a service client. */
chat_err chati_svc_call(chati_svc *svc, const chati_method *m, const chat_session *s,
                        const ProtobufCMessage *req, int timeout_ms, ProtobufCMessage **resp);
void chati_svc_close(chati_svc *svc);

/* The largest file ctx accepts (config files.max_bytes), for front ends that
 * refuse larger bodies before reading them; 0 when unknown. */
int64_t chati_files_max_bytes(const chat_ctx *ctx);

/* A session built from fields carried by an RPC frame (trusted: services run
 * behind the gateway on a private network). */
chat_session *chati_session_make(const char *user_id, const char *team_id, bool is_admin);
/* Marks s as made from an app's token (chat_token_kind kind, its bot and app
 * ids, scope bits). False, s unchanged, when kind is unknown or an id does
 * not fit. */
bool chati_session_set_app(chat_session *s, uint32_t kind, const char *bot_id,
                           const char *app_id, uint64_t scopes);

#endif
