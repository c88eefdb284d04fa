/* The method table served over the RPC transport: chat.rpc frames in, a
 * method run in a chat_ctx, chat.rpc frames out. */
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <nng/nng.h>

#include "api/rpc_auth.h"
#include "api/serve.h"
#include "api/svc.h"
#include "domain/ctx.h"
#include "rpc.pb-c.h"
#include "rpc/rpc.h"

#define MAX_THREADS 256
/* Largest frame accepted: a file upload travels in one request. */
#define MIN_RECV_MAX (256u << 20)

struct chati_api_server {
    chat_ctx *ctx;
    chati_rpc_auth *auth;       /* checks every request's signature */
    _Atomic int64_t refusal_log_s;  /* last second a refusal was logged */
    _Atomic uint32_t refusals_unlogged;
    chati_api_server_opts opts;
    chati_rpc_server *rpc;
    bool debug;
};

static const uint8_t empty_bytes[1];

/* ---- health descriptors (shared with the client side) ---- */

#define HEALTH_ROW(svc)                                                                    \
    {CHATI_RPC_HEALTH, "health", svc, CHATI_M_NO_AUTH, &chat__rpc__empty__descriptor,      \
     &chat__rpc__empty__descriptor, NULL}
static const chati_method health_methods[CHATI_SVC__COUNT] = {
    HEALTH_ROW(CHATI_SVC_AUTH),    HEALTH_ROW(CHATI_SVC_USER),     HEALTH_ROW(CHATI_SVC_CHANNEL),
    HEALTH_ROW(CHATI_SVC_MESSAGE), HEALTH_ROW(CHATI_SVC_PRESENCE),
};

const chati_method *chati_rpc_health_method(chati_service svc)
{
    return (unsigned)svc < CHATI_SVC__COUNT ? &health_methods[svc] : NULL;
}

/* ---- frames ---- */

/* A reply frame; NULL when memory runs out. */
static nng_msg *make_reply(uint64_t request_id, chat_err err, const char *detail,
                           const ProtobufCMessage *body, bool retryable)
{
    Chat__Rpc__Reply r = CHAT__RPC__REPLY__INIT;
    r.request_id = request_id;
    /* protobuf-c only reads these strings. */
    r.error = (char *)(err == CHAT_OK ? "" : chat_err_name(err));
    r.detail = (char *)(err == CHAT_OK || detail == NULL ? "" : detail);
    r.retryable = retryable;
    nng_msg *msg = NULL;
    if (chati_rpc_frame(&r.base, 4, err == CHAT_OK ? body : NULL, &msg) != 0)
        return NULL;
    return msg;
}

static void log_request(chati_api_server *srv, const char *name, uint32_t id, int64_t recv_us,
                        chat_err err, const char *detail)
{
    if (!srv->debug)
        return;
    double ms = (double)(chati_mono_us() - recv_us) / 1000.0;
    char idbuf[24];
    if (name == NULL) {
        snprintf(idbuf, sizeof idbuf, "#%u", id);
        name = idbuf;
    }
    fprintf(stderr, "chat-rpc: %s %.2f ms %s%s%s\n", name, ms, chat_err_name(err),
            err != CHAT_OK && detail && *detail ? ": " : "",
            err != CHAT_OK && detail ? detail : "");
}

/* The method id of a frame without unpacking it: protobuf-c writes fields in
 * number order, so a non-zero `method` (field 1, varint) comes first. false
 * when the frame does not start that way (health, where method 0 is omitted,
 * or another encoder): then it is unpacked to find out. */
static bool peek_method(nng_msg *msg, uint32_t *method)
{
    const uint8_t *p = nng_msg_body(msg);
    size_t n = nng_msg_len(msg);
    if (n < 2 || p[0] != 0x08)
        return false;
    uint64_t v = 0;
    for (size_t i = 1; i < n && i < 6; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * (i - 1));
        if (!(p[i] & 0x80)) {
            *method = (uint32_t)v;
            return v != 0 && v <= UINT32_MAX;
        }
    }
    return false;
}

static Chat__Rpc__Request *unpack_request(nng_msg *msg)
{
    return chat__rpc__request__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
}

/* ---- on nng's thread: what needs no method ---- */

static bool triage(void *arg, nng_msg *msg, bool stopping, nng_msg **reply)
{
    chati_api_server *srv = arg;
    int64_t now = chati_mono_us();
    uint32_t method;
    if (!stopping && peek_method(msg, &method))
        return false;   /* the common case: a worker unpacks and runs it */
    Chat__Rpc__Request *rq = unpack_request(msg);
    if (rq == NULL) {
        *reply = make_reply(0, CHAT_ERR_INVALID_ARGUMENTS, "malformed RPC frame", NULL, false);
        log_request(srv, "(malformed)", 0, now, CHAT_ERR_INVALID_ARGUMENTS, NULL);
    } else if (stopping) {
        /* Not run: another server may take it. */
        *reply = make_reply(rq->request_id, CHAT_ERR_SERVICE_UNAVAILABLE,
                            "the server is stopping", NULL, true);
        log_request(srv, rq->method == CHATI_RPC_HEALTH ? "health" : NULL, rq->method, now,
                    CHAT_ERR_SERVICE_UNAVAILABLE, "stopping");
    } else if (rq->method == CHATI_RPC_HEALTH) {
        Chat__Rpc__Empty empty = CHAT__RPC__EMPTY__INIT;
        *reply = make_reply(rq->request_id, CHAT_OK, NULL, &empty.base, false);
        log_request(srv, "health", 0, now, CHAT_OK, NULL);
    } else {
        chat__rpc__request__free_unpacked(rq, NULL);
        return false;
    }
    chat__rpc__request__free_unpacked(rq, NULL);
    return true;
}

/* Logs a refused request: always (an attack or a misconfiguration), but at
 * most one line a second, counting the ones left out. */
static void log_refusal(chati_api_server *srv, nng_msg *msg, const Chat__Rpc__Request *rq,
                        const char *detail)
{
    int64_t now_s = chati_mono_ms() / 1000;
    int64_t last = atomic_load(&srv->refusal_log_s);
    if (last == now_s || !atomic_compare_exchange_strong(&srv->refusal_log_s, &last, now_s)) {
        atomic_fetch_add(&srv->refusals_unlogged, 1);
        return;
    }
    char from[64] = "?";
    nng_sockaddr sa;
    nng_pipe p = nng_msg_get_pipe(msg);
    if (nng_pipe_id(p) > 0 && nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) == 0) {
        if (sa.s_family == NNG_AF_INET) {
            const uint8_t *a = (const uint8_t *)&sa.s_in.sa_addr;
            snprintf(from, sizeof from, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3],
                     (unsigned)ntohs(sa.s_in.sa_port));
        } else if (sa.s_family == NNG_AF_INPROC) {
            snprintf(from, sizeof from, "inproc");
        }
    }
    const chati_method *m = chati_method_by_id(rq->method);
    uint32_t skipped = atomic_exchange(&srv->refusals_unlogged, 0);
    char name[48];
    if (m)
        snprintf(name, sizeof name, "%s", m->name);
    else
        snprintf(name, sizeof name, "method #%u", rq->method);
    fprintf(stderr, "chat-rpc: refused %s from %s (caller \"%.16s\"): %s", name, from,
            rq->caller ? rq->caller : "", detail);
    if (skipped)
        fprintf(stderr, " (and %u more refusals not logged)", skipped);
    fputc('\n', stderr);
}

/* ---- on a worker: the method ---- */

static bool fits_id(const char *s)
{
    return s == NULL || strlen(s) < CHAT_ID_SIZE;
}

static chat_err run_method(chati_api_server *srv, const chati_method *m,
                           const Chat__Rpc__Request *rq, ProtobufCMessage **resp)
{
    chat_session *s = NULL;
    if (rq->user_id && rq->user_id[0]) {
        if (!fits_id(rq->user_id) || !fits_id(rq->team_id))
            return chati_fail(CHAT_ERR_INVALID_AUTH, "session ids in the request are too long");
        if ((s = chati_session_make(rq->user_id, rq->team_id, rq->is_admin)) == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "session");
        if (!chati_session_set_app(s, rq->token_kind, rq->bot_id, rq->app_id, rq->scopes)) {
            chat_session_free(s);
            return chati_fail(CHAT_ERR_INVALID_AUTH, "the app in the request is malformed");
        }
    } else if (!(m->flags & CHATI_M_NO_AUTH)) {
        return chati_fail(CHAT_ERR_NOT_AUTHED, "%s needs a session", m->name);
    }
    ProtobufCMessage *req = protobuf_c_message_unpack(
        m->req, NULL, rq->body.len, rq->body.data ? rq->body.data : empty_bytes);
    chat_err rv;
    if (req == NULL) {
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "malformed %s request body", m->name);
    } else if (srv->opts.call != NULL) {
        rv = srv->opts.call(srv->opts.call_arg, srv->ctx, m, s, req, resp);
    } else {
        rv = chati_method_call(srv->ctx, m, s, req, resp);
    }
    if (rv != CHAT_OK && *resp != NULL) {
        protobuf_c_message_free_unpacked(*resp, NULL);
        *resp = NULL;
    }
    if (req)
        protobuf_c_message_free_unpacked(req, NULL);
    chat_session_free(s);
    return rv;
}

static nng_msg *serve(void *arg, nng_msg *msg, int64_t recv_us)
{
    chati_api_server *srv = arg;
    Chat__Rpc__Request *rq = unpack_request(msg);
    if (rq == NULL) {
        log_request(srv, "(malformed)", 0, recv_us, CHAT_ERR_INVALID_ARGUMENTS, NULL);
        return make_reply(0, CHAT_ERR_INVALID_ARGUMENTS, "malformed RPC frame", NULL, false);
    }
    const chati_method *m = rq->method == CHATI_RPC_HEALTH ? NULL : chati_method_by_id(rq->method);
    ProtobufCMessage *resp = NULL;
    chat_err rv;
    chati_clear_errmsg();
    int64_t waited_ms = (chati_mono_us() - recv_us) / 1000;
    if (rq->timeout_ms > 0 && waited_ms >= (int64_t)rq->timeout_ms)
        rv = chati_fail(CHAT_ERR_TIMEOUT,
                        "not started: waited %lld ms in the server's queue (timeout %u ms)",
                        (long long)waited_ms, rq->timeout_ms);
    else if ((rv = chati_rpc_auth_check(srv->auth, msg)) != CHAT_OK ||
             (rv = chati_rpc_auth_check_expiry(rq, chati_now_ms())) != CHAT_OK)
        log_refusal(srv, msg, rq, chati_errmsg());
    else if (m == NULL)
        rv = chati_fail(CHAT_ERR_UNKNOWN_METHOD, "unknown method id %u", rq->method);
    else
        rv = run_method(srv, m, rq, &resp);
    const char *detail = rv == CHAT_OK ? NULL : chati_errmsg();
    nng_msg *reply = make_reply(rq->request_id, rv, detail, resp, false);
    log_request(srv, m ? m->name : NULL, rq->method, recv_us, rv, detail);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    chat__rpc__request__free_unpacked(rq, NULL);
    return reply;
}

/* ---- start / stop ---- */

static chat_err default_threads(const chat_ctx *ctx, int workers, int *out)
{
    int64_t n = 0;
    chat_err rv = chati_config_int(ctx->cfg, "server.rpc_threads", 0, 1, MAX_THREADS, &n);
    if (rv != CHAT_OK)
        return rv;
    if (n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? 4 * cpus : 8;
        if (n < 8)
            n = 8;
    }
    if (n > workers)
        n = workers;
    *out = n > MAX_THREADS ? MAX_THREADS : (int)n;
    return CHAT_OK;
}

chat_err chati_api_server_start(chat_ctx *ctx, const char *listen_url, int workers,
                                const chati_api_server_opts *opts, chati_api_server **out)
{
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no output");
    *out = NULL;
    if (ctx == NULL || listen_url == NULL || *listen_url == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "rpc server needs a context and a URL");
    if (workers < 1 || workers > 4096)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "rpc workers must be 1..4096, not %d",
                          workers);
    chati_api_server *srv = chat_calloc(1, sizeof *srv);
    if (srv == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "rpc server");
    srv->ctx = ctx;
    if (opts)
        srv->opts = *opts;
    const char *lvl = getenv("CHAT_LOG_LEVEL");
    srv->debug = lvl && strcasecmp(lvl, "debug") == 0;
    chati_rpc_tls tls;
    chati_rpc_tls_from_config(ctx->cfg, &tls);
    chati_rpc_server_opts ro = {workers, srv->opts.threads, srv->opts.drain_ms, MIN_RECV_MAX,
                                &tls};
    chat_err rv = chati_rpc_auth_new(ctx, &srv->auth);
    if (rv != CHAT_OK) {
        chat_free(srv);
        return rv;
    }
    if (ro.threads <= 0 && (rv = default_threads(ctx, workers, &ro.threads)) != CHAT_OK) {
        chati_rpc_auth_free(srv->auth);
        chat_free(srv);
        return rv;
    }
    if (ro.threads > MAX_THREADS)
        ro.threads = MAX_THREADS;
    if (ctx->files_max_bytes > 0 && (uint64_t)ctx->files_max_bytes + (1u << 20) > ro.recv_max)
        ro.recv_max = (size_t)ctx->files_max_bytes + (1u << 20);
    chati_rpc_handler h = {triage, serve, srv};
    rv = chati_rpc_server_start(listen_url, &ro, &h, &srv->rpc);
    if (rv != CHAT_OK) {
        chati_rpc_auth_free(srv->auth);
        chat_free(srv);
        return rv;
    }
    *out = srv;
    return CHAT_OK;
}

const char *chati_api_server_url(const chati_api_server *srv)
{
    return srv ? chati_rpc_server_url(srv->rpc) : "";
}

uint64_t chati_api_server_served(const chati_api_server *srv)
{
    return srv ? chati_rpc_server_served(srv->rpc) : 0;
}

void chati_api_server_stop(chati_api_server *srv)
{
    if (srv == NULL)
        return;
    chati_rpc_server_stop(srv->rpc);
    chati_rpc_auth_free(srv->auth);
    chat_free(srv);
}
