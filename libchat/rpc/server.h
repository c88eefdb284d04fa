/*
 * libchat/rpc/server.h - the nng RPC transport: the server loop every chat-*d
 * runs, and the service client (chati_svc) that calls it.
 *
 * The wire: one nng REQ/REP message per call, holding a chat.rpc.Request or
 * chat.rpc.Reply (libchat/proto/rpc.proto) around the method's own packed
 * protobuf message.
 *
 * Semantics: at most once. The client never resends a request (nng's REQ
 * resend timer is off), so a method never runs twice for one call; a server
 * that goes away during a call gives CHAT_ERR_SERVICE_UNAVAILABLE at once, one
 * that does not answer in time CHAT_ERR_TIMEOUT, and no call waits longer than
 * its timeout.
 */
#ifndef CHATI_RPC_SERVER_H
#define CHATI_RPC_SERVER_H

#include "rpc/svc.h"

/* Method id 0, "health": answered by every RPC server itself (an empty reply,
 * or service_unavailable while it is stopping), for readiness checks. */
#define CHATI_RPC_HEALTH 0u

/* A health method to call service svc with (request and response are
 * chat.rpc.Empty). Through the direct service client it answers OK at once.
 * NULL for an unknown svc. Static storage. */
const chati_method *chati_rpc_health_method(chati_service svc);

/* ---- server ---- */

typedef struct chati_rpc_server chati_rpc_server;

/* Runs one method for the server: what chati_method_call does (the default).
 * Tests put a hook here to slow methods down or fail them. */
typedef chat_err (*chati_rpc_call_fn)(void *arg, chat_ctx *ctx, const chati_method *m,
                                      const chat_session *s, const ProtobufCMessage *req,
                                      ProtobufCMessage **resp);

typedef struct chati_rpc_server_opts {
    int threads;            /* threads running handlers; 0: config "server.rpc_threads",
                               else min(workers, max(8, 4 x CPUs)) */
    int drain_ms;           /* how long stop waits for in-flight requests [10000] */
    chati_rpc_call_fn call; /* NULL: chati_method_call */
    void *call_arg;
} chati_rpc_server_opts;

/* Listens on listen_url ("tcp://0.0.0.0:7101", "inproc://x", ...) with a REP
 * socket and `workers` nng contexts (1..4096), so up to `workers` requests are
 * taken at once; their handlers run on a pool of threads (they may block on
 * storage or password hashing), never on nng's threads. Every method of the
 * table is served; chati_method_call refuses those of services ctx does not
 * run (service_unavailable). Requests are logged to stderr, one line each,
 * when the environment has CHAT_LOG_LEVEL=debug.
 *
 * ctx is not owned and must outlive the server. On success *out is the
 * server, to stop with chati_rpc_server_stop(); on failure *out is NULL and
 * the detail says why (an address in use gives service_unavailable, a bad URL
 * invalid_config). */
chat_err chati_rpc_server_start(chat_ctx *ctx, const char *listen_url, int workers,
                                chati_rpc_server **out);
/* The same with options (NULL: defaults). */
chat_err chati_rpc_server_start_opts(chat_ctx *ctx, const char *listen_url, int workers,
                                     const chati_rpc_server_opts *opts,
                                     chati_rpc_server **out);

/* The URL the server listens on, with the port it got when listen_url asked
 * for port 0 ("tcp://127.0.0.1:0" -> "tcp://127.0.0.1:41234"): the address to
 * announce. Owned by the server. */
const char *chati_rpc_server_url(const chati_rpc_server *srv);

/* Requests the server has answered (any outcome), for tests and status. */
uint64_t chati_rpc_server_served(const chati_rpc_server *srv);

/* Stops: from now on requests (health included) are answered
 * service_unavailable; waits for the requests already taken to be answered, at
 * most drain_ms; then closes the socket and frees the server. A handler still
 * running then is waited for (its reply is dropped). Not concurrently with
 * another call on srv. NULL is a no-op. */
void chati_rpc_server_stop(chati_rpc_server *srv);

/* Packs an RPC frame (head, a chat.rpc.Request or Reply without its body)
 * followed by field body_field holding body (may be NULL), packed straight
 * into a new nng message. 0 or an nng error. Shared by server and client. */
struct nng_msg;
int chati_rpc_frame(const ProtobufCMessage *head, unsigned body_field,
                    const ProtobufCMessage *body, struct nng_msg **out);

/* ---- client ---- */

/* The nng RPC service client. Each service's address list is config
 * "rpc.<service>" ("tcp://10.0.0.5:7101,tcp://10.0.0.6:7101") or else what
 * ctx->discovery finds for the service name (looked up again every few
 * seconds, and at once when no server is reachable). One REQ socket per
 * service dials every address; nng spreads calls over the live ones and
 * skips dead ones. Calls run concurrently (one nng context each, no lock held
 * across a round trip). timeout_ms <= 0 means 10 s.
 *
 * Errors: the remote error with its detail; service_unavailable when no
 * address is known, no server connects within min(timeout, 300 ms), or the
 * connection drops during the call; request_timeout when the server does not
 * answer in time. ctx is not owned (cfg and discovery are read from it) and
 * must outlive the client. Free *out with chati_svc_close(). */
chat_err chati_svc_rpc(chat_ctx *ctx, chati_svc **out);

#endif
