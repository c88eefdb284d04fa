/* Where the MongoDB store's reads go (backends/mongo/reads.c): the URL's
 * read preference, tags and max staleness reach the reads that may be stale
 * and nothing else; the pool keeps the primary; a channel this store wrote
 * lately is read from the primary (read-your-writes through one store). No
 * server is needed: this is the routing decision, the contract suite runs
 * the store itself with such a URL (contract_message_store_mongo_secondary). */
#include <string.h>
#include <time.h>

#include "backends/mongo/mongo.h"
#include "testutil.h"

static mongoc_uri_t *uri_of(const char *url)
{
    bson_error_t err;
    mongoc_uri_t *u = mongoc_uri_new_with_error(url, &err);
    ck_assert_msg(u != NULL, "%s: %s", url, err.message);
    return u;
}

START_TEST(primary_by_default)
{
    chati_mongo s;
    memset(&s, 0, sizeof s);
    mongoc_uri_t *u = uri_of("mongodb://127.0.0.1:1/chat");
    chati_mongo_reads_init(&s, u);
    ck_assert_ptr_null(s.reads);
    ck_assert_ptr_null(chati_mongo_reads(&s, "C1"));
    ck_assert_ptr_null(chati_mongo_reads(&s, NULL));
    chati_mongo_wrote(&s, "C1"); /* nothing to track */
    ck_assert_uint_eq(s.n_recent, 0);
    ck_assert_int_eq(mongoc_read_prefs_get_mode(mongoc_uri_get_read_prefs_t(u)),
                     MONGOC_READ_PRIMARY);
    mongoc_uri_destroy(u);
    chati_mongo_reads_free(&s);
}
END_TEST

START_TEST(url_preference_for_stale_reads_only)
{
    chati_mongo s;
    memset(&s, 0, sizeof s);
    mongoc_uri_t *u = uri_of("mongodb://127.0.0.1:1,127.0.0.1:2/chat?replicaSet=rs"
                             "&readPreference=secondaryPreferred&maxStalenessSeconds=90"
                             "&readPreferenceTags=dc:east,rack:1&readPreferenceTags=");
    chati_mongo_reads_init(&s, u);
    /* The pool (writes, outbox, relay, lease, single messages) reads the primary. */
    const mongoc_read_prefs_t *pool = mongoc_uri_get_read_prefs_t(u);
    ck_assert_int_eq(mongoc_read_prefs_get_mode(pool), MONGOC_READ_PRIMARY);
    ck_assert(bson_empty(mongoc_read_prefs_get_tags(pool)));
    ck_assert_int_eq(mongoc_read_prefs_get_max_staleness_seconds(pool),
                     MONGOC_NO_MAX_STALENESS);
    /* History and the like: the URL's, tags and staleness included. */
    const mongoc_read_prefs_t *r = chati_mongo_reads(&s, "C1");
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(mongoc_read_prefs_get_mode(r), MONGOC_READ_SECONDARY_PREFERRED);
    ck_assert_int_eq(mongoc_read_prefs_get_max_staleness_seconds(r), 90);
    char *tags = bson_as_canonical_extended_json(mongoc_read_prefs_get_tags(r), NULL);
    ck_assert_msg(strstr(tags, "\"dc\" : \"east\"") != NULL && strstr(tags, "\"rack\"") != NULL,
                  "tags %s", tags);
    bson_free(tags);
    /* The window after a write is maxStalenessSeconds. */
    ck_assert_int_eq(s.fresh_ms, 90000);

    /* After this store writes C1: C1 from the primary, C2 still the URL's. */
    chati_mongo_wrote(&s, "C1");
    ck_assert_ptr_null(chati_mongo_reads(&s, "C1"));
    ck_assert_ptr_eq(chati_mongo_reads(&s, "C2"), s.reads);
    /* Search over channels: the primary when any of them was written. */
    const char chans[2][CHAT_ID_SIZE] = {"C2", "C1"};
    ck_assert_ptr_null(chati_mongo_reads_any(&s, NULL, 0, chans, 2));
    ck_assert_ptr_eq(chati_mongo_reads_any(&s, NULL, 0, chans, 1), s.reads);
    /* Files are one key. */
    ck_assert_ptr_eq(chati_mongo_reads(&s, NULL), s.reads);
    chati_mongo_wrote(&s, NULL);
    ck_assert_ptr_null(chati_mongo_reads(&s, NULL));
    mongoc_uri_destroy(u);
    chati_mongo_reads_free(&s);
}
END_TEST

START_TEST(window_ends)
{
    chati_mongo s;
    memset(&s, 0, sizeof s);
    mongoc_uri_t *u = uri_of("mongodb://127.0.0.1:1/chat?readPreference=secondary");
    chati_mongo_reads_init(&s, u);
    ck_assert_int_eq(s.fresh_ms, 10000);
    s.fresh_ms = 50; /* shortened to keep the test quick */
    for (int i = 0; i < 100; i++) {
        char ch[CHAT_ID_SIZE];
        snprintf(ch, sizeof ch, "C%d", i);
        chati_mongo_wrote(&s, ch);
    }
    ck_assert_uint_eq(s.n_recent, 100);
    ck_assert_ptr_null(chati_mongo_reads(&s, "C7"));
    struct timespec ts = {0, 80 * 1000000L};
    nanosleep(&ts, NULL);
    ck_assert_ptr_eq(chati_mongo_reads(&s, "C7"), s.reads);
    /* The next write drops what is past the window. */
    chati_mongo_wrote(&s, "C200");
    ck_assert_uint_eq(s.n_recent, 1);
    mongoc_uri_destroy(u);
    chati_mongo_reads_free(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mongo reads");
    TCase *tc = tcase_create("reads");
    tcase_add_test(tc, primary_by_default);
    tcase_add_test(tc, url_preference_for_stale_reads_only);
    tcase_add_test(tc, window_ends);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
