/*
 * tests/unit/test_rpc.c - the nng RPC transport: server, client, direct client.
 *
 * Calls go to the real method table (api.test, which echoes `foo` and fails
 * with the error it is asked for) on a real chat_ctx; a server hook slows
 * api.test down ("sleep:<ms>") or reports the session ("whoami"). The crash
 * test runs a server in a child process: this program started again with
 * "--serve URL DIR FD"; it writes a byte to FD when it listens and when a
 * slow call reaches it.
 *
 * Tests never sleep to let something happen: they wait for it (a slow call
 * in its handler, a reply counted, a refusal) with a deadline, and fail
 * saying what did not happen.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>

#include "api.pb-c.h"
#include "backends/builtin.h"
#include "domain/ctx.h"
#include "rpc.pb-c.h"
#include "api/rpc_auth.h"
#include "api/serve.h"
#include "api/svc.h"
#include "rpc/rpc.h"
#include "rpc/wire.h"

extern char **environ;

/* How long a test waits for something that should take milliseconds. */
#define WAIT_MS 10000
/* Every process of a deployment shares it: RPC frames are signed with a key from it. */
#define TEST_SECRET "unit-rpc-shared-secret-0123"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* ---- the server side: a real context and a hook around the handlers ---- */

typedef struct hook {
    atomic_int calls;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* monotonic (chati_cond_init) */
    int entered;            /* slow ("sleep:") calls that reached the hook */
    int notify_fd;          /* >= 0 (the crash test's child): a byte 'E' per slow call */
} hook;

/* 0 or an errno (the child's server asserts nothing). */
static int hook_init(hook *h, int notify_fd)
{
    atomic_init(&h->calls, 0);
    h->entered = 0;
    h->notify_fd = notify_fd;
    int e = pthread_mutex_init(&h->mu, NULL);
    if (e == 0 && (e = chati_cond_init(&h->cv)) != 0)
        pthread_mutex_destroy(&h->mu);
    return e;
}

static void hook_destroy(hook *h)
{
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
}

/* A slow call is in its handler, about to sleep. */
static void hook_enter(hook *h)
{
    pthread_mutex_lock(&h->mu);
    h->entered++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    if (h->notify_fd >= 0 && write(h->notify_fd, "E", 1) != 1)
        perror("serve: notify");
}

/* Waits until n slow calls have reached the server's handlers. */
static void hook_wait_entered(hook *h, int n)
{
    int64_t until = chati_mono_ms() + WAIT_MS;
    pthread_mutex_lock(&h->mu);
    while (h->entered < n && chati_cond_wait_until(&h->cv, &h->mu, until))
        ;
    int got = h->entered;
    pthread_mutex_unlock(&h->mu);
    ck_assert_msg(got >= n, "%d of %d slow calls reached the server's handlers within %d ms", got,
                  n, WAIT_MS);
}

static chat_err test_call(void *arg, chat_ctx *ctx, const chati_method *m, const chat_session *s,
                          const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    hook *h = arg;
    if (h)
        atomic_fetch_add(&h->calls, 1);
    if (req->descriptor == &chat__api__api_test_request__descriptor) {
        const Chat__Api__ApiTestRequest *r = (const void *)req;
        if (r->foo && strncmp(r->foo, "sleep:", 6) == 0) {
            if (h)
                hook_enter(h);
            sleep_ms(atoi(r->foo + 6));   /* the slowness is the point of the test */
        }
        if (r->foo && strcmp(r->foo, "whoami") == 0) {
            Chat__Api__ApiTestResponse *out = (void *)chati_pb_new(m->resp);
            out->args = (void *)chati_pb_new(&chat__api__api_test_args__descriptor);
            char buf[128];
            snprintf(buf, sizeof buf, "%s|%s|%d", s ? s->user_id : "-", s ? s->team_id : "-",
                     s ? s->is_admin : 0);
            out->args->foo = chat_strdup(buf);
            *resp = &out->base;
            return CHAT_OK;
        }
    }
    return chati_method_call(ctx, m, s, req, resp);
}

static chat_ctx *open_ctx(const char *dir)
{
    chat_config *cfg = NULL;
    char err[256];
    ck_assert_chat_ok(chat_config_new(&cfg));
    ck_assert_chat_ok(chat_config_set(cfg, "data_dir", dir, err, sizeof err));
    ck_assert_chat_ok(chat_config_set(cfg, "jwt.secret", TEST_SECRET, err, sizeof err));
    ck_assert_chat_ok(chat_config_set(cfg, "argon2.m_cost_kib", "64", err, sizeof err));
    ck_assert_chat_ok(chat_config_set(cfg, "argon2.t_cost", "1", err, sizeof err));
    chat_ctx *ctx = NULL;
    chat_err rv = chat_open(&ctx, cfg, err, sizeof err);
    ck_assert_msg(rv == CHAT_OK, "chat_open: %s", err);
    chat_config_free(cfg);
    return ctx;
}

typedef struct server_fx {
    char *dir;
    chat_ctx *ctx;
    chati_api_server *srv;
    hook h;
    const char *url;
} server_fx;

static void server_up(server_fx *f, const char *url, int workers, int threads)
{
    memset(f, 0, sizeof *f);
    f->dir = chat_test_tmpdir("rpc");
    f->ctx = open_ctx(f->dir);
    chati_api_server_opts o = {0};
    o.threads = threads;
    o.call = test_call;
    o.call_arg = &f->h;
    ck_assert_int_eq(hook_init(&f->h, -1), 0);
    ck_assert_chat_ok(chati_api_server_start(f->ctx, url, workers, &o, &f->srv));
    f->url = chati_api_server_url(f->srv);
}

static void server_down(server_fx *f)
{
    chati_api_server_stop(f->srv);
    chat_close(f->ctx);
    chat_test_rmtree(f->dir);
    hook_destroy(&f->h);
}

/* Waits until srv has answered n requests. It counts a request once the
 * reply has left, which may be just after the caller got it; nothing signals
 * that, so this polls. */
static void wait_served(const chati_api_server *srv, uint64_t n)
{
    int64_t until = chati_mono_ms() + WAIT_MS;
    uint64_t got;
    while ((got = chati_api_server_served(srv)) < n && chati_mono_ms() < until)
        sleep_ms(1);
    ck_assert_msg(got >= n, "the server counted %llu answered requests within %d ms, expected %llu",
                  (unsigned long long)got, WAIT_MS, (unsigned long long)n);
}

/* ---- the client side: a bare context with config (and discovery) only ---- */

static chat_ctx *client_ctx(const char *auth_addrs)
{
    chat_ctx *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    char err[256];
    ck_assert_chat_ok(chat_config_new(&c->cfg));
    ck_assert_chat_ok(chat_config_set(c->cfg, "jwt.secret", TEST_SECRET, err, sizeof err));
    if (auth_addrs)
        ck_assert_chat_ok(chat_config_set(c->cfg, "rpc.auth", auth_addrs, err, sizeof err));
    return c;
}

static void client_ctx_free(chat_ctx *c)
{
    if (c->discovery)
        c->discovery->close(c->discovery_impl);
    chat_config_free(c->cfg);
    free(c);
}

static chati_svc *rpc_client(chat_ctx *c)
{
    chati_svc *svc = NULL;
    ck_assert_chat_ok(chati_svc_rpc(c, &svc));
    return svc;
}

static const chati_method *api_test_method(void)
{
    const chati_method *m = chati_method_by_name("api.test");
    ck_assert_ptr_nonnull(m);
    return m;
}

/* api.test with foo (and error); *foo_out (may be NULL) gets the echo. */
static chat_err api_test(chati_svc *svc, const chat_session *s, const char *foo,
                         const char *error, int timeout_ms, char **foo_out)
{
    Chat__Api__ApiTestRequest rq = CHAT__API__API_TEST_REQUEST__INIT;
    rq.foo = (char *)foo;
    if (error)
        rq.error = (char *)error;
    ProtobufCMessage *resp = (void *)0x1;
    chat_err rv = chati_svc_call(svc, api_test_method(), s, &rq.base, timeout_ms, &resp);
    if (rv != CHAT_OK) {
        ck_assert_ptr_null(resp);
        return rv;
    }
    ck_assert_ptr_nonnull(resp);
    const Chat__Api__ApiTestResponse *r = (const void *)resp;
    ck_assert_ptr_eq(resp->descriptor, &chat__api__api_test_response__descriptor);
    if (foo_out)
        *foo_out = strdup(r->args && r->args->foo ? r->args->foo : "");
    protobuf_c_message_free_unpacked(resp, NULL);
    return CHAT_OK;
}

static chat_err health(chati_svc *svc, int timeout_ms)
{
    Chat__Rpc__Empty e = CHAT__RPC__EMPTY__INIT;
    ProtobufCMessage *resp = NULL;
    chat_err rv = chati_svc_call(svc, chati_rpc_health_method(CHATI_SVC_AUTH), NULL, &e.base,
                                 timeout_ms, &resp);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

static void check_echo(chati_svc *svc, const char *foo)
{
    char *got = NULL;
    ck_assert_chat_ok(api_test(svc, NULL, foo, NULL, 5000, &got));
    ck_assert_str_eq(got, foo);
    free(got);
}

/* ---- round trips ---- */

static void roundtrip(const char *listen)
{
    setenv("CHAT_LOG_LEVEL", "debug", 1);   /* one log line per request on stderr */
    server_fx f;
    server_up(&f, listen, 16, 0);
    unsetenv("CHAT_LOG_LEVEL");
    if (strncmp(listen, "tcp", 3) == 0) {
        size_t n = strlen(f.url);
        ck_assert_msg(n > 2 && strcmp(f.url + n - 2, ":0") != 0, "bound url %s", f.url);
    } else {
        ck_assert_str_eq(f.url, listen);
    }
    chat_ctx *c = client_ctx(f.url);
    chati_svc *svc = rpc_client(c);

    ck_assert_chat_ok(health(svc, 2000));
    check_echo(svc, "hello");
    check_echo(svc, "");
    /* A large body travels too. */
    char *big = malloc(300000);
    memset(big, 'x', 299999);
    big[299999] = '\0';
    check_echo(svc, big);
    free(big);

    /* The session crosses the wire. */
    chat_session *s = chati_session_make("UABCDEF1234", "TXYZ0000001", true);
    ck_assert_ptr_nonnull(s);
    char *who = NULL;
    ck_assert_chat_ok(api_test(svc, s, "whoami", NULL, 2000, &who));
    ck_assert_str_eq(who, "UABCDEF1234|TXYZ0000001|1");
    free(who);
    ck_assert_chat_ok(api_test(svc, NULL, "whoami", NULL, 2000, &who));
    ck_assert_str_eq(who, "-|-|0");
    free(who);
    chat_session_free(s);
    wait_served(f.srv, 6); /* and the client's health probes, every 500 ms */

    chati_svc_close(svc);
    client_ctx_free(c);
    server_down(&f);
}

START_TEST(roundtrip_tcp)
{
    roundtrip("tcp://127.0.0.1:0");
}
END_TEST

START_TEST(roundtrip_ipc)
{
    char *dir = chat_test_tmpdir("rpcipc");
    char url[512];
    snprintf(url, sizeof url, "ipc://%s/auth.sock", dir);
    roundtrip(url);
    chat_test_rmtree(dir);
}
END_TEST

START_TEST(direct_client_same_answers)
{
    char *dir = chat_test_tmpdir("rpc");
    chat_ctx *ctx = open_ctx(dir);
    chati_svc *svc = NULL;
    ck_assert_chat_ok(chati_svc_direct(ctx, &svc));
    check_echo(svc, "hello");
    ck_assert_chat_ok(health(svc, 1000));
    ck_assert_chat_err(api_test(svc, NULL, "x", "channel_not_found", 1000, NULL),
                       CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_str_eq(chat_last_errmsg(), "api.test was asked to fail");
    chati_svc_close(svc);
    chati_svc_close(NULL);
    chat_close(ctx);
    chat_test_rmtree(dir);
}
END_TEST

/* ---- errors ---- */

START_TEST(errors_cross_the_wire)
{
    server_fx f;
    server_up(&f, "tcp://127.0.0.1:0", 8, 0);
    chat_ctx *c = client_ctx(f.url);
    chati_svc *svc = rpc_client(c);

    ck_assert_chat_err(api_test(svc, NULL, "x", "channel_not_found", 2000, NULL),
                       CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_str_eq(chat_last_errmsg(), "api.test was asked to fail");
    ck_assert_chat_err(api_test(svc, NULL, "x", "ratelimited", 2000, NULL), CHAT_ERR_RATELIMITED);
    ck_assert_chat_err(api_test(svc, NULL, "x", "no_such_code", 2000, NULL),
                       CHAT_ERR_INVALID_ARGUMENTS);
    /* A method that needs a session is refused without one. */
    const chati_method *revoke = chati_method_by_name("auth.revoke");
    ck_assert_ptr_nonnull(revoke);
    Chat__Api__AuthRevokeRequest rr = CHAT__API__AUTH_REVOKE_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    ck_assert_chat_err(chati_svc_call(svc, revoke, NULL, &rr.base, 2000, &resp),
                       CHAT_ERR_NOT_AUTHED);
    ck_assert_ptr_null(resp);
    /* The next call is clean. */
    check_echo(svc, "after errors");

    chati_svc_close(svc);
    client_ctx_free(c);
    server_down(&f);
}
END_TEST

/* A connection of its own to url, the hello sent (no client pool). */
static chati_wire_conn raw_dial(const char *url)
{
    chati_wire_addr a;
    ck_assert_chat_ok(chati_wire_parse(url, &a));
    chati_wire_conn w;
    char why[128];
    ck_assert_int_eq(chati_wire_dial(&a, NULL, chati_mono_ms() + 3000, &w, why, sizeof why), 0);
    return w;
}

/* Sends one raw frame on a connection of its own; returns the decoded reply. */
static Chat__Rpc__Reply *raw_call(const char *url, const void *frame, size_t len)
{
    int64_t deadline = chati_mono_ms() + 3000;
    chati_wire_conn w = raw_dial(url);
    nng_msg *m = NULL;
    ck_assert_int_eq(nng_msg_alloc(&m, 0), 0);
    ck_assert_int_eq(nng_msg_append(m, frame, len), 0);
    ck_assert_int_eq(chati_wire_send(&w, m, deadline), 0);
    nng_msg_free(m);
    ck_assert_int_eq(chati_wire_recv(&w, 1u << 20, deadline, &m), 0);
    Chat__Rpc__Reply *r = chat__rpc__reply__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
    ck_assert_ptr_nonnull(r);
    nng_msg_free(m);
    chati_wire_close(&w);
    return r;
}

/* The signer of the test's deployment (TEST_SECRET), derived as chat_open does. */
static chati_rpc_auth *test_signer(const char *secret)
{
    uint8_t key[32];
    chati_sha256(secret, strlen(secret), key);
    chati_rpc_auth *a = NULL;
    ck_assert_chat_ok(chati_rpc_auth_from_key(key, sizeof key, "test", &a));
    return a;
}

/* A request frame, signed by signer when not NULL. */
static nng_msg *build_frame(uint32_t method, const char *user, bool admin, const void *body,
                            size_t body_len, int64_t expires_ms, const chati_rpc_auth *signer)
{
    Chat__Rpc__Request rq = CHAT__RPC__REQUEST__INIT;
    rq.method = method;
    rq.request_id = 77;
    rq.timeout_ms = 3000;
    rq.expires_ms = (uint64_t)expires_ms;
    rq.caller = "test";
    if (user) {
        rq.user_id = (char *)user;
        rq.team_id = "T0000000001";
        rq.is_admin = admin;
    }
    rq.body.data = (uint8_t *)body;
    rq.body.len = body_len;
    nng_msg *m = NULL;
    size_t n = chat__rpc__request__get_packed_size(&rq);
    ck_assert_int_eq(nng_msg_alloc(&m, n), 0);
    chat__rpc__request__pack(&rq, nng_msg_body(m));
    if (signer)
        ck_assert_chat_ok(chati_rpc_auth_seal(signer, m));
    return m;
}

static Chat__Rpc__Reply *raw_msg(const char *url, nng_msg *m)
{
    Chat__Rpc__Reply *r = raw_call(url, nng_msg_body(m), nng_msg_len(m));
    nng_msg_free(m);
    return r;
}

/* A signed request, valid for 10 s. */
static Chat__Rpc__Reply *raw_request(const char *url, uint32_t method, const char *user,
                                     const void *body, size_t body_len)
{
    chati_rpc_auth *a = test_signer(TEST_SECRET);
    nng_msg *m = build_frame(method, user, false, body, body_len, chati_now_ms() + 10000, a);
    chati_rpc_auth_free(a);
    return raw_msg(url, m);
}

static const char *whoami_body(size_t *len)
{
    static uint8_t buf[64];
    Chat__Api__ApiTestRequest rq = CHAT__API__API_TEST_REQUEST__INIT;
    rq.foo = "whoami";
    *len = chat__api__api_test_request__pack(&rq, buf);
    return (const char *)buf;
}

START_TEST(server_refuses_unsigned_forged_and_expired_frames)
{
    server_fx f;
    server_up(&f, "tcp://127.0.0.1:0", 4, 0);
    uint32_t api_test_id = api_test_method()->id;
    size_t blen;
    const char *body = whoami_body(&blen);
    chati_rpc_auth *good = test_signer(TEST_SECRET);
    chati_rpc_auth *other = test_signer("some-other-deployment-secret");
    int64_t soon = chati_now_ms() + 10000;

    /* Signed by the deployment: the claimed identity is taken. */
    Chat__Rpc__Reply *r =
        raw_msg(f.url, build_frame(api_test_id, "UADMIN00001", true, body, blen, soon, good));
    ck_assert_str_eq(r->error, "");
    chat__rpc__reply__free_unpacked(r, NULL);

    /* Unsigned, claiming admin: refused before anything runs. */
    int calls = atomic_load(&f.h.calls);
    r = raw_msg(f.url, build_frame(api_test_id, "UADMIN00001", true, body, blen, soon, NULL));
    ck_assert_str_eq(r->error, "not_authed");
    ck_assert_ptr_nonnull(strstr(r->detail, "not signed"));
    chat__rpc__reply__free_unpacked(r, NULL);
    /* Signed with another key. */
    r = raw_msg(f.url, build_frame(api_test_id, "UADMIN00001", true, body, blen, soon, other));
    ck_assert_str_eq(r->error, "invalid_auth");
    ck_assert_ptr_nonnull(strstr(r->detail, "signature"));
    chat__rpc__reply__free_unpacked(r, NULL);
    /* A signed frame changed afterwards (admin flag turned on). */
    nng_msg *m = build_frame(api_test_id, "UPLAIN00001", false, body, blen, soon, good);
    nng_msg *forged = build_frame(api_test_id, "UPLAIN00001", true, body, blen, soon, NULL);
    ck_assert_int_eq(nng_msg_append(forged, (uint8_t *)nng_msg_body(m) + nng_msg_len(m) - 34,
                                    34), 0);
    nng_msg_free(m);
    r = raw_msg(f.url, forged);
    ck_assert_str_eq(r->error, "invalid_auth");
    chat__rpc__reply__free_unpacked(r, NULL);
    /* Internal methods too need a signature. */
    r = raw_msg(f.url, build_frame(chati_method_by_name("internal.setActive")->id, NULL, false,
                                   NULL, 0, soon, NULL));
    ck_assert_str_eq(r->error, "not_authed");
    chat__rpc__reply__free_unpacked(r, NULL);
    /* Expired, and claiming to live for an hour. */
    r = raw_msg(f.url, build_frame(api_test_id, "UADMIN00001", true, body, blen,
                                   chati_now_ms() - 1000, good));
    ck_assert_str_eq(r->error, "invalid_auth");
    ck_assert_ptr_nonnull(strstr(r->detail, "expired"));
    chat__rpc__reply__free_unpacked(r, NULL);
    r = raw_msg(f.url, build_frame(api_test_id, "UADMIN00001", true, body, blen,
                                   chati_now_ms() + 3600000, good));
    ck_assert_str_eq(r->error, "invalid_auth");
    chat__rpc__reply__free_unpacked(r, NULL);
    ck_assert_int_eq(atomic_load(&f.h.calls), calls); /* none of them ran */

    /* A captured frame replayed: accepted until it expires, refused after. */
    m = build_frame(api_test_id, "UADMIN00001", true, body, blen, chati_now_ms() + 300, good);
    nng_msg *copy = NULL;
    ck_assert_int_eq(nng_msg_dup(&copy, m), 0);
    r = raw_msg(f.url, m);
    ck_assert_str_eq(r->error, "");
    chat__rpc__reply__free_unpacked(r, NULL);
    sleep_ms(400);
    r = raw_msg(f.url, copy);
    ck_assert_str_eq(r->error, "invalid_auth");
    ck_assert_ptr_nonnull(strstr(r->detail, "expired"));
    chat__rpc__reply__free_unpacked(r, NULL);

    /* Health needs no signature (load balancers and probes ask it). */
    r = raw_msg(f.url, build_frame(0, NULL, false, NULL, 0, 0, NULL));
    ck_assert_str_eq(r->error, "");
    chat__rpc__reply__free_unpacked(r, NULL);

    chati_rpc_auth_free(good);
    chati_rpc_auth_free(other);
    server_down(&f);
}
END_TEST

START_TEST(server_refuses_bad_frames)
{
    server_fx f;
    server_up(&f, "tcp://127.0.0.1:0", 4, 0);

    Chat__Rpc__Reply *r = raw_request(f.url, 0, NULL, NULL, 0);
    ck_assert_str_eq(r->error, "");
    ck_assert_uint_eq(r->request_id, 77);
    chat__rpc__reply__free_unpacked(r, NULL);

    r = raw_request(f.url, 99999, NULL, NULL, 0);
    ck_assert_str_eq(r->error, "unknown_method");
    ck_assert_uint_eq(r->request_id, 77);
    chat__rpc__reply__free_unpacked(r, NULL);

    /* Without a session, only CHATI_M_NO_AUTH methods run. */
    r = raw_request(f.url, chati_method_by_name("auth.revoke")->id, NULL, NULL, 0);
    ck_assert_str_eq(r->error, "not_authed");
    chat__rpc__reply__free_unpacked(r, NULL);

    /* A body that is not the method's message. */
    static const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff};
    r = raw_request(f.url, api_test_method()->id, NULL, junk, sizeof junk);
    ck_assert_str_eq(r->error, "invalid_arguments");
    ck_assert_ptr_nonnull(strstr(r->detail, "api.test"));
    chat__rpc__reply__free_unpacked(r, NULL);

    /* Session ids too long for a chat_session. */
    r = raw_request(f.url, api_test_method()->id, "UAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                    NULL, 0);
    ck_assert_str_eq(r->error, "invalid_auth");
    chat__rpc__reply__free_unpacked(r, NULL);

    /* Not a frame at all. */
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff};
    r = raw_call(f.url, garbage, sizeof garbage);
    ck_assert_str_eq(r->error, "invalid_arguments");
    ck_assert_uint_eq(r->request_id, 0);
    chat__rpc__reply__free_unpacked(r, NULL);

    server_down(&f);
}
END_TEST

/* ---- load ---- */

typedef struct load_arg {
    chati_svc *svc;
    int id, n;
    bool use_health;
    int failures;
} load_arg;

static void *load_main(void *p)
{
    load_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        if (a->use_health) {
            if (health(a->svc, 5000) != CHAT_OK)
                a->failures++;
            continue;
        }
        char foo[64], *got = NULL;
        snprintf(foo, sizeof foo, "t%d-%d", a->id, i);
        if (api_test(a->svc, NULL, foo, NULL, 5000, &got) != CHAT_OK || strcmp(got, foo) != 0)
            a->failures++;
        free(got);
    }
    return NULL;
}

/* Runs nthreads x n calls; returns calls per second. */
static double parallel(chati_svc *svc, int nthreads, int n, bool use_health)
{
    pthread_t t[16];
    load_arg a[16];
    double t0 = now_ms();
    for (int i = 0; i < nthreads; i++) {
        a[i] = (load_arg){svc, i, n, use_health, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, load_main, &a[i]), 0);
    }
    int failures = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(t[i], NULL);
        failures += a[i].failures;
    }
    double dt = now_ms() - t0;
    ck_assert_int_eq(failures, 0);
    return nthreads * n / (dt / 1000.0);
}

START_TEST(concurrent_calls_8x200)
{
    server_fx f;
    server_up(&f, "tcp://127.0.0.1:0", 64, 0);
    chat_ctx *c = client_ctx(f.url);
    chati_svc *svc = rpc_client(c);

    double api = parallel(svc, 8, 200, false);
    ck_assert_int_eq(atomic_load(&f.h.calls), 1600);
    double hl = parallel(svc, 8, 200, true);
    printf("rpc throughput, 8 parallel callers (tcp, 8x200): api.test %.0f calls/s, "
           "health %.0f calls/s\n", api, hl);
    fflush(stdout);

    chati_svc_close(svc);
    client_ctx_free(c);
    server_down(&f);
}
END_TEST

START_TEST(sequential_throughput)
{
    server_fx f;
    server_up(&f, "tcp://127.0.0.1:0", 64, 0);
    chat_ctx *c = client_ctx(f.url);
    chati_svc *svc = rpc_client(c);

    ck_assert_chat_ok(health(svc, 2000));
    double t0 = now_ms();
    for (int i = 0; i < 10000; i++)
        ck_assert_chat_ok(health(svc, 5000));
    double dt = now_ms() - t0;
    double api = parallel(svc, 1, 2000, false);
    printf("rpc throughput, sequential (tcp): 10000 health calls in %.0f ms = %.0f calls/s "
           "(%.1f us/call); api.test %.0f calls/s\n",
           dt, 10000 / (dt / 1000.0), dt * 1000.0 / 10000, api);

    /* In process, for comparison. */
    chati_svc *direct = NULL;
    ck_assert_chat_ok(chati_svc_direct(f.ctx, &direct));
    double d = parallel(direct, 1, 10000, false);
    printf("direct (no RPC), sequential: api.test %.0f calls/s\n", d);
    fflush(stdout);
    chati_svc_close(direct);

    chati_svc_close(svc);
    client_ctx_free(c);
    server_down(&f);
}
END_TEST

/* ---- failures: nobody there, slow, crashed ---- */

START_TEST(unreachable_is_unavailable_quickly)
{
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", chat_test_free_port());
    chat_ctx *c = client_ctx(url);
    chati_svc *svc = rpc_client(c);
    int timeouts[] = {1000, 100, 5000};
    for (size_t i = 0; i < CHATI_ARRAY_LEN(timeouts); i++) {
        double t0 = now_ms();
        ck_assert_chat_err(api_test(svc, NULL, "x", NULL, timeouts[i], NULL),
                           CHAT_ERR_SERVICE_UNAVAILABLE);
        double dt = now_ms() - t0;
        printf("unreachable server, timeout %d ms: service_unavailable after %.0f ms\n",
               timeouts[i], dt);
        ck_assert_msg(dt < timeouts[i] + 200, "took %.0f ms", dt);
        ck_assert_msg(dt < 600, "took %.0f ms (should give up within the connect grace)", dt);
    }
    chati_svc_close(svc);
    client_ctx_free(c);

    /* No address at all. */
    c = client_ctx(NULL);
    svc = rpc_client(c);
    double t0 = now_ms();
    ck_assert_chat_err(health(svc, 1000), CHAT_ERR_SERVICE_UNAVAILABLE);
    ck_assert_msg(now_ms() - t0 < 100, "no address should fail at once");
    ck_assert_ptr_nonnull(strstr(chat_last_errmsg(), "rpc.auth"));
    chati_svc_close(svc);
    client_ctx_free(c);

    /* A URL nng cannot dial. */
    c = client_ctx("bogus://nowhere");
    svc = rpc_client(c);
    ck_assert_chat_err(health(svc, 1000), CHAT_ERR_INVALID_CONFIG);
    chati_svc_close(svc);
    client_ctx_free(c);
}
END_TEST

START_TEST(slow_server_times_out)
{
    server_fx f;
    server_up(&f, "tcp://127.0.0.1:0", 8, 4);
    chat_ctx *c = client_ctx(f.url);
    chati_svc *svc = rpc_client(c);

    double t0 = now_ms();
    ck_assert_chat_err(api_test(svc, NULL, "sleep:1500", NULL, 200, NULL), CHAT_ERR_TIMEOUT);
    double dt = now_ms() - t0;
    printf("slow server (1500 ms), timeout 200 ms: request_timeout after %.0f ms\n", dt);
    ck_assert_msg(dt >= 190 && dt < 400, "took %.0f ms", dt);
    /* The client and the server both carry on. */
    check_echo(svc, "still fine");
    ck_assert_chat_ok(health(svc, 1000));

    chati_svc_close(svc);
    client_ctx_free(c);
    server_down(&f);
}
END_TEST

typedef struct call_arg {
    chati_svc *svc;
    const char *foo;
    int timeout_ms;
    chat_err rv;
    double ms;
} call_arg;

static void *call_main(void *p)
{
    call_arg *a = p;
    double t0 = now_ms();
    a->rv = api_test(a->svc, NULL, a->foo, NULL, a->timeout_ms, NULL);
    a->ms = now_ms() - t0;
    return NULL;
}

/* Calls svc's server with "probe" until it refuses one because it is
 * stopping: then its stop has begun. Until then a free handler answers the
 * probes. false (and *why) when no refusal comes within WAIT_MS or something
 * else answers. May run on a thread: asserts nothing itself. */
static bool wait_refusing(chati_svc *svc, char *why, size_t whylen)
{
    int64_t until = chati_mono_ms() + WAIT_MS;
    int probes = 0;
    while (chati_mono_ms() < until) {
        chat_err rv = api_test(svc, NULL, "probe", NULL, 1000, NULL);
        probes++;
        if (rv == CHAT_OK)
            continue;
        if (rv == CHAT_ERR_SERVICE_UNAVAILABLE && strstr(chati_errmsg(), "stopping") != NULL)
            return true;
        snprintf(why, whylen, "probe %d got %s (%s)", probes, chat_err_name(rv),
                 chati_errmsg());
        return false;
    }
    snprintf(why, whylen, "%d probes in %d ms were all answered", probes, WAIT_MS);
    return false;
}

START_TEST(expired_in_queue_is_not_run)
{
    server_fx f;
    server_up(&f, "tcp://127.0.0.1:0", 4, 1);   /* one handler thread */
    chat_ctx *c = client_ctx(f.url);
    chati_svc *svc = rpc_client(c);
    ck_assert_chat_ok(health(svc, 1000));

    pthread_t t;
    call_arg a = {svc, "sleep:600", 3000, CHAT_ERR_INTERNAL, 0};
    ck_assert_int_eq(pthread_create(&t, NULL, call_main, &a), 0);
    /* The one handler is busy: the next request waits in the queue. */
    hook_wait_entered(&f.h, 1);
    ck_assert_chat_err(api_test(svc, NULL, "queued", NULL, 150, NULL), CHAT_ERR_TIMEOUT);
    pthread_join(t, NULL);
    ck_assert_chat_ok(a.rv);
    /* health, the slow call, and the queued one once the handler took it. */
    wait_served(f.srv, 3);
    /* The queued request was answered request_timeout without running.
     * (served may count the client's health probes too.) */
    ck_assert_int_eq(atomic_load(&f.h.calls), 1);

    chati_svc_close(svc);
    client_ctx_free(c);
    server_down(&f);
}
END_TEST

/* The child's server: no Check assertions here, this is not a test run.
 * Writes 'R' to notify_fd once it listens, 'E' when a slow call arrives. */
static int serve_forever(const char *url, const char *dir, int notify_fd)
{
    chat_config *cfg = NULL;
    chat_ctx *ctx = NULL;
    char err[256] = "";
    if (chat_config_new(&cfg) != CHAT_OK ||
        chat_config_set(cfg, "data_dir", dir, err, sizeof err) != CHAT_OK ||
        chat_config_set(cfg, "jwt.secret", TEST_SECRET, err, sizeof err) != CHAT_OK ||
        chat_open(&ctx, cfg, err, sizeof err) != CHAT_OK) {
        fprintf(stderr, "serve: chat_open: %s\n", err);
        return 1;
    }
    chat_config_free(cfg);
    static hook h;
    if (hook_init(&h, notify_fd) != 0) {
        fprintf(stderr, "serve: hook_init failed\n");
        return 1;
    }
    chati_api_server_opts o = {0};
    o.call = test_call;
    o.call_arg = &h;
    chati_api_server *srv = NULL;
    if (chati_api_server_start(ctx, url, 8, &o, &srv) != CHAT_OK) {
        fprintf(stderr, "serve %s: %s\n", url, chat_last_errmsg());
        return 1;
    }
    if (write(notify_fd, "R", 1) != 1) {
        perror("serve: notify");
        return 1;
    }
    for (;;)
        pause();
}

/* Reads the child's next byte from fd within WAIT_MS; on anything but want,
 * kills the child (nobody else would) and fails saying what was awaited. */
static void child_expect(int fd, pid_t pid, char want, const char *what)
{
    int64_t until = chati_mono_ms() + WAIT_MS;
    char c = 0;
    ssize_t n = -1;
    for (;;) {
        int64_t left = until - chati_mono_ms();
        struct pollfd p = {fd, POLLIN, 0};
        int ready = poll(&p, 1, left > 0 ? (int)left : 0);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            break;
        n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
    if (n == 1 && c == want)
        return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    ck_abort_msg("child server: waiting for %s: %s", what,
                 n == 0   ? "it exited first"
                 : n == 1 ? "an unexpected byte"
                          : "nothing came in time");
}

START_TEST(server_crash_mid_call_is_unavailable)
{
    char url[64], port[16], fdarg[16];
    snprintf(port, sizeof port, "%d", chat_test_free_port());
    snprintf(url, sizeof url, "tcp://127.0.0.1:%s", port);
    char *dir = chat_test_tmpdir("rpc-child");
    /* The child tells through a pipe when it listens and when the call is in. */
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(fcntl(fds[0], F_SETFD, FD_CLOEXEC), 0);
    snprintf(fdarg, sizeof fdarg, "%d", fds[1]);
    char *argv[] = {"test_rpc", "--serve", url, dir, fdarg, NULL};
    pid_t pid;
    ck_assert_int_eq(posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ), 0);
    close(fds[1]);   /* the child's end: its exit then reads as end of file */
    child_expect(fds[0], pid, 'R', "it to listen");

    chat_ctx *c = client_ctx(url);
    chati_svc *svc = rpc_client(c);
    /* Listening; a call still waits for the connection only so long. */
    int64_t until = chati_mono_ms() + WAIT_MS;
    chat_err rv;
    while ((rv = health(svc, 1000)) == CHAT_ERR_SERVICE_UNAVAILABLE && chati_mono_ms() < until)
        ;
    if (rv != CHAT_OK)
        kill(pid, SIGKILL);
    ck_assert_chat_ok(rv);

    pthread_t t;
    call_arg a = {svc, "sleep:5000", 8000, CHAT_ERR_INTERNAL, 0};
    ck_assert_int_eq(pthread_create(&t, NULL, call_main, &a), 0);
    child_expect(fds[0], pid, 'E', "the slow call to reach its handler");
    double killed = now_ms();
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    pthread_join(t, NULL);
    double after = now_ms() - killed;
    printf("server killed mid-call: %s %.0f ms after the kill\n", chat_err_name(a.rv), after);
    ck_assert_chat_err(a.rv, CHAT_ERR_SERVICE_UNAVAILABLE);
    ck_assert_msg(after < 500, "took %.0f ms after the kill", after);

    /* And while it stays down, calls fail fast. */
    double t0 = now_ms();
    ck_assert_chat_err(health(svc, 3000), CHAT_ERR_SERVICE_UNAVAILABLE);
    ck_assert_msg(now_ms() - t0 < 600, "took %.0f ms", now_ms() - t0);

    close(fds[0]);
    chati_svc_close(svc);
    client_ctx_free(c);
    chat_test_rmtree(dir);
}
END_TEST

/* ---- stop ---- */

typedef struct late_arg {
    call_arg call;
    bool stopping;          /* a probe saw the stop begin, then the call was made */
    char why[256];          /* else why not */
} late_arg;

/* A call made once the stop has begun (the slow handlers are still busy). */
static void *late_main(void *p)
{
    late_arg *l = p;
    l->stopping = wait_refusing(l->call.svc, l->why, sizeof l->why);
    if (l->stopping)
        call_main(&l->call);
    return NULL;
}

START_TEST(stop_lets_in_flight_requests_finish)
{
    server_fx f;
    /* Eight handlers for the slow calls, a ninth answers probes until the stop. */
    server_up(&f, "tcp://127.0.0.1:0", 16, 9);
    chat_ctx *c = client_ctx(f.url);
    chati_svc *svc = rpc_client(c);
    ck_assert_chat_ok(health(svc, 1000));

    pthread_t t[8];
    call_arg a[8];
    for (int i = 0; i < 8; i++) {
        a[i] = (call_arg){svc, "sleep:400", 5000, CHAT_ERR_INTERNAL, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, call_main, &a[i]), 0);
    }
    hook_wait_entered(&f.h, 8);
    /* While draining, new requests are refused at once. */
    pthread_t late;
    late_arg la = {{svc, "late", 5000, CHAT_ERR_INTERNAL, 0}, false, ""};
    ck_assert_int_eq(pthread_create(&late, NULL, late_main, &la), 0);
    double t0 = now_ms();
    chati_api_server_stop(f.srv);
    f.srv = NULL;
    double stop_ms = now_ms() - t0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        ck_assert_chat_ok(a[i].rv);
    }
    pthread_join(late, NULL);
    ck_assert_msg(la.stopping, "no request was refused while the server stopped: %s", la.why);
    printf("stop with 8 requests in flight: returned after %.0f ms; a call during the drain: "
           "%s after %.1f ms\n", stop_ms, chat_err_name(la.call.rv), la.call.ms);
    ck_assert_msg(stop_ms >= 200, "stop returned after %.0f ms, before the handlers", stop_ms);
    ck_assert_chat_err(la.call.rv, CHAT_ERR_SERVICE_UNAVAILABLE);
    ck_assert_msg(la.call.ms < 100, "refusal took %.0f ms", la.call.ms);
    /* Stopped: nobody answers. */
    ck_assert_chat_err(health(svc, 1000), CHAT_ERR_SERVICE_UNAVAILABLE);

    chati_svc_close(svc);
    client_ctx_free(c);
    server_down(&f);
}
END_TEST

START_TEST(stop_drain_is_bounded)
{
    server_fx f;
    memset(&f, 0, sizeof f);
    f.dir = chat_test_tmpdir("rpc");
    f.ctx = open_ctx(f.dir);
    chati_api_server_opts o = {0};
    o.call = test_call;
    o.call_arg = &f.h;
    o.drain_ms = 200;
    ck_assert_int_eq(hook_init(&f.h, -1), 0);
    ck_assert_chat_ok(chati_api_server_start(f.ctx, "tcp://127.0.0.1:0", 4, &o, &f.srv));
    chat_ctx *c = client_ctx(chati_api_server_url(f.srv));
    chati_svc *svc = rpc_client(c);
    pthread_t t;
    call_arg a = {svc, "sleep:1000", 5000, CHAT_ERR_INTERNAL, 0};
    ck_assert_int_eq(pthread_create(&t, NULL, call_main, &a), 0);
    hook_wait_entered(&f.h, 1);
    double t0 = now_ms();
    chati_api_server_stop(f.srv);
    f.srv = NULL;
    double dt = now_ms() - t0;
    pthread_join(t, NULL);
    /* The reply was dropped: the connection closed under the call. */
    ck_assert_chat_err(a.rv, CHAT_ERR_SERVICE_UNAVAILABLE);
    printf("stop with a 1000 ms handler, drain 200 ms: returned after %.0f ms\n", dt);
    ck_assert_msg(dt < 1300, "took %.0f ms", dt);
    chati_svc_close(svc);
    client_ctx_free(c);
    server_down(&f);
}
END_TEST

/* ---- addresses: several, and through discovery ---- */

/* Connects to url and sends bytes; true when the server then closes the
 * connection within 2 s without a word. */
static bool server_hangs_up(const char *url, const void *bytes, size_t n)
{
    chati_wire_addr a;
    ck_assert_chat_ok(chati_wire_parse(url, &a));
    int fd = socket(a.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a.sa, a.len), 0);
    ck_assert_int_eq(write(fd, bytes, n), (ssize_t)n);
    struct pollfd p = {fd, POLLIN, 0};
    char b[64];
    /* An end of stream, or a reset: bytes unread at close make it a RST. */
    bool closed = poll(&p, 1, 2000) == 1 && read(fd, b, sizeof b) <= 0;
    close(fd);
    return closed;
}

/* Threads of this process named name (/proc/self/task/N/comm). */
static int threads_named(const char *name)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[300], comm[32] = "";
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue; /* the thread ended meanwhile */
        if (fgets(comm, sizeof comm, f) && strncmp(comm, name, strlen(name)) == 0 &&
            comm[strlen(name)] == '\n')
            n++;
        fclose(f);
    }
    closedir(d);
    return n;
}

START_TEST(transport_edges)
{
    server_fx f;
    server_up(&f, "tcp://127.0.0.1:0", 64, 1);   /* one serving thread */
    chat_ctx *c = client_ctx(f.url);
    chati_svc *svc = rpc_client(c);
    check_echo(svc, "first");
    /* The serving thread and the one more, named for top -H and perf. */
    ck_assert_int_eq(threads_named("rpc-serve"), 2);
    ck_assert_int_eq(threads_named("rpc-probe"), 1);

    /* Health is answered while the only serving thread is busy. */
    pthread_t t;
    call_arg a = {svc, "sleep:600", 3000, CHAT_ERR_INTERNAL, 0};
    ck_assert_int_eq(pthread_create(&t, NULL, call_main, &a), 0);
    hook_wait_entered(&f.h, 1);
    double t0 = now_ms();
    ck_assert_chat_ok(health(svc, 300));
    ck_assert_msg(now_ms() - t0 < 200, "health took %.0f ms", now_ms() - t0);
    pthread_join(t, NULL);
    ck_assert_chat_ok(a.rv);

    /* Another protocol, and a frame larger than the server takes, lose
     * their connection and nothing else. */
    static const char http[] = "GET / HTTP/1.0\r\n\r\n";
    ck_assert(server_hangs_up(f.url, http, sizeof http - 1));
    uint8_t huge[CHATI_WIRE_HELLO_LEN + 4];
    memcpy(huge, CHATI_WIRE_HELLO, CHATI_WIRE_HELLO_LEN);
    chati_wire_hdr(0xffffffffu, huge + CHATI_WIRE_HELLO_LEN);
    ck_assert(server_hangs_up(f.url, huge, sizeof huge));
    check_echo(svc, "still serving");

    /* A server restarted on the same address: the pooled connection is
     * dead, and the next call (not marked safe to repeat) takes a new one. */
    char url[128];
    snprintf(url, sizeof url, "%s", f.url);
    chati_api_server_stop(f.srv);
    chati_api_server_opts o = {0};
    o.call = test_call;
    o.call_arg = &f.h;
    ck_assert_chat_ok(chati_api_server_start(f.ctx, url, 64, &o, &f.srv));
    check_echo(svc, "after a restart");

    chati_svc_close(svc);
    client_ctx_free(c);
    server_down(&f);
}
END_TEST

/* A connection that sent a signed api.test echoing `size` bytes and reads
 * nothing back (its receive buffer as small as the kernel allows). */
static int send_unread_echo(const char *url, size_t size)
{
    int64_t deadline = chati_mono_ms() + 3000;
    chati_wire_conn w = raw_dial(url);
    int small = 4096;
    setsockopt(w.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    char *foo = malloc(size + 1);
    memset(foo, 'x', size);
    foo[size] = '\0';
    Chat__Api__ApiTestRequest rq = CHAT__API__API_TEST_REQUEST__INIT;
    rq.foo = foo;
    size_t blen = chat__api__api_test_request__get_packed_size(&rq);
    uint8_t *body = malloc(blen);
    chat__api__api_test_request__pack(&rq, body);
    chati_rpc_auth *signer = test_signer(TEST_SECRET);
    nng_msg *m = build_frame(api_test_method()->id, NULL, false, body, blen,
                             chati_now_ms() + 10000, signer);
    ck_assert_int_eq(chati_wire_send(&w, m, deadline), 0);
    nng_msg_free(m);
    chati_rpc_auth_free(signer);
    free(body);
    free(foo);
    return w.fd; /* the test closes it */
}

START_TEST(server_never_waits_on_a_peer)
{
    /* One serving thread and the one more: before, each blocked writing a
     * reply nobody read, and three such peers stalled the server. */
    server_fx f;
    server_up(&f, "tcp://127.0.0.1:0", 64, 1);
    chat_ctx *c = client_ctx(f.url);
    chati_svc *svc = rpc_client(c);
    check_echo(svc, "first");
    int fds[3];
    for (int i = 0; i < 3; i++)
        fds[i] = send_unread_echo(f.url, 4u << 20);
    sleep_ms(300); /* the replies are stuck in the sockets by now */
    double t0 = now_ms();
    check_echo(svc, "still answering");
    ck_assert_chat_ok(health(svc, 500));
    double dt = now_ms() - t0;
    printf("3 peers not reading 4 MiB replies: an echo and a health call took %.1f ms\n", dt);
    ck_assert_msg(dt < 400, "took %.0f ms", dt);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    chati_svc_close(svc);
    client_ctx_free(c);
    server_down(&f);
}
END_TEST

/* Holds one connection of url open (the hello sent); returns its fd. */
static int hold_connection(const char *url)
{
    return raw_dial(url).fd;
}

START_TEST(full_server_keeps_callers_in_the_backlog)
{
    /* Two connections at most: a third waits for a slot instead of being
     * accepted and dropped (which a caller would see as a dead server). */
    server_fx f;
    server_up(&f, "tcp://127.0.0.1:0", 2, 1);
    int held[2];
    for (int i = 0; i < 2; i++)
        held[i] = hold_connection(f.url);
    sleep_ms(100); /* both accepted */
    chat_ctx *c = client_ctx(f.url);
    chati_svc *svc = rpc_client(c);
    pthread_t t;
    call_arg a = {svc, "waited", 3000, CHAT_ERR_INTERNAL, 0};
    ck_assert_int_eq(pthread_create(&t, NULL, call_main, &a), 0);
    sleep_ms(300);
    ck_assert_int_eq(atomic_load(&f.h.calls), 0); /* not served while full */
    close(held[0]);
    pthread_join(t, NULL);
    ck_assert_chat_ok(a.rv);
    ck_assert_msg(a.ms >= 250 && a.ms < 2000, "the call took %.0f ms", a.ms);
    close(held[1]);
    chati_svc_close(svc);
    client_ctx_free(c);
    server_down(&f);
}
END_TEST

START_TEST(several_addresses_and_discovery)
{
    server_fx a, b;
    server_up(&a, "tcp://127.0.0.1:0", 8, 0);
    server_up(&b, "tcp://127.0.0.1:0", 8, 0);

    /* Config: a dead address among live ones is skipped. */
    char list[512];
    snprintf(list, sizeof list, "tcp://127.0.0.1:%d, %s ,%s", chat_test_free_port(), a.url, b.url);
    chat_ctx *c = client_ctx(list);
    chati_svc *svc = rpc_client(c);
    for (int i = 0; i < 100; i++)
        check_echo(svc, "spread");
    parallel(svc, 8, 25, false);
    ck_assert_int_gt(atomic_load(&a.h.calls), 0);
    ck_assert_int_gt(atomic_load(&b.h.calls), 0);
    ck_assert_int_eq(atomic_load(&a.h.calls) + atomic_load(&b.h.calls), 300);
    chati_svc_close(svc);
    client_ctx_free(c);

    /* Discovery, when the config names no address. */
    c = client_ctx(NULL);
    chati_backends_register_builtin(); /* client_ctx is no chat_open */
    c->discovery = chati_backend_find(CHATI_IFACE_DISCOVERY, "static:");
    ck_assert_ptr_nonnull(c->discovery);
    ck_assert_chat_ok(c->discovery->open("static:", c->cfg, &c->discovery_impl));
    svc = rpc_client(c);
    ck_assert_chat_err(health(svc, 500), CHAT_ERR_SERVICE_UNAVAILABLE);
    ck_assert_chat_ok(c->discovery->announce(c->discovery_impl, "auth", a.url, 30));
    check_echo(svc, "found");
    chati_svc_close(svc);
    client_ctx_free(c);

    server_down(&a);
    server_down(&b);
}
END_TEST

static void *stop_main(void *p)
{
    chati_api_server_stop(p);
    return NULL;
}

START_TEST(stopping_server_hands_calls_to_another)
{
    server_fx a, b;
    server_up(&a, "tcp://127.0.0.1:0", 8, 0);
    server_up(&b, "tcp://127.0.0.1:0", 8, 0);
    char list[512];
    snprintf(list, sizeof list, "%s,%s", a.url, b.url);
    chat_ctx *c = client_ctx(list);
    chati_svc *svc = rpc_client(c);
    for (int i = 0; i < 20; i++)
        check_echo(svc, "warm");

    /* Keep a draining for a while with a slow call to it ... */
    chat_ctx *ca = client_ctx(a.url);
    chati_svc *only_a = rpc_client(ca);
    pthread_t slow, stopper;
    call_arg sa = {only_a, "sleep:800", 5000, CHAT_ERR_INTERNAL, 0};
    ck_assert_int_eq(pthread_create(&slow, NULL, call_main, &sa), 0);
    hook_wait_entered(&a.h, 1);
    ck_assert_int_eq(pthread_create(&stopper, NULL, stop_main, a.srv), 0);
    a.srv = NULL;
    /* a's seven other handlers answer until it refuses. */
    char why[256] = "";
    ck_assert_msg(wait_refusing(only_a, why, sizeof why),
                  "server a did not refuse requests after its stop began: %s", why);
    /* Its health says so too, answered without a handler: readiness checks
     * stop sending traffic to a draining server. */
    ck_assert_chat_err(health(only_a, 1000), CHAT_ERR_SERVICE_UNAVAILABLE);
    /* ... while calls to both addresses keep working: a refuses, b answers. */
    int b_before = atomic_load(&b.h.calls);
    for (int i = 0; i < 40; i++)
        check_echo(svc, "during the drain");
    ck_assert_int_eq(atomic_load(&b.h.calls) - b_before, 40);
    pthread_join(slow, NULL);
    ck_assert_chat_ok(sa.rv);
    pthread_join(stopper, NULL);
    for (int i = 0; i < 10; i++)
        check_echo(svc, "after");

    chati_svc_close(only_a);
    client_ctx_free(ca);
    chati_svc_close(svc);
    client_ctx_free(c);
    server_down(&a);
    server_down(&b);
}
END_TEST

START_TEST(bad_server_arguments)
{
    char *dir = chat_test_tmpdir("rpc");
    chat_ctx *ctx = open_ctx(dir);
    chati_api_server *srv = (void *)0x1;
    ck_assert_chat_err(chati_api_server_start(ctx, "tcp://127.0.0.1:0", 0, NULL, &srv),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_ptr_null(srv);
    ck_assert_chat_err(chati_api_server_start(ctx, "bogus://x", 4, NULL, &srv),
                       CHAT_ERR_INVALID_CONFIG);
    ck_assert_ptr_null(srv);
    chati_api_server *one = NULL;
    ck_assert_chat_ok(chati_api_server_start(ctx, "tcp://127.0.0.1:0", 4, NULL, &one));
    ck_assert_chat_err(chati_api_server_start(ctx, chati_api_server_url(one), 4, NULL, &srv),
                       CHAT_ERR_SERVICE_UNAVAILABLE);
    ck_assert_ptr_null(srv);
    chati_api_server_stop(one);
    chati_api_server_stop(NULL);
    chat_close(ctx);
    chat_test_rmtree(dir);
}
END_TEST

/* A bot's scopes are checked against a table searched by name: unsorted, or
 * naming a method or scope that does not exist, it would let bots through. */
START_TEST(bot_scope_table_is_whole)
{
    ck_assert(chati_method_scopes_ok());
    ck_assert_str_eq(chati_method_scopes("chat.postMessage"), "chat:write");
    ck_assert_ptr_null(chati_method_scopes("auth.test"));
}
END_TEST

static Suite *rpc_suite(void)
{
    Suite *s = suite_create("rpc");
    TCase *tc = tcase_create("rpc");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, roundtrip_tcp);
    tcase_add_test(tc, roundtrip_ipc);
    tcase_add_test(tc, direct_client_same_answers);
    tcase_add_test(tc, errors_cross_the_wire);
    tcase_add_test(tc, server_refuses_bad_frames);
    tcase_add_test(tc, server_refuses_unsigned_forged_and_expired_frames);
    tcase_add_test(tc, concurrent_calls_8x200);
    tcase_add_test(tc, sequential_throughput);
    tcase_add_test(tc, unreachable_is_unavailable_quickly);
    tcase_add_test(tc, slow_server_times_out);
    tcase_add_test(tc, expired_in_queue_is_not_run);
    tcase_add_test(tc, server_crash_mid_call_is_unavailable);
    tcase_add_test(tc, stop_lets_in_flight_requests_finish);
    tcase_add_test(tc, stop_drain_is_bounded);
    tcase_add_test(tc, transport_edges);
    tcase_add_test(tc, server_never_waits_on_a_peer);
    tcase_add_test(tc, full_server_keeps_callers_in_the_backlog);
    tcase_add_test(tc, several_addresses_and_discovery);
    tcase_add_test(tc, stopping_server_hands_calls_to_another);
    tcase_add_test(tc, bad_server_arguments);
    tcase_add_test(tc, bot_scope_table_is_whole);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--serve") == 0)
        return serve_forever(argv[2], argv[3], atoi(argv[4]));
    return chat_test_run(rpc_suite());
}
