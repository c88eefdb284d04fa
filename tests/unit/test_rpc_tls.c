/*
 * tests/unit/test_rpc_tls.c - the RPC plane over mutual TLS (tls+tcp://):
 * members with a certificate of the deployment's CA talk; a connection with
 * no certificate, with one another CA signed, or in plain TCP gets nothing
 * run. Certificates come from scripts/rpc-certs.sh (argv[1]), as an operator
 * would make them.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "api.pb-c.h"
#include "api/serve.h"
#include "api/svc.h"
#include "backends/builtin.h"
#include "domain/ctx.h"

#define SECRET "unit-rpc-tls-shared-secret"

static const char *mint_script;
static char *certs;   /* the deployment's CA and members */
static char *foreign; /* another CA and a member of it */

/* Runs before the tests (outside Check): exits when the script fails. */
static void mint(const char *dir, const char *names)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "bash '%s' '%s' %s >/dev/null", mint_script, dir, names);
    if (system(cmd) != 0) {
        fprintf(stderr, "%s failed\n", cmd);
        exit(1);
    }
}

static void set(chat_config *cfg, const char *key, const char *value)
{
    char err[256];
    ck_assert_chat_ok(chat_config_set(cfg, key, value, err, sizeof err));
}

static void set_tls(chat_config *cfg, const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/ca.crt", dir);
    set(cfg, "rpc.tls_ca", path);
    snprintf(path, sizeof path, "%s/%s.crt", dir, name);
    set(cfg, "rpc.tls_cert", path);
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    set(cfg, "rpc.tls_key", path);
}

typedef struct server {
    char *dir;
    chat_ctx *ctx;
    chati_api_server *srv;
} server;

/* A service on tls+tcp with the member certificate "auth"; tls false: none
 * configured (its start must then fail). */
static chat_err server_start(server *s, bool tls)
{
    memset(s, 0, sizeof *s);
    s->dir = chat_test_tmpdir("rpctls");
    chat_config *cfg = NULL;
    ck_assert_chat_ok(chat_config_new(&cfg));
    set(cfg, "data_dir", s->dir);
    set(cfg, "jwt.secret", SECRET);
    set(cfg, "argon2.m_cost_kib", "64");
    set(cfg, "argon2.t_cost", "1");
    if (tls)
        set_tls(cfg, certs, "auth");
    char err[256];
    chat_err rv = chat_open(&s->ctx, cfg, err, sizeof err);
    ck_assert_msg(rv == CHAT_OK, "chat_open: %s", err);
    chat_config_free(cfg);
    return chati_api_server_start(s->ctx, "tls+tcp://127.0.0.1:0", 8, NULL, &s->srv);
}

static void server_stop(server *s)
{
    chati_api_server_stop(s->srv);
    chat_close(s->ctx);
    chat_test_rmtree(s->dir);
}

/* A bare client context reaching the auth service at url, with the member
 * certificate name of dir (NULL: no TLS configured). */
static chat_ctx *client_ctx(const char *url, const char *dir, const char *name)
{
    chat_ctx *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    ck_assert_chat_ok(chat_config_new(&c->cfg));
    set(c->cfg, "jwt.secret", SECRET);
    set(c->cfg, "rpc.auth", url);
    if (dir)
        set_tls(c->cfg, dir, name);
    return c;
}

static void client_ctx_free(chat_ctx *c)
{
    chat_config_free(c->cfg);
    free(c);
}

/* api.test through a new client of url; the error, and the echo in got. */
static chat_err echo(const char *url, const char *dir, const char *name, char got[64])
{
    chat_ctx *c = client_ctx(url, dir, name);
    chati_svc *svc = NULL;
    ck_assert_chat_ok(chati_svc_rpc(c, &svc));
    Chat__Api__ApiTestRequest rq = CHAT__API__API_TEST_REQUEST__INIT;
    rq.foo = "over tls";
    ProtobufCMessage *resp = NULL;
    chat_err rv =
        chati_svc_call(svc, chati_method_by_name("api.test"), NULL, &rq.base, 2000, &resp);
    got[0] = '\0';
    if (rv == CHAT_OK) {
        const Chat__Api__ApiTestResponse *r = (const void *)resp;
        snprintf(got, 64, "%s", r->args && r->args->foo ? r->args->foo : "");
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    chati_svc_close(svc);
    client_ctx_free(c);
    return rv;
}

START_TEST(members_talk_over_tls)
{
    server s;
    ck_assert_chat_ok(server_start(&s, true));
    const char *url = chati_api_server_url(s.srv);
    ck_assert_msg(strncmp(url, "tls+tcp://127.0.0.1:", 20) == 0 && strcmp(url + 20, "0") != 0,
                  "bound url %s", url);
    char got[64];
    ck_assert_chat_ok(echo(url, certs, "gateway", got));
    ck_assert_str_eq(got, "over tls");
    server_stop(&s);
}
END_TEST

START_TEST(outsiders_are_refused)
{
    server s;
    ck_assert_chat_ok(server_start(&s, true));
    const char *url = chati_api_server_url(s.srv);
    char got[64];
    /* A certificate from another CA. */
    ck_assert_chat_err(echo(url, foreign, "intruder", got), CHAT_ERR_SERVICE_UNAVAILABLE);
    /* Plain TCP to the TLS port. */
    char plain[128];
    snprintf(plain, sizeof plain, "tcp://%s", url + strlen("tls+tcp://"));
    ck_assert_chat_err(echo(plain, NULL, NULL, got), CHAT_ERR_SERVICE_UNAVAILABLE);
    /* A TLS address without TLS configured: a clear configuration error. */
    chat_err rv = echo(url, NULL, NULL, got);
    ck_assert_chat_err(rv, CHAT_ERR_INVALID_CONFIG);
    ck_assert_msg(strstr(chat_last_errmsg(), "rpc.tls_ca") != NULL, "%s", chat_last_errmsg());

    /* A TLS client that presents no certificate: unit_tls_session
     * (client_without_certificate_is_refused), on the same server configuration. */
    server_stop(&s);
}
END_TEST

START_TEST(tls_address_needs_configuration)
{
    server s;
    ck_assert_chat_err(server_start(&s, false), CHAT_ERR_INVALID_CONFIG);
    ck_assert_msg(strstr(chat_last_errmsg(), "rpc.tls_cert") != NULL, "%s", chat_last_errmsg());
    server_stop(&s);
}
END_TEST

static Suite *tls_suite(void)
{
    Suite *s = suite_create("rpc tls");
    TCase *tc = tcase_create("tls");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, members_talk_over_tls);
    tcase_add_test(tc, outsiders_are_refused);
    tcase_add_test(tc, tls_address_needs_configuration);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s scripts/rpc-certs.sh\n", argv[0]);
        return 2;
    }
    mint_script = argv[1];
    chati_backends_register_builtin();
    char certs_tmpl[] = "/tmp/chat-rpccerts.XXXXXX", foreign_tmpl[] = "/tmp/chat-rpcforeign.XXXXXX";
    certs = mkdtemp(certs_tmpl);
    foreign = mkdtemp(foreign_tmpl);
    if (certs == NULL || foreign == NULL) {
        perror("mkdtemp");
        return 1;
    }
    mint(certs, "auth gateway");
    mint(foreign, "intruder");
    int rc = chat_test_run(tls_suite());
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", certs, foreign);
    if (system(cmd) != 0)
        fprintf(stderr, "%s failed\n", cmd);
    return rc;
}
