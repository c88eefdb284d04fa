/*
 * tests/unit/test_rpc_routing.c - how the RPC client routes among several
 * instances of a service: a killed instance costs no error to calls that are
 * safe to repeat, a hung one (SIGSTOP) leaves routing within 2 s and comes
 * back when it recovers, and instances that discovery adds or removes take or
 * stop taking calls within the refresh interval.
 *
 * Each instance is this program run again as "--serve URL DIR FD" (a real
 * chat_ctx and RPC server in a child process), whose api.test answers its
 * pid ("pid") or sleeps ("sleep:<ms>") before answering.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
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
#include <unistd.h>

#include "api.pb-c.h"
#include "api/serve.h"
#include "api/svc.h"
#include "backends/builtin.h"
#include "domain/ctx.h"

#define SECRET "unit-rpc-routing-shared-secret"
#define WAIT_MS 10000

extern char **environ;

/* ---- the instances ---- */

static chat_err instance_call(void *arg, chat_ctx *ctx, const chati_method *m,
                              const chat_session *s, const ProtobufCMessage *req,
                              ProtobufCMessage **resp)
{
    (void)arg;
    if (strcmp(m->name, "api.test") == 0) {
        const Chat__Api__ApiTestRequest *r = (const void *)req;
        if (r->foo && strncmp(r->foo, "sleep:", 6) == 0)
            usleep((useconds_t)atoi(r->foo + 6) * 1000);
        if (r->foo && (strcmp(r->foo, "pid") == 0 || strncmp(r->foo, "sleep:", 6) == 0)) {
            Chat__Api__ApiTestResponse *out = (void *)chati_pb_new(m->resp);
            out->args = (void *)chati_pb_new(&chat__api__api_test_args__descriptor);
            char buf[32];
            snprintf(buf, sizeof buf, "%d", (int)getpid());
            out->args->foo = chat_strdup(buf);
            *resp = &out->base;
            return CHAT_OK;
        }
    }
    chat_err rv = chati_method_call(ctx, m, s, req, resp);
    /* ROUTING_SLOW_WRITES: the write is done, then the reply waits (so that a
     * kill lands after the change and before the answer). */
    if (getenv("ROUTING_SLOW_WRITES") && strcmp(m->name, "reactions.add") == 0)
        usleep(3000 * 1000);
    return rv;
}

/* The child: no Check here. Writes 'R' to fd once it listens. */
static int serve_forever(const char *url, const char *dir, int fd)
{
    chat_config *cfg = NULL;
    chat_ctx *ctx = NULL;
    char err[256] = "";
    if (chat_config_new(&cfg) != CHAT_OK ||
        chat_config_set(cfg, "data_dir", dir, err, sizeof err) != CHAT_OK ||
        chat_config_set(cfg, "jwt.secret", SECRET, err, sizeof err) != CHAT_OK ||
        chat_config_set(cfg, "argon2.m_cost_kib", "64", err, sizeof err) != CHAT_OK ||
        chat_config_set(cfg, "argon2.t_cost", "1", err, sizeof err) != CHAT_OK ||
        chat_open(&ctx, cfg, err, sizeof err) != CHAT_OK) {
        fprintf(stderr, "serve: chat_open: %s\n", err);
        return 1;
    }
    chat_config_free(cfg);
    chati_api_server_opts o = {0};
    o.call = instance_call;
    chati_api_server *srv = NULL;
    if (chati_api_server_start(ctx, url, 64, &o, &srv) != CHAT_OK) {
        fprintf(stderr, "serve %s: %s\n", url, chat_last_errmsg());
        return 1;
    }
    /* SIGTERM: a clean stop (refusals, then drain), as chat-*d does. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (write(fd, "R", 1) != 1)
        return 1;
    int sig = 0;
    sigwait(&set, &sig);
    chati_api_server_stop(srv);
    chat_close(ctx);
    return 0;
}

typedef struct instance {
    pid_t pid;
    char url[64];
    char *dir;
    bool owns_dir;              /* removed by stop() */
} instance;

/* Starts an instance on dir (NULL: a fresh one), with extra_env (may be NULL)
 * added to its environment. */
static void start_on(instance *in, const char *dir, char *extra_env)
{
    in->dir = dir ? strdup(dir) : chat_test_tmpdir("routing");
    in->owns_dir = dir == NULL;
    snprintf(in->url, sizeof in->url, "tcp://127.0.0.1:%d", chat_test_free_port());
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    char fd[16];
    snprintf(fd, sizeof fd, "%d", p[1]);
    char *argv[] = {"unit_rpc_routing", "--serve", in->url, in->dir, fd, NULL};
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    ck_assert_ptr_nonnull(env);
    memcpy(env, environ, n * sizeof *env);
    env[n] = extra_env;
    ck_assert_int_eq(posix_spawn(&in->pid, "/proc/self/exe", NULL, NULL, argv, env), 0);
    free(env);
    close(p[1]);
    struct pollfd pf = {p[0], POLLIN, 0};
    char c = 0;
    bool ready = poll(&pf, 1, WAIT_MS) == 1 && read(p[0], &c, 1) == 1 && c == 'R';
    close(p[0]);
    if (!ready) {
        kill(in->pid, SIGKILL);
        waitpid(in->pid, NULL, 0);
        ck_abort_msg("instance at %s did not start", in->url);
    }
}

static void start(instance *in)
{
    start_on(in, NULL, NULL);
}

static void stop(instance *in)
{
    if (in->pid > 0) {
        kill(in->pid, SIGCONT);
        kill(in->pid, SIGKILL);
        waitpid(in->pid, NULL, 0);
        in->pid = 0;
    }
    if (in->owns_dir)
        chat_test_rmtree(in->dir);
    else
        free(in->dir);
}

/* ---- the caller ---- */

static chat_ctx *client_ctx(const char *addrs)
{
    chat_ctx *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    char err[256];
    ck_assert_chat_ok(chat_config_new(&c->cfg));
    ck_assert_chat_ok(chat_config_set(c->cfg, "jwt.secret", SECRET, err, sizeof err));
    if (addrs) {
        ck_assert_chat_ok(chat_config_set(c->cfg, "rpc.auth", addrs, err, sizeof err));
    } else {
        c->discovery = chati_backend_find(CHATI_IFACE_DISCOVERY, "static:");
        ck_assert_ptr_nonnull(c->discovery);
        ck_assert_chat_ok(c->discovery->open("static:", c->cfg, &c->discovery_impl));
    }
    return c;
}

static void client_ctx_free(chat_ctx *c)
{
    if (c->discovery)
        c->discovery->close(c->discovery_impl);
    chat_config_free(c->cfg);
    free(c);
}

/* api.test(foo): the answering instance's pid, or -1 on an error. */
static int call(chati_svc *svc, const char *foo, int timeout_ms, chat_err *err)
{
    Chat__Api__ApiTestRequest rq = CHAT__API__API_TEST_REQUEST__INIT;
    rq.foo = (char *)foo;
    ProtobufCMessage *resp = NULL;
    chat_err rv = chati_svc_call(svc, chati_method_by_name("api.test"), NULL, &rq.base,
                                 timeout_ms, &resp);
    if (err)
        *err = rv;
    if (rv != CHAT_OK)
        return -1;
    const Chat__Api__ApiTestResponse *r = (const void *)resp;
    int pid = r->args && r->args->foo ? atoi(r->args->foo) : 0;
    protobuf_c_message_free_unpacked(resp, NULL);
    return pid;
}

typedef struct load {
    chati_svc *svc;
    const char *what;           /* api.test's foo: "sleep:<ms>" */
    atomic_bool stop;
    atomic_int ok, errors;
    char last_error[256];
} load;

static void *load_main(void *p)
{
    load *l = p;
    while (!atomic_load(&l->stop)) {
        chat_err rv;
        if (call(l->svc, l->what, 5000, &rv) > 0) {
            atomic_fetch_add(&l->ok, 1);
        } else {
            if (atomic_fetch_add(&l->errors, 1) == 0)
                snprintf(l->last_error, sizeof l->last_error, "%s: %s", chat_err_name(rv),
                         chat_last_errmsg());
        }
    }
    return NULL;
}

START_TEST(killed_instance_costs_no_error)
{
    instance a, b;
    start(&a);
    start(&b);
    char addrs[160];
    snprintf(addrs, sizeof addrs, "%s,%s", a.url, b.url);
    chat_ctx *c = client_ctx(addrs);
    chati_svc *svc = NULL;
    ck_assert_chat_ok(chati_svc_rpc(c, &svc));
    ck_assert_int_gt(call(svc, "pid", 2000, NULL), 0);

    /* 8 callers of a 50 ms method: about 4 calls are in flight on each
     * instance when one is killed. */
    load l = {.svc = svc, .what = "sleep:50"};
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, load_main, &l), 0);
    usleep(500 * 1000);
    int before = atomic_load(&l.ok);
    kill(a.pid, SIGKILL);
    waitpid(a.pid, NULL, 0);
    a.pid = 0;
    usleep(1000 * 1000);
    atomic_store(&l.stop, true);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    printf("instance killed under load: %d calls before, %d after, %d errors\n", before,
           atomic_load(&l.ok) - before, atomic_load(&l.errors));
    ck_assert_msg(atomic_load(&l.errors) == 0, "%d errors, the first: %s",
                  atomic_load(&l.errors), l.last_error);
    ck_assert_int_gt(atomic_load(&l.ok) - before, 20);
    /* Everything now goes to b. */
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(call(svc, "pid", 2000, NULL), b.pid);

    chati_svc_close(svc);
    client_ctx_free(c);
    stop(&a);
    stop(&b);
}
END_TEST

START_TEST(clean_stop_costs_no_error)
{
    instance a, b;
    start(&a);
    start(&b);
    char addrs[160];
    snprintf(addrs, sizeof addrs, "%s,%s", a.url, b.url);
    chat_ctx *c = client_ctx(addrs);
    chati_svc *svc = NULL;
    ck_assert_chat_ok(chati_svc_rpc(c, &svc));
    ck_assert_int_gt(call(svc, "pid", 2000, NULL), 0);
    /* Calls of 300 ms: the stopping instance drains for that long, refusing
     * what comes meanwhile. */
    load l = {.svc = svc, .what = "sleep:300"};
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, load_main, &l), 0);
    usleep(700 * 1000);
    int before = atomic_load(&l.ok);
    kill(a.pid, SIGTERM);
    int status = 0;
    waitpid(a.pid, &status, 0);
    a.pid = 0;
    usleep(500 * 1000);
    atomic_store(&l.stop, true);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    printf("instance stopped cleanly under load: %d calls before, %d after, %d errors\n",
           before, atomic_load(&l.ok) - before, atomic_load(&l.errors));
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the instance did not stop cleanly");
    ck_assert_msg(atomic_load(&l.errors) == 0, "%d errors, the first: %s",
                  atomic_load(&l.errors), l.last_error);
    chati_svc_close(svc);
    client_ctx_free(c);
    stop(&a);
    stop(&b);
}
END_TEST

/* Milliseconds until a call lands on pid (want true) or none does in 20
 * calls in a row (want false); -1 after WAIT_MS. */
static long long until_routing(chati_svc *svc, int pid, bool want)
{
    int64_t t0 = chati_mono_ms();
    int streak = 0;
    while (chati_mono_ms() - t0 < WAIT_MS) {
        int got = call(svc, "pid", 300, NULL);
        if (want && got == pid)
            return chati_mono_ms() - t0;
        streak = got > 0 && got != pid ? streak + 1 : 0;
        if (!want && streak >= 20)
            return chati_mono_ms() - t0;
        usleep(20 * 1000);
    }
    return -1;
}

START_TEST(hung_instance_leaves_routing_and_returns)
{
    instance a, b;
    start(&a);
    start(&b);
    char addrs[160];
    snprintf(addrs, sizeof addrs, "%s,%s", a.url, b.url);
    chat_ctx *c = client_ctx(addrs);
    chati_svc *svc = NULL;
    ck_assert_chat_ok(chati_svc_rpc(c, &svc));
    ck_assert(until_routing(svc, a.pid, true) >= 0);
    ck_assert(until_routing(svc, b.pid, true) >= 0);

    /* Hung (the process stops; its connections stay open). */
    kill(a.pid, SIGSTOP);
    int64_t t0 = chati_mono_ms();
    long long out = -1;
    while (chati_mono_ms() - t0 < WAIT_MS) {
        /* A call may still land on a and time out until the probe notices. */
        call(svc, "pid", 200, NULL);
        int streak = 0;
        for (int i = 0; i < 20 && call(svc, "pid", 200, NULL) == b.pid; i++)
            streak++;
        if (streak == 20) {
            out = chati_mono_ms() - t0;
            break;
        }
    }
    ck_assert_msg(out >= 0, "the stopped instance still took calls after %d ms", WAIT_MS);
    /* Recovered: it comes back. */
    kill(a.pid, SIGCONT);
    long long back = until_routing(svc, a.pid, true);
    printf("a stopped instance left routing within %lld ms; back %lld ms after SIGCONT\n", out,
           back);
    ck_assert_msg(out <= 2500, "took %lld ms to leave routing", out);
    ck_assert_msg(back >= 0 && back <= 2500, "took %lld ms to come back", back);

    chati_svc_close(svc);
    client_ctx_free(c);
    stop(&a);
    stop(&b);
}
END_TEST

START_TEST(discovery_adds_and_removes_instances)
{
    instance a, b;
    start(&a);
    start(&b);
    chat_ctx *c = client_ctx(NULL);
    chati_svc *svc = NULL;
    ck_assert_chat_ok(chati_svc_rpc(c, &svc));
    ck_assert_chat_ok(c->discovery->announce(c->discovery_impl, "auth", a.url, 30));
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(call(svc, "pid", 2000, NULL), a.pid);
    ck_assert_chat_ok(c->discovery->announce(c->discovery_impl, "auth", b.url, 30));
    long long added = until_routing(svc, b.pid, true);
    ck_assert_chat_ok(c->discovery->withdraw(c->discovery_impl, "auth", a.url));
    long long removed = until_routing(svc, a.pid, false);
    printf("an instance added to discovery took calls after %lld ms; one removed stopped "
           "after %lld ms\n", added, removed);
    ck_assert_msg(added >= 0 && added <= 2000, "added: %lld ms", added);
    ck_assert_msg(removed >= 0 && removed <= 2000, "removed: %lld ms", removed);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(call(svc, "pid", 2000, NULL), b.pid);

    chati_svc_close(svc);
    client_ctx_free(c);
    stop(&a);
    stop(&b);
}
END_TEST

/* Kills pid after 1.5 s unless done is set first. */
typedef struct killer {
    pid_t pid;
    atomic_bool done, killed;
} killer;

static void *killer_main(void *p)
{
    killer *k = p;
    int64_t until = chati_mono_ms() + 1500;
    while (!atomic_load(&k->done) && chati_mono_ms() < until)
        usleep(10 * 1000);
    if (!atomic_load(&k->done)) {
        kill(k->pid, SIGKILL);
        atomic_store(&k->killed, true);
    }
    return NULL;
}

/* Calls method name with req as session s; the response (to free), or NULL
 * on an error (in *err). */
static ProtobufCMessage *rpc(chati_svc *svc, const char *name, const chat_session *s,
                             const ProtobufCMessage *req, chat_err *err)
{
    ProtobufCMessage *resp = NULL;
    *err = chati_svc_call(svc, chati_method_by_name(name), s, req, 8000, &resp);
    return resp;
}

START_TEST(write_done_before_a_crash_is_not_an_error)
{
    /* Two instances on one data directory (SQLite shares it between
     * processes); a's reactions.add replies 3 s after doing its work. */
    char *dir = chat_test_tmpdir("routing-shared");
    instance a, b;
    start_on(&a, dir, "ROUTING_SLOW_WRITES=1");
    start_on(&b, dir, NULL);
    char addrs[160];
    snprintf(addrs, sizeof addrs, "%s,%s", a.url, b.url);
    chat_ctx *c = client_ctx(addrs);
    /* Every service is at these two addresses. */
    char err[256];
    static const char *const keys[] = {"rpc.user", "rpc.channel", "rpc.message", "rpc.presence"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_chat_ok(chat_config_set(c->cfg, keys[i], addrs, err, sizeof err));
    chati_svc *svc = NULL;
    ck_assert_chat_ok(chati_svc_rpc(c, &svc));

    chat_err rv;
    Chat__Api__AuthSignupRequest su = CHAT__API__AUTH_SIGNUP_REQUEST__INIT;
    su.email = "routing@example.com";
    su.password = "correct horse battery staple";
    su.real_name = "Routing";
    Chat__Api__AuthTokenResponse *tok = (void *)rpc(svc, "auth.signup", NULL, &su.base, &rv);
    ck_assert_chat_ok(rv);
    chat_session *s = chati_session_make(tok->user_id, tok->team_id, false);
    Chat__Api__ConversationsListRequest lr = CHAT__API__CONVERSATIONS_LIST_REQUEST__INIT;
    Chat__Api__ConversationsListResponse *list =
        (void *)rpc(svc, "conversations.list", s, &lr.base, &rv);
    ck_assert_chat_ok(rv);
    ck_assert_uint_ge(list->n_channels, 1);
    char channel[64];
    snprintf(channel, sizeof channel, "%s", list->channels[0]->id);
    Chat__Api__ChatPostMessageRequest pm = CHAT__API__CHAT_POST_MESSAGE_REQUEST__INIT;
    pm.channel = channel;
    pm.text = "react to me";
    Chat__Api__ChatPostMessageResponse *posted =
        (void *)rpc(svc, "chat.postMessage", s, &pm.base, &rv);
    ck_assert_chat_ok(rv);
    char ts[32];
    snprintf(ts, sizeof ts, "%s", posted->ts);

    /* reactions.add until one lands on a (b answers at once); kill a while
     * it holds the reply: the call is sent to b, which finds it done. */
    Chat__Api__ReactionsRequest rr = CHAT__API__REACTIONS_REQUEST__INIT;
    rr.channel = channel;
    rr.timestamp = ts;
    rr.name = "tada";
    bool landed_on_a = false;
    for (int i = 0; i < 10 && !landed_on_a; i++) {
        killer k = {.pid = a.pid};
        pthread_t kt;
        ck_assert_int_eq(pthread_create(&kt, NULL, killer_main, &k), 0);
        int64_t t0 = chati_mono_ms();
        ProtobufCMessage *r = rpc(svc, "reactions.add", s, &rr.base, &rv);
        int64_t took = chati_mono_ms() - t0;
        atomic_store(&k.done, true);
        pthread_join(kt, NULL);
        if (r)
            protobuf_c_message_free_unpacked(r, NULL);
        landed_on_a = atomic_load(&k.killed);
        if (!landed_on_a) {
            /* b did it: undo it, with one more call so that the next one
             * goes to a (calls take turns among idle instances). */
            ck_assert_chat_ok(rv);
            r = rpc(svc, "reactions.remove", s, &rr.base, &rv);
            ck_assert_chat_ok(rv);
            protobuf_c_message_free_unpacked(r, NULL);
            r = rpc(svc, "reactions.get", s, &rr.base, &rv);
            ck_assert_chat_ok(rv);
            protobuf_c_message_free_unpacked(r, NULL);
            continue;
        }
        printf("reactions.add, its server killed after doing it: %s after %lld ms\n",
               chat_err_name(rv), (long long)took);
        ck_assert_msg(rv == CHAT_OK, "the caller saw %s: %s", chat_err_name(rv),
                      chat_last_errmsg());
    }
    ck_assert_msg(landed_on_a, "no reactions.add reached the slow instance");
    waitpid(a.pid, NULL, 0);
    a.pid = 0;
    /* Exactly one reaction. */
    Chat__Api__ReactionsGetResponse *got = (void *)rpc(svc, "reactions.get", s, &rr.base, &rv);
    ck_assert_chat_ok(rv);
    ck_assert_uint_eq(got->message->n_reactions, 1);
    ck_assert_int_eq(got->message->reactions[0]->count, 1);

    protobuf_c_message_free_unpacked(&got->base, NULL);
    protobuf_c_message_free_unpacked(&posted->base, NULL);
    protobuf_c_message_free_unpacked(&list->base, NULL);
    protobuf_c_message_free_unpacked(&tok->base, NULL);
    chat_session_free(s);
    chati_svc_close(svc);
    client_ctx_free(c);
    stop(&a);
    stop(&b);
    chat_test_rmtree(dir);
}
END_TEST

static Suite *routing_suite(void)
{
    Suite *s = suite_create("rpc routing");
    TCase *tc = tcase_create("routing");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, killed_instance_costs_no_error);
    tcase_add_test(tc, clean_stop_costs_no_error);
    tcase_add_test(tc, hung_instance_leaves_routing_and_returns);
    tcase_add_test(tc, discovery_adds_and_removes_instances);
    tcase_add_test(tc, write_done_before_a_crash_is_not_an_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--serve") == 0)
        return serve_forever(argv[2], argv[3], atoi(argv[4]));
    chati_backends_register_builtin();
    return chat_test_run(routing_suite());
}
