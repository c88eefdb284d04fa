/*
 * chat_service (include/chat/server.h): one service of the distributed
 * deployment as a program runs it: its configuration, its RPC server, and its
 * registration in discovery, renewed while it runs and withdrawn at stop.
 *
 * A counting discovery backend, registered through the public SPI, records
 * what the service announces.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <chat/backend/discovery.h>
#include <chat/server.h>

#include "api/method.h"
#include "api/svc.h"
#include "backends/builtin.h"
#include "core/internal.h"

#define WAIT_MS 10000

/* ---- a discovery backend that counts ---- */

static pthread_mutex_t disc_mu = PTHREAD_MUTEX_INITIALIZER;
static int n_announce, n_withdraw, last_ttl;
static char announced[256], withdrawn[256], announced_as[32];

static chat_err cd_open(const char *url, const chat_config *cfg, void **impl)
{
    CHATI_UNUSED(url), CHATI_UNUSED(cfg);
    *impl = &disc_mu;
    return CHAT_OK;
}

static void cd_close(void *impl)
{
    CHATI_UNUSED(impl);
}

static chat_err cd_announce(void *impl, const char *service, const char *address, int ttl_s)
{
    CHATI_UNUSED(impl);
    pthread_mutex_lock(&disc_mu);
    n_announce++;
    last_ttl = ttl_s;
    snprintf(announced, sizeof announced, "%s", address);
    snprintf(announced_as, sizeof announced_as, "%s", service);
    pthread_mutex_unlock(&disc_mu);
    return CHAT_OK;
}

static chat_err cd_withdraw(void *impl, const char *service, const char *address)
{
    CHATI_UNUSED(impl), CHATI_UNUSED(service);
    pthread_mutex_lock(&disc_mu);
    n_withdraw++;
    snprintf(withdrawn, sizeof withdrawn, "%s", address);
    pthread_mutex_unlock(&disc_mu);
    return CHAT_OK;
}

/* Answers what was announced last and not withdrawn, so calls follow it. */
static chat_err cd_lookup(void *impl, const char *service, chat_list **out)
{
    CHATI_UNUSED(impl);
    chat_list *l = chat_list_new(CHAT_LIST_STRINGS);
    if (l == NULL)
        return CHAT_ERR_NOMEM;
    pthread_mutex_lock(&disc_mu);
    chat_err rv = CHAT_OK;
    if (n_announce > 0 && strcmp(service, announced_as) == 0 && strcmp(announced, withdrawn) != 0)
        rv = chat_list_push_string(l, announced);
    pthread_mutex_unlock(&disc_mu);
    if (rv != CHAT_OK) {
        chat_list_free(l);
        return rv;
    }
    *out = l;
    return CHAT_OK;
}

static const chat_discovery_ops counting = {CHAT_DISCOVERY_V1, "counting", cd_open, cd_close,
                                            cd_announce, cd_withdraw, cd_lookup};

static int announces(void)
{
    pthread_mutex_lock(&disc_mu);
    int n = n_announce;
    pthread_mutex_unlock(&disc_mu);
    return n;
}

static chat_ctx *open_service_ctx(const char *dir, const char *service, const char *ttl)
{
    chat_config *cfg = NULL;
    char err[256];
    ck_assert_chat_ok(chat_config_new(&cfg));
    ck_assert_chat_ok(chat_config_set(cfg, "data_dir", dir, err, sizeof err));
    ck_assert_chat_ok(chat_config_set(cfg, "discovery", "counting:", err, sizeof err));
    ck_assert_chat_ok(chat_config_set(cfg, "jwt.secret", "unit-service-shared-secret", err,
                                      sizeof err));
    ck_assert_chat_ok(chat_config_set(cfg, "argon2.m_cost_kib", "64", err, sizeof err));
    ck_assert_chat_ok(chat_config_set(cfg, "argon2.t_cost", "1", err, sizeof err));
    if (ttl)
        ck_assert_chat_ok(chat_config_set(cfg, "server.announce_ttl", ttl, err, sizeof err));
    ck_assert_chat_ok(chat_service_config(cfg, service));
    chat_ctx *ctx = NULL;
    chat_err rv = chat_open(&ctx, cfg, err, sizeof err);
    ck_assert_msg(rv == CHAT_OK, "chat_open: %s", err);
    chat_config_free(cfg);
    return ctx;
}

static chat_err health(chati_svc *svc, chati_service which)
{
    ProtobufCMessage *req = chati_pb_new(chati_rpc_health_method(which)->req);
    ck_assert_ptr_nonnull(req);
    ProtobufCMessage *resp = NULL;
    chat_err rv = chati_svc_call(svc, chati_rpc_health_method(which), NULL, req, 2000, &resp);
    protobuf_c_message_free_unpacked(req, NULL);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

/* ---- tests ---- */

START_TEST(config_keeps_only_the_services_backends)
{
    chat_config *cfg = NULL;
    ck_assert_chat_ok(chat_config_new(&cfg));
    ck_assert_chat_err(chat_service_config(cfg, "gateway"), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_ptr_nonnull(strstr(chat_last_errmsg(), "gateway"));
    ck_assert_chat_err(chat_service_config(NULL, "auth"), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_ok(chat_service_config(cfg, "message"));
    static const char *const none[] = {"store.auth", "store.user", "store.channel", "presence"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        ck_assert_str_eq(chat_config_get(cfg, none[i]), "none");
    /* Its own backends keep their defaults (unset). */
    ck_assert_ptr_null(chat_config_get(cfg, "store.message"));
    ck_assert_ptr_null(chat_config_get(cfg, "broker"));
    ck_assert_ptr_null(chat_config_get(cfg, "blob"));
    chat_config_free(cfg);
}
END_TEST

START_TEST(start_registers_renews_and_withdraws)
{
    ck_assert_chat_ok(chat_discovery_register(&counting));
    char *dir = chat_test_tmpdir("service");
    chat_ctx *ctx = open_service_ctx(dir, "auth", "3");
    chat_service *svc = (void *)0x1;
    ck_assert_chat_err(chat_service_start(ctx, "nope", "tcp://127.0.0.1:0", NULL, &svc),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_ptr_null(svc);
    ck_assert_int_eq(announces(), 0);

    ck_assert_chat_ok(chat_service_start(ctx, "auth", "tcp://127.0.0.1:0", NULL, &svc));
    const char *url = chat_service_url(svc);
    ck_assert_msg(strncmp(url, "tcp://127.0.0.1:", 16) == 0 && strcmp(url + 16, "0") != 0,
                  "url %s", url);
    /* Registered at once under its name with the bound URL and the ttl; then
     * renewed every third of the ttl (1 s here). */
    int64_t until = chati_mono_ms() + WAIT_MS;
    while (announces() < 3 && chati_mono_ms() < until)
        usleep(20000);
    pthread_mutex_lock(&disc_mu);
    ck_assert_int_ge(n_announce, 3);
    ck_assert_str_eq(announced_as, "auth");
    ck_assert_str_eq(announced, url);
    ck_assert_int_eq(last_ttl, 3);
    ck_assert_int_eq(n_withdraw, 0);
    pthread_mutex_unlock(&disc_mu);

    /* Callers find it through discovery: the context's own RPC client, with
     * no rpc.auth key, reaches the service at the announced address. */
    chati_svc *client = NULL;
    ck_assert_chat_ok(chati_svc_rpc(ctx, &client));
    ck_assert_chat_ok(health(client, CHATI_SVC_AUTH));

    char url_copy[256];
    snprintf(url_copy, sizeof url_copy, "%s", url);
    chat_service_stop(svc);
    pthread_mutex_lock(&disc_mu);
    ck_assert_int_eq(n_withdraw, 1);
    ck_assert_str_eq(withdrawn, url_copy);
    int after_stop = n_announce;
    pthread_mutex_unlock(&disc_mu);
    /* Withdrawn and stopped: no more renewals, and no server answers. */
    usleep(1200 * 1000);
    ck_assert_int_eq(announces(), after_stop);
    ck_assert_chat_err(health(client, CHATI_SVC_AUTH), CHAT_ERR_SERVICE_UNAVAILABLE);
    chati_svc_close(client);
    chat_close(ctx);
    chat_test_rmtree(dir);
}
END_TEST

START_TEST(advertised_address_is_registered)
{
    ck_assert_chat_ok(chat_discovery_register(&counting));
    char *dir = chat_test_tmpdir("service");
    chat_ctx *ctx = open_service_ctx(dir, "presence", NULL);
    chat_service *svc = NULL;
    ck_assert_chat_ok(chat_service_start(ctx, "presence", "tcp://127.0.0.1:0",
                                         "tcp://10.1.2.3:7105", &svc));
    int64_t until = chati_mono_ms() + WAIT_MS;
    while (announces() < 1 && chati_mono_ms() < until)
        usleep(10000);
    pthread_mutex_lock(&disc_mu);
    ck_assert_str_eq(announced, "tcp://10.1.2.3:7105");
    ck_assert_str_eq(announced_as, "presence");
    ck_assert_int_eq(last_ttl, 5); /* the default */
    pthread_mutex_unlock(&disc_mu);
    chat_service_stop(svc);
    pthread_mutex_lock(&disc_mu);
    ck_assert_str_eq(withdrawn, "tcp://10.1.2.3:7105");
    pthread_mutex_unlock(&disc_mu);
    chat_service_stop(NULL);
    chat_close(ctx);
    chat_test_rmtree(dir);
}
END_TEST

START_TEST(bad_numbers_in_the_configuration_are_refused)
{
    ck_assert_chat_ok(chat_discovery_register(&counting));
    char *dir = chat_test_tmpdir("service");
    static const char *bad[] = {"0", "1", "abc", "5s", "99999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        chat_ctx *ctx = open_service_ctx(dir, "presence", bad[i]);
        chat_service *svc = NULL;
        ck_assert_chat_err(chat_service_start(ctx, "presence", "tcp://127.0.0.1:0", NULL, &svc),
                           CHAT_ERR_INVALID_CONFIG);
        ck_assert_ptr_null(svc);
        ck_assert_msg(strstr(chat_last_errmsg(), "server.announce_ttl") != NULL, "%s",
                      chat_last_errmsg());
        chat_close(ctx);
    }
    chat_test_rmtree(dir);
}
END_TEST

/* A user store that says, once, that the default workspace is not there
 * although it is: what a second user service sees when another one, starting
 * at the same time on the same store, creates it between its look and its
 * create. */
static chat_user_store_ops racy_users;
static atomic_int racy_misses;

static chat_err racy_get_team_by_domain(void *impl, const char *domain, chat_team **out)
{
    if (domain == NULL && atomic_fetch_sub(&racy_misses, 1) > 0)
        return chati_fail(CHAT_ERR_TEAM_NOT_FOUND, "not yet (as the racing instance saw it)");
    return chati_sqlite_user_ops.get_team_by_domain(impl, domain, out);
}

static chat_err racy_open(const char *url, const chat_config *cfg, void **impl)
{
    char real[4200];
    snprintf(real, sizeof real, "sqlite:%s", url + strlen("racy:"));
    return chati_sqlite_user_ops.open(real, cfg, impl);
}

START_TEST(user_service_finds_the_workspace_another_made)
{
    racy_users = chati_sqlite_user_ops;
    racy_users.scheme = "racy";
    racy_users.open = racy_open;
    racy_users.get_team_by_domain = racy_get_team_by_domain;
    ck_assert_chat_ok(chat_user_store_register(&racy_users));
    char *dir = chat_test_tmpdir("service-racy");
    chat_config *cfg = NULL;
    char err[256], url[4200];
    ck_assert_chat_ok(chat_config_new(&cfg));
    ck_assert_chat_ok(chat_config_set(cfg, "data_dir", dir, err, sizeof err));
    ck_assert_chat_ok(chat_config_set(cfg, "jwt.secret", "unit-service-shared-secret", err,
                                      sizeof err));
    /* The first instance makes the workspace. */
    chat_ctx *first = NULL;
    ck_assert_msg(chat_open(&first, cfg, err, sizeof err) == CHAT_OK, "%s", err);
    /* The second one looks too early, then fails to create it. */
    snprintf(url, sizeof url, "racy:%s/user.db", dir);
    ck_assert_chat_ok(chat_config_set(cfg, "store.user", url, err, sizeof err));
    atomic_store(&racy_misses, 1);
    chat_ctx *second = NULL;
    chat_err rv = chat_open(&second, cfg, err, sizeof err);
    ck_assert_msg(rv == CHAT_OK, "the second instance: %s: %s", chat_err_name(rv), err);
    ck_assert_int_le(atomic_load(&racy_misses), 0); /* it did look too early */
    chat_close(second);
    chat_close(first);
    chat_config_free(cfg);
    chat_test_rmtree(dir);
}
END_TEST

static Suite *service_suite(void)
{
    Suite *s = suite_create("service");
    TCase *tc = tcase_create("service");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, config_keeps_only_the_services_backends);
    tcase_add_test(tc, start_registers_renews_and_withdraws);
    tcase_add_test(tc, advertised_address_is_registered);
    tcase_add_test(tc, bad_numbers_in_the_configuration_are_refused);
    tcase_add_test(tc, user_service_finds_the_workspace_another_made);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return chat_test_run(service_suite());
}
