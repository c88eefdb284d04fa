/* The backend registry: which ops tables registration accepts (versions,
 * required methods), what libchat does with a NULL optional method, and the
 * order of built-in and application backends. Each test runs in its own
 * process (forced below), so each starts with an empty registry. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/blob.h>
#include <chat/backend/broker.h>
#include <chat/backend/discovery.h>
#include <chat/backend/presence_store.h>
#include <chat/backend/store.h>
#include <chat/chat.h>

#include "backends/builtin.h"
#include "core/internal.h"
#include "domain/ctx.h"
#include "testutil.h"

#define ck_assert_detail(want)                                                          \
    ck_assert_msg(strstr(chat_last_errmsg(), (want)) != NULL, "detail \"%s\" lacks \"%s\"", \
                  chat_last_errmsg(), (want))

/* The shape every ops table shares: version, scheme, then function pointers
 * (as many as the longest interface has). A stand-in for any interface. */
typedef void (*any_fn)(void);
typedef struct {
    uint32_t version;
    const char *scheme;
    any_fn fns[32];
} fake_ops;

static void dummy(void)
{
}

static fake_ops fake(uint32_t version, const char *scheme)
{
    fake_ops f = {version, scheme, {0}};
    for (size_t i = 0; i < CHATI_ARRAY_LEN(f.fns); i++)
        f.fns[i] = dummy;
    return f;
}

static const struct {
    chati_iface iface;
    const char *name;
} ifaces[] = {
    {CHATI_IFACE_AUTH, "auth store"},
    {CHATI_IFACE_USER, "user store"},
    {CHATI_IFACE_CHANNEL, "channel store"},
    {CHATI_IFACE_MESSAGE, "message store"},
    {CHATI_IFACE_BROKER, "broker"},
    {CHATI_IFACE_BLOB, "blob store"},
    {CHATI_IFACE_PRESENCE, "presence store"},
    {CHATI_IFACE_DISCOVERY, "discovery"},
};

/* The sqlite message store under another scheme, every method in place. */
static chat_message_store_ops full_message_store(const char *scheme)
{
    chat_message_store_ops o = chati_sqlite_message_ops;
    o.scheme = scheme;
    return o;
}

START_TEST(version_0_and_newer_versions_are_refused)
{
    chat_message_store_ops o = full_message_store("foo");
    o.version = 0;
    ck_assert_chat_err(chat_message_store_register(&o), CHAT_ERR_NOT_SUPPORTED);
    ck_assert_detail("message store \"foo\": version 0");
    o.version = 99;
    ck_assert_chat_err(chat_message_store_register(&o), CHAT_ERR_NOT_SUPPORTED);
    ck_assert_detail("message store \"foo\": version 99 is newer");
    o.version = CHAT_STORE_V6 + 1;
    ck_assert_chat_err(chat_message_store_register(&o), CHAT_ERR_NOT_SUPPORTED);
    ck_assert_ptr_null(chati_backend_find(CHATI_IFACE_MESSAGE, "foo:"));
    o.version = CHAT_STORE_V1;
    ck_assert_chat_ok(chat_message_store_register(&o));
    ck_assert_ptr_eq(chati_backend_find(CHATI_IFACE_MESSAGE, "foo:"), &o);
    /* V2 appended outbox_lease, optional: a V2 table without it is fine,
     * and the other three stores may say V2 too. */
    static chat_message_store_ops o2;
    o2 = full_message_store("foo2");
    o2.version = CHAT_STORE_V2;
    o2.outbox_lease = NULL;
    ck_assert_chat_ok(chat_message_store_register(&o2));
    ck_assert(!CHATI_HAS(&o2, outbox_lease, CHAT_STORE_V2));
    /* V3 appended import, optional too; a V2 table never has it read. */
    ck_assert(!CHATI_HAS(&o2, import, CHAT_STORE_V3));
    static chat_message_store_ops o3;
    o3 = full_message_store("foo3");
    o3.version = CHAT_STORE_V3;
    o3.import = NULL;
    ck_assert_chat_ok(chat_message_store_register(&o3));
    static chat_auth_store_ops a2;
    a2 = chati_sqlite_auth_ops;
    a2.scheme = "foo2";
    a2.version = CHAT_STORE_V2;
    ck_assert_chat_ok(chat_auth_store_register(&a2));

    chat_broker_ops b = chati_inproc_broker_ops;
    b.scheme = "bar";
    b.version = 99;
    ck_assert_chat_err(chat_broker_register(&b), CHAT_ERR_NOT_SUPPORTED);
    ck_assert_detail("broker \"bar\": version 99");

    /* The same for every interface, and on the path built-ins take. */
    static fake_ops fs[CHATI_ARRAY_LEN(ifaces)]; /* registered tables must stay */
    for (size_t i = 0; i < CHATI_ARRAY_LEN(ifaces); i++) {
        fake_ops *f = &fs[i];
        *f = fake(0, "v");
        ck_assert_chat_err(chati_backend_add(ifaces[i].iface, "v", f, CHATI_BACKEND_KEEP),
                           CHAT_ERR_NOT_SUPPORTED);
        ck_assert_detail(ifaces[i].name);
        f->version = 99;
        ck_assert_chat_err(chati_backend_add(ifaces[i].iface, "v", f, CHATI_BACKEND_REPLACE),
                           CHAT_ERR_NOT_SUPPORTED);
        ck_assert_ptr_null(chati_backend_find(ifaces[i].iface, "v:"));
        f->version = 1;
        ck_assert_chat_ok(chati_backend_add(ifaces[i].iface, "v", f, CHATI_BACKEND_REPLACE));
        ck_assert_ptr_eq(chati_backend_find(ifaces[i].iface, "v:"), f);
    }
    ck_assert_chat_err(chat_message_store_register(NULL), CHAT_ERR_INVALID_ARGUMENTS);
}
END_TEST

START_TEST(a_null_required_method_is_refused_by_name)
{
    chat_message_store_ops o = full_message_store("foo");
    o.post = NULL;
    ck_assert_chat_err(chat_message_store_register(&o), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_detail("message store \"foo\": required method post is NULL");
    ck_assert_ptr_null(chati_backend_find(CHATI_IFACE_MESSAGE, "foo:"));
    o = full_message_store("foo");
    o.outbox_ack = NULL;
    ck_assert_chat_err(chat_message_store_register(&o), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_detail("required method outbox_ack is NULL");

    chat_user_store_ops u = chati_sqlite_user_ops;
    u.scheme = "foo";
    u.delete_user = NULL;
    ck_assert_chat_err(chat_user_store_register(&u), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_detail("user store \"foo\": required method delete_user is NULL");

    chat_blob_ops bl = chati_file_blob_ops;
    bl.scheme = "foo";
    bl.put = NULL;
    ck_assert_chat_err(chat_blob_register(&bl), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_detail("blob store \"foo\": required method put is NULL");

    chat_broker_ops br = chati_inproc_broker_ops;
    br.scheme = "foo";
    br.flush = NULL;
    ck_assert_chat_err(chat_broker_register(&br), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_detail("broker \"foo\": required method flush is NULL");

    /* open is required of every interface, on the built-ins' path too. */
    for (size_t i = 0; i < CHATI_ARRAY_LEN(ifaces); i++) {
        static fake_ops f;
        f = fake(1, "v");
        f.fns[0] = NULL;
        ck_assert_chat_err(chati_backend_add(ifaces[i].iface, "v", &f, CHATI_BACKEND_KEEP),
                           CHAT_ERR_INVALID_ARGUMENTS);
        ck_assert_detail(ifaces[i].name);
        ck_assert_detail("\"v\": required method open is NULL");
        ck_assert_ptr_null(chati_backend_find(ifaces[i].iface, "v:"));
    }
}
END_TEST

START_TEST(null_optional_methods_are_accepted)
{
    chat_message_store_ops o = full_message_store("foo");
    o.search = NULL;
    o.outbox_add = NULL;
    o.file_complete = NULL;
    o.file_set_title = NULL;
    ck_assert_chat_ok(chat_message_store_register(&o));
    chat_discovery_ops d = chati_static_discovery_ops;
    d.scheme = "foo";
    d.announce = NULL;
    d.withdraw = NULL;
    d.lookup = NULL;
    ck_assert_chat_ok(chat_discovery_register(&d));
    chat_auth_store_ops a = chati_sqlite_auth_ops;
    a.scheme = "foo";
    a.remove = NULL;
    ck_assert_chat_ok(chat_auth_store_register(&a));
    chat_blob_ops b = chati_file_blob_ops;
    b.scheme = "foo";
    b.stat = NULL;
    ck_assert_chat_ok(chat_blob_register(&b));
}
END_TEST

/* A context whose stores lack every optional method: libchat answers
 * not_supported or uses the documented fallback, never calls NULL. */
START_TEST(a_context_without_optional_methods_works)
{
    static chat_message_store_ops m;
    static chat_user_store_ops u;
    static chat_channel_store_ops c;
    static chat_presence_store_ops p;
    m = full_message_store("lean");
    m.search = NULL;
    m.outbox_add = NULL;
    m.file_complete = NULL;
    m.file_set_title = NULL;
    u = chati_sqlite_user_ops;
    u.scheme = "lean";
    u.apply_activity = NULL;
    u.counts = NULL;
    c = chati_sqlite_channel_ops;
    c.scheme = "lean";
    c.touch_activity = NULL;
    p = chati_mem_presence_ops;
    p.scheme = "lean";
    p.expired = NULL;
    ck_assert_chat_ok(chat_message_store_register(&m));
    ck_assert_chat_ok(chat_user_store_register(&u));
    ck_assert_chat_ok(chat_channel_store_register(&c));
    ck_assert_chat_ok(chat_presence_store_register(&p));

    char *dir = chat_test_tmpdir("registry");
    char url[3][4200], err[256];
    snprintf(url[0], sizeof url[0], "lean:%s/message.db", dir);
    snprintf(url[1], sizeof url[1], "lean:%s/user.db", dir);
    snprintf(url[2], sizeof url[2], "lean:%s/channel.db", dir);
    chat_config *cfg = NULL;
    ck_assert_chat_ok(chat_config_new(&cfg));
    const char *kv[][2] = {
        {"data_dir", dir},       {"argon2.m_cost_kib", "64"}, {"argon2.t_cost", "1"},
        {"store.message", url[0]}, {"store.user", url[1]},    {"store.channel", url[2]},
        {"presence", "lean:"},
    };
    for (size_t i = 0; i < CHATI_ARRAY_LEN(kv); i++)
        ck_assert_chat_ok(chat_config_set(cfg, kv[i][0], kv[i][1], err, sizeof err));
    chat_ctx *ctx = NULL;
    ck_assert_msg(chat_open(&ctx, cfg, err, sizeof err) == CHAT_OK, "chat_open: %s", err);
    chat_config_free(cfg);
    ck_assert_ptr_eq(ctx->messages, &m);
    ck_assert_ptr_eq(ctx->users, &u);

    chat_user *ua = NULL, *ub = NULL;
    char *ta = NULL, *tb = NULL;
    chat_session *sa = NULL, *sb = NULL;
    ck_assert_chat_ok(chat_auth_signup(ctx, "ada@example.com", "correct horse battery",
                                       "ada", NULL, &ua, &ta));
    ck_assert_chat_ok(chat_auth_signup(ctx, "bob@example.com", "correct horse battery",
                                       "bob", NULL, &ub, &tb));
    ck_assert_chat_ok(chat_auth_verify(ctx, ta, &sa));
    ck_assert_chat_ok(chat_auth_verify(ctx, tb, &sb));
    chat_channel *ch = NULL;
    ck_assert_chat_ok(chat_channel_create(ctx, sa, "talk", false, &ch));
    const char *cid = chat_channel_id(ch);
    ck_assert_chat_ok(chat_channel_join(ctx, sb, cid, NULL)); /* an outbox_add event */
    chat_message *msg = NULL;
    ck_assert_chat_ok(chat_message_post(ctx, sb, cid, "hello <@ada>", NULL, NULL, 0, &msg));
    chat_message_free(msg);
    ck_assert_chat_ok(chat_drain(ctx, 5000));

    chat_list *l = NULL;
    ck_assert_chat_err(chat_message_search(ctx, sa, "hello", NULL, 10, &l),
                       CHAT_ERR_NOT_SUPPORTED);
    ck_assert_ptr_null(l);
    chat_file *f = NULL;
    ck_assert_chat_err(chat_file_upload_begin(ctx, sa, "a.txt", NULL, "text/plain", 3, &f),
                       CHAT_ERR_NOT_SUPPORTED);
    ck_assert_chat_err(chat_file_set_title(ctx, sa, "F0123456789", "t"),
                       CHAT_ERR_NOT_SUPPORTED);
    /* No counts method: unread and mention counts read as 0. */
    chat_channel *info = NULL;
    ck_assert_chat_ok(chat_channel_info(ctx, sa, cid, &info));
    ck_assert_int_eq(chat_channel_unread_count(info), 0);
    chat_channel_free(info);
    /* No expired method: the sweep reports nobody. */
    chati_presence_sweep(ctx, INT64_MAX / 2);

    chat_channel_free(ch);
    chat_session_free(sa);
    chat_session_free(sb);
    chat_user_free(ua);
    chat_user_free(ub);
    chat_free(ta);
    chat_free(tb);
    chat_close(ctx);
    chat_test_rmtree(dir);
}
END_TEST

START_TEST(core_registers_no_backend_by_itself)
{
    ck_assert_ptr_null(chati_backend_find(CHATI_IFACE_MESSAGE, "sqlite:/x"));
    ck_assert_ptr_null(chati_backend_find(CHATI_IFACE_BROKER, "inproc:"));
    chati_backends_register_builtin();
    chati_backends_register_builtin(); /* once is enough; again changes nothing */
    const struct {
        chati_iface iface;
        const char *url;
        const void *ops;
    } want[] = {
        {CHATI_IFACE_AUTH, "sqlite:/x", &chati_sqlite_auth_ops},
        {CHATI_IFACE_USER, "sqlite:/x", &chati_sqlite_user_ops},
        {CHATI_IFACE_CHANNEL, "sqlite:/x", &chati_sqlite_channel_ops},
        {CHATI_IFACE_MESSAGE, "sqlite:/x", &chati_sqlite_message_ops},
        {CHATI_IFACE_BROKER, "inproc:", &chati_inproc_broker_ops},
        {CHATI_IFACE_BROKER, "sqlite:/x", &chati_sqlite_broker_ops},
        {CHATI_IFACE_BLOB, "file:/x", &chati_file_blob_ops},
        {CHATI_IFACE_PRESENCE, "mem:", &chati_mem_presence_ops},
        {CHATI_IFACE_DISCOVERY, "static:", &chati_static_discovery_ops},
#ifdef CHAT_WITH_REDIS
        {CHATI_IFACE_PRESENCE, "redis://x", &chati_redis_presence_ops},
#endif
#ifdef CHAT_WITH_POSTGRES
        {CHATI_IFACE_USER, "postgres://x", &chati_pg_user_ops},
        {CHATI_IFACE_CHANNEL, "postgresql://x", &chati_pg_channel_ops},
#endif
#ifdef CHAT_WITH_MONGO
        {CHATI_IFACE_MESSAGE, "mongodb://x", &chati_mongo_message_ops},
#endif
#ifdef CHAT_WITH_KAFKA
        {CHATI_IFACE_BROKER, "kafka://x", &chati_kafka_broker_ops},
#endif
#ifdef CHAT_WITH_S3
        {CHATI_IFACE_BLOB, "s3://x", &chati_s3_blob_ops},
#endif
    };
    for (size_t i = 0; i < CHATI_ARRAY_LEN(want); i++)
        ck_assert_msg(chati_backend_find(want[i].iface, want[i].url) == want[i].ops,
                      "built-in for %s (iface %d) missing", want[i].url, (int)want[i].iface);
}
END_TEST

/* An application's "sqlite" store, registered before chat_open (and so before
 * the built-ins would otherwise be added), is the one chat_open uses. */
START_TEST(an_application_sqlite_store_registered_first_wins)
{
    static chat_message_store_ops mine;
    mine = chati_sqlite_message_ops; /* same functions, another table */
    ck_assert_chat_ok(chat_message_store_register(&mine));
    char *dir = chat_test_tmpdir("registry");
    chat_config *cfg = NULL;
    char err[256];
    ck_assert_chat_ok(chat_config_new(&cfg));
    ck_assert_chat_ok(chat_config_set(cfg, "data_dir", dir, err, sizeof err));
    chat_ctx *ctx = NULL;
    ck_assert_msg(chat_open(&ctx, cfg, err, sizeof err) == CHAT_OK, "chat_open: %s", err);
    chat_config_free(cfg);
    ck_assert_ptr_eq(ctx->messages, &mine);
    ck_assert_ptr_eq(ctx->users, &chati_sqlite_user_ops);
    chat_close(ctx);
    chat_test_rmtree(dir);
    chati_backends_register_builtin();
    ck_assert_ptr_eq(chati_backend_find(CHATI_IFACE_MESSAGE, "sqlite:/x"), &mine);
}
END_TEST

/* The same through the internal path, before any built-in was added: the
 * built-ins never replace a table already registered. */
START_TEST(builtins_never_replace_an_earlier_table)
{
    static chat_message_store_ops mine;
    mine = chati_sqlite_message_ops;
    ck_assert_chat_ok(chati_backend_add(CHATI_IFACE_MESSAGE, "sqlite", &mine,
                                        CHATI_BACKEND_REPLACE));
    chati_backends_register_builtin();
    ck_assert_ptr_eq(chati_backend_find(CHATI_IFACE_MESSAGE, "sqlite:/x"), &mine);
    ck_assert_ptr_eq(chati_backend_find(CHATI_IFACE_USER, "sqlite:/x"), &chati_sqlite_user_ops);
    /* A later registration by the application still replaces. */
    static chat_message_store_ops later;
    later = chati_sqlite_message_ops;
    ck_assert_chat_ok(chat_message_store_register(&later));
    ck_assert_ptr_eq(chati_backend_find(CHATI_IFACE_MESSAGE, "sqlite:/x"), &later);
}
END_TEST

static Suite *registry_suite(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("registry");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, version_0_and_newer_versions_are_refused);
    tcase_add_test(tc, a_null_required_method_is_refused_by_name);
    tcase_add_test(tc, null_optional_methods_are_accepted);
    tcase_add_test(tc, a_context_without_optional_methods_works);
    tcase_add_test(tc, core_registers_no_backend_by_itself);
    tcase_add_test(tc, an_application_sqlite_store_registered_first_wins);
    tcase_add_test(tc, builtins_never_replace_an_earlier_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* Each test needs a registry nobody has touched: one process per test,
     * whatever CK_FORK says. */
    SRunner *sr = srunner_create(registry_suite());
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
