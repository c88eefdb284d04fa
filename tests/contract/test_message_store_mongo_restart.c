/*
 * Integration tests of the MongoDB message store beyond the contract, against
 * FerretDB: the server killed (-9) and restarted, posts racing a kill, outbox
 * items left behind by writers that died, a database of the earlier format.
 *
 * argv[1] is tests/fixtures/ferretdb.sh; the test case starts its own server
 * (in the parent process, an unchecked fixture, so it is stopped even when a
 * test fails) in a temporary directory and stops it afterwards. Each test
 * uses a database of its own on it.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/store.h>
#include <mongoc/mongoc.h>

#include "contract.h"
#include "core/internal.h"
#include "testutil.h"

static const char *fixture;
static char *tmpdir;
static char server_dir[512], server_url[128];
static const chat_message_store_ops *S;

static void start_server(void)
{
    tmpdir = chat_test_tmpdir("ferretdb");
    snprintf(server_dir, sizeof server_dir, "%s/server", tmpdir);
    snprintf(server_url, sizeof server_url, "%s",
             contract_sh("bash '%s' start '%s'", fixture, server_dir));
    if (strncmp(server_url, "mongodb://", 10) != 0) {
        fprintf(stderr, "the fixture could not start FerretDB\n");
        exit(1); /* a missing server is a failure, never a skip */
    }
}

static void stop_server(void)
{
    contract_sh("bash '%s' stop '%s'", fixture, server_dir);
    chat_test_rmtree(tmpdir);
    tmpdir = NULL;
}

static void kill_server(void)
{
    contract_sh("bash '%s' kill '%s'", fixture, server_dir);
}

static void restart_server(void)
{
    ck_assert_str_eq(contract_sh("bash '%s' restart '%s'", fixture, server_dir), server_url);
}

static void *open_store_at(const char *url)
{
    S = chati_backend_find(CHATI_IFACE_MESSAGE, url);
    ck_assert_msg(S != NULL, "no message store for %s", url);
    void *impl = NULL;
    ck_assert_chat_ok(S->open(url, contract_cfg(), &impl));
    return impl;
}

/* The URL of a database of its own, not yet opened. */
static void new_store_url(char url[256])
{
    char db[64];
    contract_uniq("r", db, sizeof db);
    for (char *c = db; *c; c++)
        if (*c == '-')
            *c = '_';
    snprintf(url, 256, "%s/%s", server_url, db);
}

/* A store on a database of its own; url gets its URL. */
static void *open_store(char url[256])
{
    new_store_url(url);
    return open_store_at(url);
}

/* data = "ts|text": what the relay would publish. */
static chat_err rec_outbox(void *arg, const chat_message *m, chat_outbox_item *out)
{
    (void)arg;
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%s|%s", m->ts, m->text != NULL ? m->text : "");
    out->topic = chat_strdup("message.test");
    out->key = chat_strdup(m->channel);
    out->data = chat_malloc((size_t)n);
    memcpy(out->data, buf, (size_t)n);
    out->len = (size_t)n;
    return CHAT_OK;
}

static chat_err post(void *impl, const char *text, const char *cmid, char ts_out[CHAT_TS_SIZE])
{
    chat_message m, *out = NULL;
    memset(&m, 0, sizeof m);
    strcpy(m.channel, "C1");
    strcpy(m.user, "U1");
    m.text = (char *)text;
    m.client_msg_id = (char *)cmid;
    chat_err rv = S->post(impl, &m, 0, rec_outbox, NULL, &out);
    if (out != NULL && ts_out != NULL)
        strcpy(ts_out, out->ts);
    chat_message_free(out);
    return rv;
}

/* The call fails as service_unavailable, with a detail, within 5 s (the
 * store's default server selection timeout is 3 s). */
#define ASSERT_DOWN(call) CONTRACT_ASSERT_DOWN(call, "mongodb", 5000)

/* Every outbox item from seq 0 on, in order; their data into datas. */
static size_t fetch_all(void *impl, char datas[][128], size_t max, int64_t *last_seq)
{
    chat_outbox_item *it = NULL;
    size_t n = 0;
    ck_assert_chat_ok(S->outbox_fetch(impl, 0, 10000, &it, &n));
    ck_assert_uint_le(n, max);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            ck_assert_int_gt(it[i].seq, it[i - 1].seq);
        snprintf(datas[i], 128, "%.*s", (int)it[i].len, (const char *)it[i].data);
        *last_seq = it[i].seq;
    }
    chat_outbox_items_free(it, n);
    return n;
}

static size_t history_count(void *impl)
{
    chat_list *l = NULL;
    ck_assert_chat_ok(S->history(impl, "C1", NULL, NULL, false, 1000, NULL, &l));
    size_t n = chat_list_count(l);
    chat_list_free(l);
    return n;
}

START_TEST(test_kill_restart)
{
    char url[256], ts[3][CHAT_TS_SIZE];
    void *impl = open_store(url);
    ck_assert_chat_ok(post(impl, "one", NULL, ts[0]));
    ck_assert_chat_ok(post(impl, "two", NULL, ts[1]));
    ck_assert_chat_ok(S->add_reaction(impl, "C1", ts[0], "ok", "U2", NULL, NULL));
    static char datas[64][128];
    int64_t last = 0;
    ck_assert_uint_eq(fetch_all(impl, datas, 64, &last), 2);
    ck_assert_chat_ok(S->outbox_ack(impl, last - 1)); /* the relay sent "one" */

    kill_server();
    chat_message *m = NULL;
    chat_list *l = NULL;
    chat_outbox_item *it = NULL;
    size_t n = 0;
    /* The pooled connection fails first, then server selection. */
    ASSERT_DOWN(post(impl, "lost", NULL, NULL));
    ASSERT_DOWN(S->get(impl, "C1", ts[0], &m));
    ASSERT_DOWN(S->history(impl, "C1", NULL, NULL, false, 10, NULL, &l));
    ASSERT_DOWN(S->outbox_fetch(impl, 0, 10, &it, &n));
    ASSERT_DOWN(S->add_reaction(impl, "C1", ts[1], "ok", "U2", NULL, NULL));
    ASSERT_DOWN(S->search(impl, "one", (const char[][CHAT_ID_SIZE]){"C1"}, 1, NULL, 10, &l));
    ck_assert_ptr_null(m);
    ck_assert_ptr_null(l);
    ck_assert_ptr_null(it);

    restart_server();
    /* Back within a few seconds, with everything acknowledged still there. */
    chat_err rv = CHAT_ERR_SERVICE_UNAVAILABLE;
    long long t0 = contract_now_ms();
    while (rv != CHAT_OK && contract_now_ms() - t0 < 10000)
        rv = post(impl, "three", NULL, ts[2]);
    ck_assert_chat_ok(rv);
    m = NULL;
    ck_assert_chat_ok(S->get(impl, "C1", ts[0], &m));
    ck_assert_str_eq(m->text, "one");
    ck_assert_uint_eq(m->n_reactions, 1);
    chat_message_free(m);
    ck_assert_uint_eq(history_count(impl), 3);
    /* The unacknowledged item and the new one, nothing else, in order. */
    int64_t last2 = 0;
    ck_assert_uint_eq(fetch_all(impl, datas, 64, &last2), 2);
    char want[128];
    snprintf(want, sizeof want, "%s|two", ts[1]);
    ck_assert_str_eq(datas[0], want);
    snprintf(want, sizeof want, "%s|three", ts[2]);
    ck_assert_str_eq(datas[1], want);
    ck_assert_int_gt(last2, last);
    S->close(impl);

    /* A store opened while the server is down fails cleanly too. */
    kill_server();
    void *impl2 = NULL;
    ASSERT_DOWN(S->open(url, contract_cfg(), &impl2));
    ck_assert_ptr_null(impl2);
    restart_server();
}
END_TEST

/* Posts racing a kill: every post that returned OK is stored and has its
 * outbox item; retrying the failed ones (same client_msg_id) stores each
 * exactly once; every stored message has exactly one outbox item. */
#define RACERS 3
#define RACE_POSTS 40

typedef struct racer {
    void *impl;
    int id;
    chat_err rv[RACE_POSTS];
    char ts[RACE_POSTS][CHAT_TS_SIZE];
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    for (int i = 0; i < RACE_POSTS; i++) {
        char text[64], cmid[64];
        snprintf(text, sizeof text, "racer %d post %d", r->id, i);
        snprintf(cmid, sizeof cmid, "r%d-%d", r->id, i);
        r->rv[i] = post(r->impl, text, cmid, r->ts[i]);
        contract_sleep_ms(20);
    }
    return NULL;
}

START_TEST(test_posts_racing_a_kill)
{
    char url[256];
    void *impl = open_store(url);
    static racer rs[RACERS];
    pthread_t th[RACERS];
    for (int t = 0; t < RACERS; t++) {
        memset(&rs[t], 0, sizeof rs[t]);
        rs[t].impl = impl;
        rs[t].id = t;
        ck_assert_int_eq(pthread_create(&th[t], NULL, race, &rs[t]), 0);
    }
    contract_sleep_ms(250);
    kill_server();
    /* Down for longer than server selection waits (3 s), so that posts
     * fail rather than wait for the restart. */
    contract_sleep_ms(3500);
    restart_server();
    for (int t = 0; t < RACERS; t++)
        pthread_join(th[t], NULL);

    size_t ok = 0, failed = 0;
    for (int t = 0; t < RACERS; t++)
        for (int i = 0; i < RACE_POSTS; i++) {
            if (rs[t].rv[i] == CHAT_OK) {
                ok++;
                chat_message *m = NULL;
                ck_assert_chat_ok(S->get(impl, "C1", rs[t].ts[i], &m));
                chat_message_free(m);
                continue;
            }
            ck_assert_msg(rs[t].rv[i] == CHAT_ERR_SERVICE_UNAVAILABLE, "post %d/%d: %s", t, i,
                          chat_err_name(rs[t].rv[i]));
            failed++;
            /* The client's retry: stored now, or found as already stored. */
            char text[64], cmid[64];
            snprintf(text, sizeof text, "racer %d post %d", t, i);
            snprintf(cmid, sizeof cmid, "r%d-%d", t, i);
            chat_err rv = post(impl, text, cmid, NULL);
            ck_assert_msg(rv == CHAT_OK || rv == CHAT_ERR_DUPLICATE, "retry %d/%d: %s", t, i,
                          chat_err_name(rv));
        }
    ck_assert_uint_gt(ok, 0);
    ck_assert_uint_gt(failed, 0); /* the kill did land among the posts */
    ck_assert_uint_eq(history_count(impl), RACERS * RACE_POSTS);

    /* One outbox item per stored message, in ts order (one channel). */
    static char datas[RACERS * RACE_POSTS + 8][128];
    int64_t last = 0;
    chat_list *l = NULL;
    ck_assert_uint_eq(fetch_all(impl, datas, RACERS * RACE_POSTS + 8, &last),
                      RACERS * RACE_POSTS);
    ck_assert_chat_ok(S->history(impl, "C1", NULL, NULL, false, 1000, NULL, &l));
    for (size_t k = 0; k < chat_list_count(l); k++) {
        const chat_message *m = chat_list_message(l, chat_list_count(l) - 1 - k);
        char want[128];
        snprintf(want, sizeof want, "%s|%s", m->ts, m->text);
        ck_assert_str_eq(datas[k], want);
    }
    chat_list_free(l);
    S->close(impl);
}
END_TEST

/* A raw connection to the store's database, for planting what a writer of
 * another process (or an earlier version) left behind. */
typedef struct raw {
    mongoc_uri_t *uri;
    mongoc_client_t *client;
    mongoc_collection_t *msgs, *meta;
} raw;

static void raw_open(raw *r, const char *url)
{
    r->uri = mongoc_uri_new(url);
    r->client = mongoc_client_new_from_uri(r->uri);
    const char *db = mongoc_uri_get_database(r->uri);
    r->msgs = mongoc_client_get_collection(r->client, db, "messages");
    r->meta = mongoc_client_get_collection(r->client, db, "meta");
}

static void raw_insert(mongoc_collection_t *coll, bson_t *doc)
{
    bson_error_t err;
    ck_assert_msg(mongoc_collection_insert_one(coll, doc, NULL, NULL, &err), "%s", err.message);
    bson_destroy(doc);
}

static void raw_close(raw *r)
{
    mongoc_collection_destroy(r->msgs);
    mongoc_collection_destroy(r->meta);
    mongoc_client_destroy(r->client);
    mongoc_uri_destroy(r->uri);
}

/* Writers that died: one right after its write leaves its outbox item
 * (written first, as an intent) committed: the next relay delivers it
 * before what follows it. Ones that died between item and write (a post,
 * an edit) leave intents no document names: dropped once the relay has
 * made sure the write cannot land any more (late writes fail). */
START_TEST(test_outbox_left_by_dead_writers)
{
    char url[256], ts[CHAT_TS_SIZE], q[64];
    void *impl = open_store(url);
    ck_assert_chat_ok(post(impl, "before", NULL, ts));
    S->close(impl);

    int64_t before = 0, now = chati_now_us();
    ck_assert(chati_ts_parse(ts, &before));
    snprintf(q, sizeof q, "C1:%016" PRId64, before);
    raw r;
    raw_open(&r, url);
    mongoc_collection_t *staged =
        mongoc_client_get_collection(r.client, mongoc_uri_get_database(r.uri), "staged");
    raw_insert(staged, BCON_NEW("_id", BCON_UTF8("dead.1"), "o", BCON_INT64(now), "m",
                                BCON_UTF8("C1:1800000000000000"), "pt", BCON_BOOL(true), "t",
                                BCON_UTF8("message.test"), "k", BCON_UTF8("C1"), "d",
                                BCON_BIN(BSON_SUBTYPE_BINARY, (const uint8_t *)"orphan", 6)));
    raw_insert(r.msgs,
               BCON_NEW("_id", BCON_UTF8("C1:1800000000000000"), "c", BCON_UTF8("C1"), "ts",
                        BCON_INT64(INT64_C(1800000000000000)), "u", BCON_UTF8("U1"), "t",
                        BCON_UTF8("orphan"), "k", BCON_UTF8("t:1800000000000000"), "inh",
                        BCON_BOOL(true), "v", BCON_INT64(0), "q", BCON_UTF8(q), "pi",
                        BCON_UTF8("dead.1"), "li", BCON_UTF8("dead.1"), "lo", BCON_INT64(now)));
    raw_insert(staged, BCON_NEW("_id", BCON_UTF8("dead.2"), "o", BCON_INT64(now + 1), "m",
                                BCON_UTF8("C1:1700000000000000"), "pt", BCON_BOOL(true), "t",
                                BCON_UTF8("message.test"), "k", BCON_UTF8("C1"), "d",
                                BCON_BIN(BSON_SUBTYPE_BINARY, (const uint8_t *)"phantom", 7)));
    /* And an edit of the orphan that never got written. */
    raw_insert(staged, BCON_NEW("_id", BCON_UTF8("dead.3"), "o", BCON_INT64(now + 2), "m",
                                BCON_UTF8("C1:1800000000000000"), "gv", BCON_INT64(0), "dp",
                                BCON_UTF8("dead.1"), "t", BCON_UTF8("message.test"), "k",
                                BCON_UTF8("C1"), "d",
                                BCON_BIN(BSON_SUBTYPE_BINARY, (const uint8_t *)"unwritten", 9)));

    impl = open_store_at(url);
    ck_assert_chat_ok(post(impl, "after", NULL, NULL));
    static char datas[8][128];
    int64_t last = 0;
    ck_assert_uint_eq(fetch_all(impl, datas, 8, &last), 3);
    ck_assert(strstr(datas[0], "|before") != NULL);
    ck_assert_str_eq(datas[1], "orphan");
    ck_assert(strstr(datas[2], "|after") != NULL);
    chat_message *m = NULL;
    ck_assert_chat_ok(S->get(impl, "C1", "1800000000.000000", &m));
    ck_assert_str_eq(m->text, "orphan");
    chat_message_free(m);

    /* The uncommitted one, once the relay stops waiting for its write. */
    contract_sleep_ms(5500);
    ck_assert_uint_eq(fetch_all(impl, datas, 8, &last), 3);
    bson_error_t err;
    bson_t *late = BCON_NEW("_id", BCON_UTF8("C1:1700000000000000"), "c", BCON_UTF8("C1"), "ts",
                            BCON_INT64(INT64_C(1700000000000000)), "q", BCON_UTF8("C1:late"),
                            "k", BCON_UTF8("t:1700000000000000"), "pi", BCON_UTF8("dead.2"));
    ck_assert(!mongoc_collection_insert_one(r.msgs, late, NULL, NULL, &err));
    bson_destroy(late);
    bson_t *guard = BCON_NEW("_id", BCON_UTF8("C1:1800000000000000"), "v", BCON_INT64(0));
    bson_t *edit = BCON_NEW("$set", "{", "t", BCON_UTF8("unwritten"), "li", BCON_UTF8("dead.3"),
                            "}");
    bson_t reply;
    ck_assert(mongoc_collection_update_one(r.msgs, guard, edit, NULL, &reply, &err));
    bson_iter_t it;
    ck_assert(bson_iter_init_find(&it, &reply, "matchedCount") && bson_iter_as_int64(&it) == 0);
    bson_destroy(&reply);
    bson_destroy(guard);
    bson_destroy(edit);
    bson_t *all = bson_new();
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(staged, all, NULL, NULL);
    const bson_t *left;
    ck_assert_msg(!mongoc_cursor_next(cur, &left), "an intent is left behind");
    mongoc_cursor_destroy(cur);
    bson_destroy(all);
    mongoc_collection_destroy(staged);
    raw_close(&r);
    /* Delivered once: a second store finds nothing more. */
    S->close(impl);
    impl = open_store_at(url);
    ck_assert_uint_eq(fetch_all(impl, datas, 8, &last), 3);
    S->close(impl);
}
END_TEST

/* A message document of the earlier format: no q, and its outbox items
 * {s, t, d} kept in an array "ob". */
typedef struct old_doc {
    bson_t *d;
    bson_t ob;
} old_doc;

static void old_begin(old_doc *o, int64_t ts, const char *text)
{
    char id[64], k[64];
    snprintf(id, sizeof id, "C1:%" PRId64, ts);
    snprintf(k, sizeof k, "t:%" PRId64, ts);
    o->d = BCON_NEW("_id", BCON_UTF8(id), "c", BCON_UTF8("C1"), "ts", BCON_INT64(ts), "u",
                    BCON_UTF8("U1"), "t", BCON_UTF8(text), "k", BCON_UTF8(k), "inh",
                    BCON_BOOL(true), "v", BCON_INT64(0));
    bson_append_array_begin(o->d, "ob", -1, &o->ob);
}

static void old_item(old_doc *o, const char *i, int64_t seq, const char *data)
{
    bson_t item;
    bson_append_document_begin(&o->ob, i, -1, &item);
    BSON_APPEND_INT64(&item, "s", seq);
    BSON_APPEND_UTF8(&item, "t", "message.test");
    BSON_APPEND_BINARY(&item, "d", BSON_SUBTYPE_BINARY, (const uint8_t *)data,
                       (uint32_t)strlen(data));
    bson_append_document_end(&o->ob, &item);
}

static bson_t *old_end(old_doc *o)
{
    bson_append_array_end(o->d, &o->ob);
    return o->d;
}

/* A database written by the earlier format (one writer, seqs from a
 * counter, items {s, t, k, d} in documents): an item the old relay had not
 * acknowledged is delivered, one it had is not, and new seqs start above
 * the old counter. */
START_TEST(test_items_of_the_earlier_format)
{
    char url[256];
    new_store_url(url);
    raw r;
    raw_open(&r, url);
    raw_insert(r.meta, BCON_NEW("_id", BCON_UTF8("outbox"), "n", BCON_INT64(40)));
    raw_insert(r.meta, BCON_NEW("_id", BCON_UTF8("acked"), "n", BCON_INT64(30)));
    /* Items 29 (acknowledged by the old relay) and 35 (not yet). */
    old_doc old;
    old_begin(&old, INT64_C(1700000000000000), "old");
    old_item(&old, "0", 29, "acked");
    old_item(&old, "1", 35, "pending");
    raw_insert(r.msgs, old_end(&old));
    raw_close(&r);

    void *impl = open_store_at(url);
    static char datas[8][128];
    int64_t last = 0;
    ck_assert_uint_eq(fetch_all(impl, datas, 8, &last), 1);
    ck_assert_str_eq(datas[0], "pending");
    ck_assert_int_gt(last, 40);
    ck_assert_chat_ok(S->outbox_ack(impl, last));
    ck_assert_uint_eq(fetch_all(impl, datas, 8, &last), 0);
    S->close(impl);

    /* The upgrade scans read every message (seconds per 20,000 on
     * FerretDB): done once, recorded, and not run again. A document of the
     * earlier format written now is left as it is. */
    raw_open(&r, url);
    bson_t *f = BCON_NEW("_id", BCON_UTF8("upgrades"));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(r.meta, f, NULL, NULL);
    const bson_t *doc;
    ck_assert_msg(mongoc_cursor_next(cur, &doc), "no record of the upgrades");
    bson_iter_t it;
    ck_assert(bson_iter_init_find(&it, doc, "fill") && bson_iter_as_bool(&it));
    ck_assert(bson_iter_init_find(&it, doc, "ob") && bson_iter_as_bool(&it));
    mongoc_cursor_destroy(cur);
    bson_destroy(f);
    old_begin(&old, INT64_C(1700000000000001), "old too");
    old_item(&old, "0", 36, "late");
    raw_insert(r.msgs, old_end(&old));
    impl = open_store_at(url);
    ck_assert_uint_eq(fetch_all(impl, datas, 8, &last), 0);
    S->close(impl);
    f = BCON_NEW("_id", BCON_UTF8("C1:1700000000000001"));
    cur = mongoc_collection_find_with_opts(r.msgs, f, NULL, NULL);
    ck_assert(mongoc_cursor_next(cur, &doc));
    ck_assert_msg(!bson_iter_init_find(&it, doc, "q"), "the fill scan ran again");
    mongoc_cursor_destroy(cur);
    bson_destroy(f);
    raw_close(&r);
}
END_TEST

/* A removed message stays as a stub holding its _id (channel + ts): a post
 * that would pick that ts moves on to the next one (ts are not reused). */
START_TEST(test_post_past_a_tombstone)
{
    char url[256];
    void *impl = open_store(url);
    const int64_t T = INT64_C(1900000000000000);
    raw r;
    raw_open(&r, url);
    raw_insert(r.msgs, BCON_NEW("_id", BCON_UTF8("C1:1900000000000000"), "c", BCON_UTF8("-C1"),
                                "ts", BCON_INT64(T), "u", BCON_UTF8("U1"), "k",
                                BCON_UTF8("t:1900000000000000"), "v", BCON_INT64(1), "x",
                                BCON_BOOL(true)));
    raw_close(&r);

    chat_message m, *out = NULL;
    memset(&m, 0, sizeof m);
    strcpy(m.channel, "C1");
    strcpy(m.user, "U1");
    m.text = "next";
    ck_assert_chat_ok(S->post(impl, &m, T, NULL, NULL, &out));
    ck_assert_str_eq(out->ts, "1900000000.000001");
    chat_message_free(out);
    ck_assert_chat_err(S->get(impl, "C1", "1900000000.000000", &out), CHAT_ERR_MESSAGE_NOT_FOUND);
    ck_assert_uint_eq(history_count(impl), 1);
    S->close(impl);
}
END_TEST

/* Items are cleared from their message documents in batches, so a store
 * closed early may leave staged ones behind: the next store's relay must not
 * deliver them again once acked. */
START_TEST(test_acked_items_stay_acked)
{
    char url[256], ts[CHAT_TS_SIZE];
    void *impl = open_store(url);
    static char datas[8][128];
    int64_t last = 0;
    ck_assert_uint_eq(fetch_all(impl, datas, 8, &last), 0); /* the first sweep, done */
    /* Two documents, each changed once: both stay in the batch to clear. */
    ck_assert_chat_ok(post(impl, "a", NULL, ts));
    ck_assert_chat_ok(post(impl, "a2", NULL, NULL));
    ck_assert_uint_eq(fetch_all(impl, datas, 8, &last), 2);
    ck_assert_chat_ok(S->outbox_ack(impl, last));
    S->close(impl);

    impl = open_store_at(url);
    ck_assert_uint_eq(fetch_all(impl, datas, 8, &last), 0);
    ck_assert_chat_ok(post(impl, "b", NULL, NULL));
    ck_assert_uint_eq(fetch_all(impl, datas, 8, &last), 1);
    ck_assert(strstr(datas[0], "|b") != NULL);
    S->close(impl);
}
END_TEST

/* A message changed again and again (collecting reactions) must not carry a
 * copy of itself per change: its document keeps at most the latest item. */
START_TEST(test_hot_document_stays_small)
{
    char url[256], ts[CHAT_TS_SIZE];
    void *impl = open_store(url);
    static char datas[16][128];
    int64_t last = 0;
    ck_assert_uint_eq(fetch_all(impl, datas, 16, &last), 0); /* the first sweep, done */
    ck_assert_chat_ok(post(impl, "popular", NULL, ts));
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof name, "r%d", i);
        ck_assert_chat_ok(S->add_reaction(impl, "C1", ts, name, "U2", rec_outbox, NULL));
    }
    raw r;
    raw_open(&r, url);
    bson_t *q = BCON_NEW("t", BCON_UTF8("popular"));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(r.msgs, q, NULL, NULL);
    const bson_t *doc;
    ck_assert_msg(mongoc_cursor_next(cur, &doc), "the message document is missing");
    bson_iter_t it, ob;
    uint32_t items = 0;
    if (bson_iter_init_find(&it, doc, "ob") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &ob))
        while (bson_iter_next(&ob))
            items++;
    ck_assert_uint_le(items, 1);
    mongoc_cursor_destroy(cur);
    bson_destroy(q);
    raw_close(&r);
    S->close(impl);
}
END_TEST

START_TEST(test_urls)
{
    const chat_message_store_ops *ops = chati_backend_find(CHATI_IFACE_MESSAGE, "mongodb://x");
    ck_assert_ptr_nonnull(ops);
    void *impl = NULL;
    ck_assert_chat_err(ops->open("mongodb://127.0.0.1:notaport", contract_cfg(), &impl),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(ops->open("mongodb://", contract_cfg(), &impl), CHAT_ERR_INVALID_ARGUMENTS);
    char url[256];
    snprintf(url, sizeof url, "%s/bad.name", server_url);
    ck_assert_chat_err(ops->open(url, contract_cfg(), &impl), CHAT_ERR_INVALID_ARGUMENTS);
    /* Driver options pass through: read preference, write concern. */
    snprintf(url, sizeof url, "%s/opts?readPreference=secondaryPreferred&w=1&appname=t",
             server_url);
    ck_assert_chat_ok(ops->open(url, contract_cfg(), &impl));
    S = ops;
    char ts[CHAT_TS_SIZE];
    ck_assert_chat_ok(post(impl, "hello", NULL, ts));
    chat_message *m = NULL;
    ck_assert_chat_ok(ops->get(impl, "C1", ts, &m));
    ck_assert_str_eq(m->text, "hello");
    chat_message_free(m);
    ops->close(impl);
    impl = NULL;
    ck_assert_chat_err(ops->open("mongodb://127.0.0.1:1/x?readPreference=bogus", contract_cfg(),
                                 &impl),
                       CHAT_ERR_INVALID_ARGUMENTS);
    /* Nothing listening: unavailable, quickly. */
    ASSERT_DOWN(ops->open("mongodb://127.0.0.1:1/chat", contract_cfg(), &impl));
    ck_assert_ptr_null(impl);
}
END_TEST

static Suite *mongo_suite(void)
{
    Suite *s = suite_create("message store mongodb");
    TCase *tc = tcase_create("restart");
    tcase_add_unchecked_fixture(tc, start_server, stop_server);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_kill_restart);
    tcase_add_test(tc, test_posts_racing_a_kill);
    tcase_add_test(tc, test_outbox_left_by_dead_writers);
    tcase_add_test(tc, test_items_of_the_earlier_format);
    tcase_add_test(tc, test_post_past_a_tombstone);
    tcase_add_test(tc, test_acked_items_stay_acked);
    tcase_add_test(tc, test_hot_document_stays_small);
    tcase_add_test(tc, test_urls);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    fixture = argc > 1 ? argv[1] : getenv("CHAT_TEST_FERRETDB_FIXTURE");
    if (fixture == NULL) {
        fprintf(stderr, "usage: %s path/to/tests/fixtures/ferretdb.sh\n", argv[0]);
        return 1;
    }
    contract_init(argc, argv, "mongodb:");
    return chat_test_run(mongo_suite());
}
