/*
 * libchat/rpc/svc.h - the service client: how the gateway (and a service that
 * needs another) calls methods, without knowing where they run.
 *
 * Two implementations: direct calls into a chat_ctx in this process (chatd),
 * and nng REQ/REP RPC to the servers found through discovery (the distributed
 * deployment). Both run the same handlers, so both behave the same.
 *
 * Thread safety: a chati_svc is shared by all threads; call() is reentrant.
 */
#ifndef CHATI_RPC_SVC_H
#define CHATI_RPC_SVC_H

#include "rpc/method.h"

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
/* Calls through a service client. */
chat_err chati_svc_call(chati_svc *svc, const chati_method *m, const chat_session *s,
                        const ProtobufCMessage *req, int timeout_ms, ProtobufCMessage **resp);
void chati_svc_close(chati_svc *svc);

/* A session built from fields carried by an RPC frame (trusted: services run
 * behind the gateway on a private network). */
chat_session *chati_session_make(const char *user_id, const char *team_id, bool is_admin);

#endif
