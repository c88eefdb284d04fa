/*
 * The RPC service client: each method goes to the servers of its service
 * over the RPC transport, as a chat.rpc.Request frame around the packed
 * method request; the chat.rpc.Reply comes back with the response or an
 * error and its detail.
 *
 * Each service's addresses are config "rpc.<service>" (comma-separated) or
 * else what the context's discovery finds under the service name (looked up
 * again every few seconds, and at once when no server is reachable).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <nng/nng.h>

#include "api/rpc_auth.h"
#include "api/serve.h"
#include "api/svc.h"
#include "domain/ctx.h"
#include "rpc.pb-c.h"
#include "rpc/rpc.h"

#define DEFAULT_TIMEOUT_MS 10000
/* A server that is stopping refuses without running the method; the call
 * then tries another server, at most this many times. */
#define MAX_RETRIES 3

typedef struct rpc_svc rpc_svc;

typedef struct peer {
    rpc_svc *owner;
    chati_service svc;
    chati_rpc_client *client;
} peer;

struct rpc_svc {
    chat_ctx *ctx;
    chati_rpc_auth *auth;       /* signs every request */
    _Atomic uint64_t next_id;
    peer peers[CHATI_SVC__COUNT];
};

static const uint8_t empty_bytes[1];

/* A health frame (method 0, needs no signature) and what a healthy answer
 * is: a reply without an error (a stopping server answers one). */
static bool probe_ok(void *arg, nng_msg *reply)
{
    (void)arg;
    Chat__Rpc__Reply *rep =
        chat__rpc__reply__unpack(NULL, nng_msg_len(reply), nng_msg_body(reply));
    bool ok = rep != NULL && (rep->error == NULL || rep->error[0] == '\0');
    if (rep)
        chat__rpc__reply__free_unpacked(rep, NULL);
    return ok;
}

/* The addresses of a service: config "rpc.<name>", else discovery. */
static chat_err resolve(void *arg, chati_rpc_addrs *out, bool *dynamic)
{
    peer *pr = arg;
    chat_ctx *ctx = pr->owner->ctx;
    const char *name = chati_service_name(pr->svc);
    char key[64];
    snprintf(key, sizeof key, "rpc.%s", name);
    const char *v = ctx->cfg ? chat_config_get(ctx->cfg, key) : NULL;
    *dynamic = false;
    chat_err rv = CHAT_OK;
    if (v && *v) {
        rv = chati_rpc_addrs_add_list(out, v);
    } else if (ctx->discovery && CHATI_HAS(ctx->discovery, lookup, CHAT_DISCOVERY_V1)) {
        *dynamic = true;
        chat_list *l = NULL;
        rv = ctx->discovery->lookup(ctx->discovery_impl, name, &l);
        if (rv != CHAT_OK)
            rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "discovery lookup of %s failed: %s",
                            name, chati_errmsg());
        for (size_t i = 0; rv == CHAT_OK && i < chat_list_count(l); i++) {
            const char *s = chat_list_string(l, i);
            if (s)
                rv = chati_rpc_addrs_add(out, s, strlen(s));
        }
        chat_list_free(l);
    }
    if (rv == CHAT_OK && out->n == 0)
        rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                        "no address for the %s service (set rpc.%s or run discovery)", name,
                        name);
    return rv;
}

static chat_err pack_request(const chati_rpc_auth *auth, const chati_method *m,
                             const chat_session *s, const ProtobufCMessage *req, uint64_t id,
                             int64_t timeout_ms, nng_msg **out)
{
    Chat__Rpc__Request r = CHAT__RPC__REQUEST__INIT;
    r.method = m->id;
    r.request_id = id;
    r.caller = (char *)chati_rpc_auth_caller(auth);
    r.expires_ms = chati_rpc_auth_expiry(timeout_ms);
    /* 0 would mean "no limit". */
    r.timeout_ms = timeout_ms < 1 ? 1 : timeout_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)timeout_ms;
    if (s != NULL) {
        /* protobuf-c only reads these. */
        r.user_id = (char *)s->user_id;
        r.team_id = (char *)s->team_id;
        r.is_admin = s->is_admin;
        r.token_kind = (uint32_t)s->kind;
        r.bot_id = (char *)s->bot_id;
        r.app_id = (char *)s->app_id;
        r.scopes = s->scopes;
    }
    nng_msg *msg;
    if (chati_rpc_frame(&r.base, 7, req, &msg) != 0)
        return chati_fail(CHAT_ERR_NOMEM, "request");
    chat_err rv = chati_rpc_auth_seal(auth, msg);
    if (rv != CHAT_OK) {
        nng_msg_free(msg);
        return rv;
    }
    *out = msg;
    return CHAT_OK;
}

static chat_err unpack_reply(const chati_method *m, nng_msg *msg, uint64_t id,
                             ProtobufCMessage **resp, bool *retryable)
{
    const char *name = chati_service_name(m->service);
    Chat__Rpc__Reply *rep = chat__rpc__reply__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
    if (rep == NULL)
        return chati_fail(CHAT_ERR_INTERNAL, "malformed RPC reply from the %s service", name);
    chat_err rv = CHAT_OK;
    *retryable = rep->retryable;
    if (rep->error && rep->error[0]) {
        rv = chat_err_from_name(rep->error);
        const char *detail = rep->detail ? rep->detail : "";
        if (rv == CHAT_OK)
            rv = CHAT_ERR_INTERNAL;
        if (rv == CHAT_ERR_INTERNAL && strcmp(rep->error, "internal_error") != 0)
            chati_fail(rv, "%s: %s", rep->error, detail);    /* a newer server's code */
        else
            chati_fail(rv, "%s", detail);
    } else if (rep->request_id != id) {
        rv = chati_fail(CHAT_ERR_INTERNAL, "%s reply for request %llu, expected %llu", m->name,
                        (unsigned long long)rep->request_id, (unsigned long long)id);
    } else {
        *resp = protobuf_c_message_unpack(m->resp, NULL, rep->body.len,
                                          rep->body.data ? rep->body.data : empty_bytes);
        if (*resp == NULL)
            rv = chati_fail(CHAT_ERR_INTERNAL, "malformed %s response from the %s service",
                            m->name, name);
    }
    chat__rpc__reply__free_unpacked(rep, NULL);
    return rv;
}

/* One request and its reply. *retryable: the server says it did not run the
 * method. */
static chat_err round_trip(rpc_svc *cl, peer *pr, const chati_method *m, const chat_session *s,
                           const ProtobufCMessage *req, int64_t deadline,
                           ProtobufCMessage **resp, bool *retryable, chati_rpc_call_info *info)
{
    *retryable = false;
    uint64_t id = atomic_fetch_add_explicit(&cl->next_id, 1, memory_order_relaxed);
    nng_msg *msg = NULL, *reply = NULL;
    unsigned flags = m->flags & CHATI_M_SAFE || m->done_err != CHAT_OK ? CHATI_RPC_SAFE : 0;
    /* A write with an idempotency key is safe to repeat: the store drops the
     * second. Give one to a request that has none, on a shallow copy. */
    const ProtobufCFieldDescriptor *kf = chati_method_key_field(m);
    ProtobufCMessage *keyed = NULL;
    char key[CHATI_IDEMPOTENCY_KEY_LEN + 1];
    if (kf) {
        char *const *v = (char *const *)((const char *)req + kf->offset);
        if (*v == NULL || **v == '\0') {
            if ((keyed = chat_malloc(m->req->sizeof_message)) == NULL)
                return chati_fail(CHAT_ERR_NOMEM, "request");
            memcpy(keyed, req, m->req->sizeof_message);
            chati_idempotency_key(NULL, key);
            *(char **)((char *)keyed + kf->offset) = key;
            req = keyed;
        }
        flags |= CHATI_RPC_SAFE;
    }
    chat_err rv = pack_request(cl->auth, m, s, req, id, deadline - chati_mono_ms(), &msg);
    chat_free(keyed); /* shallow: its strings are the caller's, and key */
    if (rv == CHAT_OK)
        rv = chati_rpc_client_call(pr->client, m->name, msg, deadline, flags, &reply, info);
    if (rv == CHAT_OK) {
        rv = unpack_reply(m, reply, id, resp, retryable);
        nng_msg_free(reply);
    }
    if (info->resent && rv != CHAT_OK && rv == m->done_err) {
        /* The first server did it before it died: the outcome the caller
         * would have had. */
        chati_clear_errmsg();
        if ((*resp = chati_pb_new(m->resp)) == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "response");
        rv = CHAT_OK;
    }
    return rv;
}

static chat_err rpc_call(void *impl, const chati_method *m, const chat_session *s,
                         const ProtobufCMessage *req, int timeout_ms, ProtobufCMessage **resp)
{
    rpc_svc *cl = impl;
    *resp = NULL;
    chati_clear_errmsg();
    if (m == NULL || req == NULL || (unsigned)m->service >= CHATI_SVC__COUNT || m->resp == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "bad method or request");
    if (m->req != NULL && req->descriptor != m->req)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "request does not match %s", m->name);
    if (!(m->flags & CHATI_M_NO_AUTH) && (s == NULL || s->user_id[0] == '\0'))
        return chati_fail(CHAT_ERR_NOT_AUTHED, "%s needs a session", m->name);
    if (timeout_ms <= 0)
        timeout_ms = DEFAULT_TIMEOUT_MS;
    int64_t deadline = chati_mono_ms() + timeout_ms;
    peer *pr = &cl->peers[m->service];
    bool retryable = false;
    chati_rpc_call_info info = {NULL, NULL, false};
    for (int attempt = 0;; attempt++) {
        chat_err rv = round_trip(cl, pr, m, s, req, deadline, resp, &retryable, &info);
        if (rv == CHAT_OK || !retryable)
            return rv;
        /* A stopping server: out of routing, and the call goes elsewhere. */
        chati_rpc_client_refused(pr->client, info.server);
        info.avoid = info.server;
        if (attempt >= MAX_RETRIES || chati_rpc_client_live(pr->client) < 1 ||
            chati_mono_ms() >= deadline)
            return rv;
    }
}

static void rpc_close(void *impl)
{
    rpc_svc *cl = impl;
    for (int i = 0; i < CHATI_SVC__COUNT; i++)
        chati_rpc_client_free(cl->peers[i].client);
    chati_rpc_auth_free(cl->auth);
    chat_free(cl);
}

static const chati_svc_ops rpc_ops = {rpc_call, rpc_close};

chat_err chati_svc_rpc(chat_ctx *ctx, chati_svc **out)
{
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no output");
    *out = NULL;
    if (ctx == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no context");
    rpc_svc *cl = chat_calloc(1, sizeof *cl);
    chati_svc *svc = chat_calloc(1, sizeof *svc);
    chat_err rv = cl && svc ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "rpc client");
    if (rv == CHAT_OK) {
        cl->ctx = ctx;
        uint64_t seed = 0;
        chati_random(&seed, sizeof seed);
        atomic_init(&cl->next_id, (seed >> 1) | 1);
    }
    if (rv == CHAT_OK)
        rv = chati_rpc_auth_new(ctx, &cl->auth);
    chati_rpc_tls tls;
    chati_rpc_tls_from_config(ctx->cfg, &tls);
    Chat__Rpc__Request health = CHAT__RPC__REQUEST__INIT; /* method 0 */
    health.request_id = 1;
    uint8_t frame[16];
    chati_rpc_probe probe = {frame, chat__rpc__request__pack(&health, frame), probe_ok, NULL};
    for (int i = 0; rv == CHAT_OK && i < CHATI_SVC__COUNT; i++) {
        cl->peers[i].owner = cl;
        cl->peers[i].svc = (chati_service)i;
        rv = chati_rpc_client_new(chati_service_name((chati_service)i), resolve, &cl->peers[i],
                                  &tls, &probe, &cl->peers[i].client);
    }
    if (rv != CHAT_OK) {
        if (cl)
            rpc_close(cl);
        chat_free(svc);
        return rv;
    }
    svc->ops = &rpc_ops;
    svc->impl = cl;
    *out = svc;
    return CHAT_OK;
}
