/*
 * The consumers that keep derived state, given every message event again.
 * Kafka delivers at least once: a service instance killed after handling a
 * batch and before committing it leaves the batch to the next owner of its
 * partitions. Here the worst case: after posting, editing, deleting and
 * marking, libchat is closed, the "user" and "channel" groups' committed
 * offsets are set back to 0 (as if nothing had ever been committed), and
 * libchat is opened again on the same stores: its consumers handle every
 * message event a second time. Unread and mention counts and the channel's
 * last activity must come out as before.
 *
 * Run by tests/fixtures/kafka.sh exec: argv[1] is the broker's URL; with
 * argv[2], a PostgreSQL URL, the user and channel stores are PostgreSQL's
 * (else SQLite's, in the data directory).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include <chat/chat.h>

#include "fixture.h"

#define WAIT_MS 60000

static const char *kafka_url;
static char prefix[32], url[512], bootstrap[256], pg_users[512], pg_channels[512];

static const char *const message_topics[] = {"message.created", "message.changed",
                                              "message.deleted"};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A consumer of group (libchat's name) that never joins it: it only reads
 * and sets the group's committed offsets, which Kafka allows while the group
 * has no members. */
static rd_kafka_t *group_client(const char *group)
{
    char err[256], gid[128];
    snprintf(gid, sizeof gid, "%s%s", prefix, group);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err),
                     RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "group.id", gid, err, sizeof err),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    ck_assert_msg(rk != NULL, "rd_kafka_new: %s", err);
    return rk;
}

/* Every partition of the message topics, offsets unset. */
static rd_kafka_topic_partition_list_t *message_partitions(rd_kafka_t *rk)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (size_t t = 0; t < sizeof message_topics / sizeof *message_topics; t++) {
        char name[128];
        snprintf(name, sizeof name, "%s%s", prefix, message_topics[t]);
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, name, NULL);
        const struct rd_kafka_metadata *md = NULL;
        ck_assert_int_eq(rd_kafka_metadata(rk, 0, rkt, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
        ck_assert_int_eq(md->topic_cnt, 1);
        ck_assert_int_gt(md->topics[0].partition_cnt, 0);
        for (int p = 0; p < md->topics[0].partition_cnt; p++)
            rd_kafka_topic_partition_list_add(l, name, md->topics[0].partitions[p].id);
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
    }
    return l;
}

/* As if the group had never committed: its next members start at offset 0. */
static void rewind_group(const char *group)
{
    rd_kafka_t *rk = group_client(group);
    rd_kafka_topic_partition_list_t *l = message_partitions(rk);
    for (int i = 0; i < l->cnt; i++)
        l->elems[i].offset = 0;
    rd_kafka_resp_err_t e = rd_kafka_commit(rk, l, 0);
    ck_assert_msg(e == RD_KAFKA_RESP_ERR_NO_ERROR, "rewinding %s: %s", group,
                  rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
}

/* Records in the message topics, and how many of them group has committed. */
static void group_progress(const char *group, long long *records, long long *committed)
{
    rd_kafka_t *rk = group_client(group);
    rd_kafka_topic_partition_list_t *l = message_partitions(rk);
    ck_assert_int_eq(rd_kafka_committed(rk, l, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    *records = *committed = 0;
    for (int i = 0; i < l->cnt; i++) {
        int64_t lo = 0, hi = 0;
        ck_assert_int_eq(rd_kafka_query_watermark_offsets(rk, l->elems[i].topic,
                                                          l->elems[i].partition, &lo, &hi,
                                                          10000),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        *records += hi;
        *committed += l->elems[i].offset > 0 ? l->elems[i].offset : 0;
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
}

static void wait_handled(const char *group)
{
    long long deadline = now_ms() + WAIT_MS, records = 0, committed = 0;
    do {
        group_progress(group, &records, &committed);
        if (committed >= records)
            break;
        usleep(100 * 1000);
    } while (now_ms() < deadline);
    ck_assert_msg(records > 0 && committed == records,
                  "group %s committed %lld of %lld records", group, committed, records);
}

typedef struct counts {
    int64_t unread, mentions;
    char last_activity[32];
} counts;

/* The context on the stores in data (or PostgreSQL's) and the test's topics. */
static chat_ctx *open_ctx(const char *data, char **dir)
{
    if (pg_users[0] == '\0')
        return fixture_open(dir, "data_dir", data, "broker", url, NULL);
    return fixture_open(dir, "data_dir", data, "broker", url, "store.user", pg_users,
                        "store.channel", pg_channels, NULL);
}

static counts read_counts(chat_ctx *ctx, const person *p, const char *channel)
{
    chat_channel *c = NULL;
    ck_assert_chat_ok(chat_channel_info(ctx, p->s, channel, &c));
    counts k = {chat_channel_unread_count(c), chat_channel_mention_count(c), ""};
    snprintf(k.last_activity, sizeof k.last_activity, "%s", chat_channel_last_activity(c));
    chat_channel_free(c);
    return k;
}

START_TEST(test_replayed_events_change_nothing)
{
    char *data = chat_test_tmpdir("kafka-replay"), *dir = NULL;
    chat_ctx *ctx = open_ctx(data, &dir);
    person ada = fixture_person(ctx, "ada@example.com");
    person bob = fixture_person(ctx, "bob@example.com");
    char *ch = fixture_channel(ctx, &ada, "replay", false);
    ck_assert_chat_ok(chat_channel_join(ctx, bob.s, ch, NULL));

    /* 20 posts by ada, every fifth mentioning bob; two by bob (never his
     * unread); an edit adds a mention to m1; m2 and m5 are deleted; bob has
     * read up to m9. Left: m10..m19 unread, m10 and m15 mentioning him. */
    chat_message *m[20] = {NULL};
    for (int i = 0; i < 20; i++) {
        char text[64];
        if (i % 5 == 0)
            snprintf(text, sizeof text, "m%d for <@%s>", i, bob.id);
        else
            snprintf(text, sizeof text, "m%d", i);
        ck_assert_chat_ok(chat_message_post(ctx, ada.s, ch, text, NULL, NULL, 0, &m[i]));
        if (i == 7 || i == 13)
            ck_assert_chat_ok(chat_message_post(ctx, bob.s, ch, "me", NULL, NULL, 0, NULL));
    }
    char edited[64];
    snprintf(edited, sizeof edited, "m1 now for <@%s>", bob.id);
    ck_assert_chat_ok(chat_message_update(ctx, ada.s, ch, chat_message_ts(m[1]), edited, NULL));
    ck_assert_chat_ok(chat_message_delete(ctx, ada.s, ch, chat_message_ts(m[2])));
    ck_assert_chat_ok(chat_message_delete(ctx, ada.s, ch, chat_message_ts(m[5])));
    ck_assert_chat_ok(chat_channel_mark(ctx, bob.s, ch, chat_message_ts(m[9])));
    ck_assert_chat_ok(chat_drain(ctx, WAIT_MS));
    counts before = read_counts(ctx, &bob, ch);
    ck_assert_int_eq(before.unread, 10);
    ck_assert_int_eq(before.mentions, 2);
    ck_assert_str_eq(before.last_activity, chat_message_ts(m[19]));
    fixture_person_free(&bob);
    chat_close(ctx);
    chat_test_rmtree(dir); /* the fixture's own; the stores are in data */

    rewind_group("user");
    rewind_group("channel");
    ctx = open_ctx(data, &dir);
    wait_handled("user");
    wait_handled("channel");
    ck_assert_chat_ok(chat_auth_login(ctx, "bob@example.com", FIXTURE_PASSWORD, &bob.token));
    ck_assert_chat_ok(chat_auth_verify(ctx, bob.token, &bob.s));
    counts after = read_counts(ctx, &bob, ch);
    ck_assert_msg(after.unread == before.unread && after.mentions == before.mentions,
                  "after the replay: %lld unread, %lld mentions; before: %lld, %lld",
                  (long long)after.unread, (long long)after.mentions,
                  (long long)before.unread, (long long)before.mentions);
    ck_assert_str_eq(after.last_activity, before.last_activity);

    for (int i = 0; i < 20; i++)
        chat_message_free(m[i]);
    chat_session_free(bob.s);
    chat_free(bob.token);
    fixture_person_free(&ada);
    free(ch);
    fixture_close(ctx, dir);
    chat_test_rmtree(data);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: kafka.sh exec %s {kafka} [postgresql://...]\n", argv[0]);
        return 2;
    }
    if (argc > 2) {
        const char *sep = strchr(argv[2], '?') ? "&" : "?";
        snprintf(pg_users, sizeof pg_users, "%s%sschema=replay_users", argv[2], sep);
        snprintf(pg_channels, sizeof pg_channels, "%s%sschema=replay_channels", argv[2], sep);
    }
    kafka_url = argv[1];
    /* Fresh topics and groups, whatever ran on this broker before. */
    snprintf(prefix, sizeof prefix, "replay%ld.", (long)getpid());
    snprintf(url, sizeof url, "%s%sprefix=%s", kafka_url, strchr(kafka_url, '?') ? "&" : "?",
             prefix);
    const char *host = strstr(kafka_url, "://");
    snprintf(bootstrap, sizeof bootstrap, "%.*s", (int)strcspn(host + 3, "?/"), host + 3);
    Suite *s = suite_create("kafka redelivery");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_replayed_events_change_nothing);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
