/*
 * libchat/rpc/rpc.h - the request/reply transport between libchat processes:
 * a server that takes requests on a pool of threads, and a client that calls
 * one group of servers, over TCP, TLS or a Unix socket (wire.h: framed
 * requests on pooled connections; nng_msg is only the buffer type). It moves
 * opaque messages and knows nothing of chat: what a request means, and how
 * replies and errors are encoded, belong to the API layer (libchat/api/),
 * which plugs in through a handler.
 *
 * Semantics: at most once. The client never resends a request that may have
 * reached a server on its own, so a request is never handled twice for one call; a
 * server that goes away during a call gives CHAT_ERR_SERVICE_UNAVAILABLE at
 * once, one that does not answer in time CHAT_ERR_TIMEOUT, and no call waits
 * longer than its deadline.
 *
 * Thread safety: a server or client is shared by every thread; start/stop,
 * new/free are not concurrent with other calls on the same object.
 */
#ifndef CHATI_RPC_RPC_H
#define CHATI_RPC_RPC_H

#include <protobuf-c/protobuf-c.h>

#include "core/internal.h"

struct nng_msg;

/* ---------------------------------------------------------------- TLS --- */

/* Mutual TLS for tls+tcp:// addresses: PEM files. Both ends present a
 * certificate the CA signed and refuse a peer that presents none or one
 * another CA signed (host names are not checked: see rpc/tls.c). */
typedef struct chati_rpc_tls {
    const char *ca_file;        /* the deployment's CA */
    const char *cert_file;      /* this process's certificate */
    const char *key_file;       /* its private key */
} chati_rpc_tls;

/* Whether url needs TLS ("tls+tcp://..."). The configuration itself is
 * read by chati_tls_conf_new (tls_session.h). */
bool chati_rpc_url_is_tls(const char *url);

/* ------------------------------------------------------------- server --- */

typedef struct chati_rpc_server chati_rpc_server;

/* What a server does with the requests it receives. req is borrowed (the
 * server frees it after the call); a reply returned is owned by the server,
 * which sends it. */
typedef struct chati_rpc_handler {
    /* Runs first for every request, also while every serving thread is busy,
     * and must not block: returns true with *reply set to answer req at once
     * (a health check, a malformed request), false to have serve() run it.
     * With stopping true the server takes no more work: triage must answer
     * (a refusal), or the request is dropped. */
    bool (*triage)(void *arg, struct nng_msg *req, bool stopping, struct nng_msg **reply);
    /* May block (at most opts->threads run at once): the reply to req, NULL
     * to drop it (the caller then times out). recv_us: chati_mono_us() when
     * req came. */
    struct nng_msg *(*serve)(void *arg, struct nng_msg *req, int64_t recv_us);
    void *arg;
} chati_rpc_handler;

typedef struct chati_rpc_server_opts {
    int workers;            /* connections served at once (each carries one request
                               at a time; more are closed at once), 1..65536 */
    int threads;            /* threads running serve(), 1..256 */
    int drain_ms;           /* how long stop waits for requests in flight; 0: 10000 */
    size_t recv_max;        /* largest request accepted; 0: 256 MiB */
    const chati_rpc_tls *tls;   /* for a tls+tcp:// listen_url; read during start */
} chati_rpc_server_opts;

/* Listens on listen_url ("tcp://0.0.0.0:7101", "tls+tcp://...",
 * "ipc:///run/chat/auth.sock"); requests are read, triaged and served by a
 * pool of opts->threads + 1 threads. h is copied. On success *out is the
 * server, to stop with chati_rpc_server_stop(); on failure *out is NULL and
 * the detail says why (an address in use gives service_unavailable, a bad
 * URL invalid_config). */
chat_err chati_rpc_server_start(const char *listen_url, const chati_rpc_server_opts *opts,
                                const chati_rpc_handler *h, chati_rpc_server **out);

/* The URL the server listens on, with the port it got when listen_url asked
 * for port 0 ("tcp://127.0.0.1:0" -> "tcp://127.0.0.1:41234"): the address to
 * announce. Owned by the server. */
const char *chati_rpc_server_url(const chati_rpc_server *srv);

/* Requests the server has answered or dropped, for tests and status. */
uint64_t chati_rpc_server_served(const chati_rpc_server *srv);

/* Stops: from now on requests go to triage() with stopping set; waits for
 * the requests already taken to be answered, at most drain_ms; then closes
 * the socket and frees the server. A serve() still running then is waited
 * for (its reply is dropped). NULL is a no-op. */
void chati_rpc_server_stop(chati_rpc_server *srv);

/* ------------------------------------------------------------- client --- */

/* A list of addresses ("tcp://10.0.0.5:7101"). */
typedef struct chati_rpc_addrs {
    char **v;
    size_t n;
} chati_rpc_addrs;

/* Adds s[0..len) trimmed of blanks (nothing when blank). */
chat_err chati_rpc_addrs_add(chati_rpc_addrs *a, const char *s, size_t len);
/* Adds each comma-separated address of list. */
chat_err chati_rpc_addrs_add_list(chati_rpc_addrs *a, const char *list);
void chati_rpc_addrs_free(chati_rpc_addrs *a);

/* Where the servers are: fills *out (empty on entry) with the addresses to
 * dial. *dynamic: they may change, so ask again every few seconds (and at
 * once when none connects). Called on the calling thread of a call, never
 * with a lock of the client held. */
typedef chat_err (*chati_rpc_resolve_fn)(void *arg, chati_rpc_addrs *out, bool *dynamic);

typedef struct chati_rpc_client chati_rpc_client;

/* How the client asks each server whether it is healthy: frame is sent to
 * every address every 500 ms; ok() says whether a reply means healthy (it
 * runs on the client's probe thread; reply is borrowed). No reply within a
 * second is unhealthy too. */
typedef struct chati_rpc_probe {
    const void *frame;          /* copied */
    size_t len;
    bool (*ok)(void *arg, struct nng_msg *reply);
    void *arg;                  /* must outlive the client */
} chati_rpc_probe;

/* A client of one group of servers, named name (for error messages: "the
 * <name> service"). Dials nothing until the first call. resolve and arg are
 * kept (arg must outlive the client); tls (may be NULL; its files are read
 * now) is used for tls+tcp:// addresses, which fail to dial without it;
 * probe (may be NULL: no health probes) is copied.
 *
 * Each address gets a pool of connections, one per call in flight (dialed
 * by the calling thread, kept for the next call). A call goes to the
 * healthy address with the fewest calls in flight. An address leaves routing
 * when a call on it loses its connection or times out, or when it fails a
 * probe, and comes back when it passes one or connects anew; one that
 * refuses a connection is not dialed again for 50-500 ms; an address the
 * resolver no longer gives takes no new call and its idle connections are
 * closed. */
chat_err chati_rpc_client_new(const char *name, chati_rpc_resolve_fn resolve, void *arg,
                              const chati_rpc_tls *tls, const chati_rpc_probe *probe,
                              chati_rpc_client **out);
void chati_rpc_client_free(chati_rpc_client *cl);

/* The request is safe to run twice (a read, or a write with an idempotency
 * key): when its server goes away during the call, it is sent once more to
 * another server. */
#define CHATI_RPC_SAFE 0x1u

/* About one call (may be NULL). */
typedef struct chati_rpc_call_info {
    const void *avoid;          /* in: a server not to send to (one that refused), or NULL */
    const void *server;         /* out: the server that answered (opaque) */
    bool resent;                /* out: the reply came from a second attempt, after the
                                   first server died mid-call */
} chati_rpc_call_info;

/* Sends req (always taken) to one server and waits for its reply, until
 * deadline_ms (chati_mono_ms() time). what names the call in errors; flags
 * are CHATI_RPC_*. On success *reply is the reply, owned by the caller
 * (nng_msg_free).
 *
 * Errors: what resolve returned; service_unavailable when no address is
 * known, no server connects within 300 ms, or the connection drops during
 * the call (and, for a safe request, again on a second server);
 * request_timeout when no reply comes by the deadline. */
chat_err chati_rpc_client_call(chati_rpc_client *cl, const char *what, struct nng_msg *req,
                               int64_t deadline_ms, unsigned flags, struct nng_msg **reply,
                               chati_rpc_call_info *info);

/* The server (info->server) refused a call without running it (it is
 * stopping): it takes no more calls until it passes a probe. */
void chati_rpc_client_refused(chati_rpc_client *cl, const void *server);

/* Healthy, connected servers right now (a retry elsewhere needs two). */
size_t chati_rpc_client_live(chati_rpc_client *cl);

/* -------------------------------------------------------------- frames --- */

/* Packs head followed by field body_field holding body (may be NULL)
 * straight into a new nng message, without packing body into a bytes field
 * first (legal protobuf: fields may come in any order). 0 or an nng error. */
int chati_rpc_frame(const ProtobufCMessage *head, unsigned body_field,
                    const ProtobufCMessage *body, struct nng_msg **out);

#endif
