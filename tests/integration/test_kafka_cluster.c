/*
 * libchat on a 3-broker Kafka cluster (replication=3, min.insync.replicas=2)
 * while one broker dies (issue 12: "one Kafka broker" killed -9 under load).
 * Run by tests/fixtures/kafka.sh exec --brokers 3: argv[1] is the fixture
 * script, argv[2] the cluster's URL, CHAT_TEST_KAFKA_DIR its directory
 * (broker<i> in it, for kill and restart of one broker).
 *
 * The topics libchat creates must have 3 replicas and min.insync.replicas=2.
 * Ada posts N_POSTS messages round-robin in N_CHANNELS channels that bob is
 * in (every tenth mentioning him), paced; after the first third, the leader
 * of message.created's partition 0 is killed -9. Every post must succeed (the
 * outbox holds events while Kafka fails over), the test's group must see
 * every post (duplicates counted, allowed: delivery is at least once), and
 * the application-level result must be exact: bob's unread and mention counts
 * in each channel. The error window is printed as the longest wait from a
 * post to its delivery and the longest pause in deliveries. Then the broker
 * is restarted and must rejoin every partition's in-sync replicas.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include <chat/chat.h>

#include "fixture.h"

#define N_POSTS 360
#define N_CHANNELS 12
#define KILL_AT (N_POSTS / 3)
#define PACE_MS 15
#define DELIVERY_MS 60000
#define CATCH_UP_MS 60000

static const char *fixture_sh, *kafka_url, *kafka_dir;
static char bootstrap[512];

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs a shell command; its output (up to outlen) into out. */
static int sh(char *out, size_t outlen, const char *fmt, ...) CHAT_PRINTF(3, 4);
static int sh(char *out, size_t outlen, const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *f = popen(cmd, "r");
    ck_assert_msg(f != NULL, "popen %s", cmd);
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        if (out != NULL && n + 1 < outlen)
            out[n++] = (char)c;
    if (out != NULL && outlen > 0)
        out[n] = '\0';
    return pclose(f);
}

/* kcat's metadata of topic: per partition its leader and how many replicas
 * and in-sync replicas it has; returns the partition count. */
typedef struct part_md {
    int leader, replicas, isrs;
} part_md;

/* "1,2,3, isrs..." (numbers up to a space or the line's end): 3. */
static int count_list(const char *s)
{
    if (*s < '0' || *s > '9')
        return 0;
    int n = 1;
    for (; *s && *s != ' ' && *s != '\n'; s++)
        n += *s == ',' && s[1] >= '0' && s[1] <= '9';
    return n;
}

static int topic_md(const char *topic, part_md *parts, int max)
{
    char out[8192];
    if (sh(out, sizeof out, "kcat -L -m 3 -b '%s' -t '%s' 2>/dev/null", bootstrap, topic) != 0)
        return 0;
    int n = 0;
    for (char *p = strstr(out, "partition "); p != NULL && n < max;
         p = strstr(p + 1, "partition ")) {
        int id, leader;
        if (sscanf(p, "partition %d, leader %d,", &id, &leader) != 2 || id < 0 || id >= max)
            continue;
        char *r = strstr(p, "replicas: "), *i = strstr(p, "isrs: ");
        parts[id] = (part_md){leader, r ? count_list(r + 10) : 0, i ? count_list(i + 6) : 0};
        n = id + 1 > n ? id + 1 : n;
    }
    return n;
}

/* The topic's min.insync.replicas, read back from the cluster. */
static int topic_min_insync(const char *topic)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ck_assert_msg(rk != NULL, "rd_kafka_new: %s", err);
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConfigs(rk, &res, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    ck_assert_msg(ev != NULL && !rd_kafka_event_error(ev), "DescribeConfigs %s: %s", topic,
                  ev ? rd_kafka_event_error_string(ev) : "no answer");
    size_t nr = 0, nc = 0;
    const rd_kafka_ConfigResource_t **rs =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &nr);
    ck_assert_int_eq(nr, 1);
    const rd_kafka_ConfigEntry_t **ce = rd_kafka_ConfigResource_configs(rs[0], &nc);
    int v = -1;
    for (size_t i = 0; i < nc; i++)
        if (strcmp(rd_kafka_ConfigEntry_name(ce[i]), "min.insync.replicas") == 0)
            v = atoi(rd_kafka_ConfigEntry_value(ce[i]));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_destroy(rk);
    return v;
}

/* ---- what the test's group saw, and when ---- */

static long long posted_at[N_POSTS], delivered_at[N_POSTS];
static int deliveries[N_POSTS];
static _Atomic int n_posted;
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static int n_distinct, n_dups, n_other;
static long long last_delivery, longest_pause, pause_from;

static chat_err on_event(void *arg, const chat_event *ev)
{
    (void)arg;
    const chat_message *m = chat_event_message(ev);
    const char *text = m ? chat_message_text(m) : NULL;
    int i = -1;
    long long t = now_ms();
    pthread_mutex_lock(&seen_mu);
    if (text != NULL && sscanf(text, "post %d", &i) == 1 && i >= 0 && i < N_POSTS) {
        if (deliveries[i]++ == 0) {
            delivered_at[i] = t;
            n_distinct++;
        } else {
            n_dups++;
        }
        if (last_delivery != 0 && t - last_delivery > longest_pause) {
            longest_pause = t - last_delivery;
            pause_from = last_delivery;
        }
        last_delivery = t;
    } else {
        n_other++;
    }
    pthread_mutex_unlock(&seen_mu);
    return CHAT_OK;
}

static int distinct(void)
{
    pthread_mutex_lock(&seen_mu);
    int n = n_distinct;
    pthread_mutex_unlock(&seen_mu);
    return n;
}

/* ---- the killer: waits for KILL_AT posts, then kill -9 one broker ---- */

static int victim;
static long long killed_at;

static void *killer(void *arg)
{
    (void)arg;
    while (atomic_load(&n_posted) < KILL_AT)
        sleep_ms(2);
    long long t0 = now_ms();
    int rc = sh(NULL, 0, "bash '%s' kill '%s/broker%d'", fixture_sh, kafka_dir, victim);
    killed_at = t0;
    fprintf(stderr, "kafka: broker %d killed -9 after %d posts (kill took %lld ms, rc %d)\n",
            victim, KILL_AT, now_ms() - t0, rc);
    return NULL;
}

START_TEST(test_broker_dies_under_load)
{
    char url[768];
    snprintf(url, sizeof url, "%s?replication=3", kafka_url);
    char *dir;
    chat_ctx *ctx = fixture_open(&dir, "broker", url, NULL);
    person ada = fixture_person(ctx, "ada@example.com");
    person bob = fixture_person(ctx, "bob@example.com");
    char *ch[N_CHANNELS];
    for (int c = 0; c < N_CHANNELS; c++) {
        char name[32];
        snprintf(name, sizeof name, "cluster-%d", c);
        ch[c] = fixture_channel(ctx, &ada, name, false);
        ck_assert_chat_ok(chat_channel_join(ctx, bob.s, ch[c], NULL));
    }
    chat_subscription *sub = NULL;
    ck_assert_chat_ok(chat_subscribe(ctx, "cluster_g", 1u << CHAT_EVENT_MESSAGE_CREATED,
                                     on_event, NULL, &sub));
    ck_assert_chat_ok(chat_drain(ctx, 30000));

    /* The topics libchat created: 3 replicas, all in sync, min.insync 2. */
    part_md parts[16];
    int np = topic_md("message.created", parts, 16);
    ck_assert_int_gt(np, 0);
    for (int p = 0; p < np; p++) {
        ck_assert_msg(parts[p].replicas == 3 && parts[p].isrs == 3,
                      "message.created[%d]: %d replicas, %d in sync", p, parts[p].replicas,
                      parts[p].isrs);
    }
    ck_assert_int_eq(topic_min_insync("message.created"), 2);
    victim = parts[0].leader;
    ck_assert_int_ge(victim, 1);

    pthread_t kt;
    ck_assert_int_eq(pthread_create(&kt, NULL, killer, NULL), 0);
    long long t0 = now_ms(), slowest_post = 0;
    int failed = 0;
    for (int i = 0; i < N_POSTS; i++) {
        char text[64];
        if (i % 10 == 0)
            snprintf(text, sizeof text, "post %d for <@%s>", i, bob.id);
        else
            snprintf(text, sizeof text, "post %d", i);
        long long t = now_ms();
        posted_at[i] = t;
        chat_err rv = chat_message_post(ctx, ada.s, ch[i % N_CHANNELS], text, NULL, NULL, 0,
                                        NULL);
        if (rv != CHAT_OK) {
            fprintf(stderr, "post %d failed: %s\n", i, chat_strerror(rv));
            failed++;
        }
        if (now_ms() - t > slowest_post)
            slowest_post = now_ms() - t;
        atomic_store(&n_posted, i + 1);
        sleep_ms(PACE_MS);
    }
    fprintf(stderr, "kafka: %d posts in %lld ms, %d failed, slowest post %lld ms\n", N_POSTS,
            now_ms() - t0, failed, slowest_post);
    pthread_join(kt, NULL);
    ck_assert_int_eq(failed, 0);

    t0 = now_ms();
    while (distinct() < N_POSTS && now_ms() - t0 < DELIVERY_MS)
        sleep_ms(20);
    ck_assert_chat_ok(chat_drain(ctx, 60000));
    sleep_ms(500); /* a late duplicate would show up now */

    pthread_mutex_lock(&seen_mu);
    long long worst = 0;
    int worst_i = -1, late = 0;
    for (int i = 0; i < N_POSTS; i++) {
        ck_assert_msg(deliveries[i] >= 1, "post %d (acknowledged) was never delivered", i);
        long long lat = delivered_at[i] - posted_at[i];
        if (lat > worst) {
            worst = lat;
            worst_i = i;
        }
        late += lat > 1000;
    }
    fprintf(stderr,
            "kafka: error window: longest post-to-delivery %lld ms (post %d, %lld ms after the "
            "kill), %d posts waited over 1 s, longest pause in deliveries %lld ms (from %lld ms "
            "after the kill); %d delivered, %d duplicates, %d other events\n",
            worst, worst_i, posted_at[worst_i] - killed_at, late, longest_pause,
            pause_from - killed_at, n_distinct, n_dups, n_other);
    ck_assert_int_eq(n_distinct, N_POSTS);
    pthread_mutex_unlock(&seen_mu);

    /* The application-level result is exact: bob's counts in every channel. */
    for (int c = 0; c < N_CHANNELS; c++) {
        chat_channel *info = NULL;
        ck_assert_chat_ok(chat_channel_info(ctx, bob.s, ch[c], &info));
        int64_t want_unread = 0, want_mentions = 0;
        for (int i = c; i < N_POSTS; i += N_CHANNELS) {
            want_unread++;
            want_mentions += i % 10 == 0;
        }
        ck_assert_msg(chat_channel_unread_count(info) == want_unread &&
                          chat_channel_mention_count(info) == want_mentions,
                      "channel %d: bob has %lld unread, %lld mentions; want %lld, %lld", c,
                      (long long)chat_channel_unread_count(info),
                      (long long)chat_channel_mention_count(info), (long long)want_unread,
                      (long long)want_mentions);
        chat_channel_free(info);
    }

    /* From outside: the topic holds each event once (the idempotent
     * producer's retries across the failover added none). */
    char count[64];
    ck_assert_int_eq(sh(count, sizeof count,
                        "kcat -C -q -e -b '%s' -t message.created -o beginning -f 'x\\n' "
                        "| wc -l",
                        bootstrap),
                     0);
    fprintf(stderr, "kafka: message.created holds %d records\n", atoi(count));
    ck_assert_int_eq(atoi(count), N_POSTS);

    /* The broker comes back and catches up: in every partition's ISR again. */
    t0 = now_ms();
    ck_assert_int_eq(sh(NULL, 0, "bash '%s' restart '%s/broker%d' >/dev/null", fixture_sh,
                        kafka_dir, victim),
                     0);
    long long restarted = now_ms() - t0;
    bool synced = false;
    while (!synced && now_ms() - t0 < CATCH_UP_MS) {
        static const char *const topics[] = {"message.created", "__consumer_offsets"};
        synced = true;
        for (size_t k = 0; k < 2 && synced; k++) {
            int n = topic_md(topics[k], parts, 16);
            synced = n > 0;
            for (int p = 0; p < n; p++)
                synced = synced && parts[p].isrs == 3;
        }
        if (!synced)
            sleep_ms(200);
    }
    fprintf(stderr, "kafka: broker %d restarted in %lld ms, back in every ISR after %lld ms\n",
            victim, restarted, now_ms() - t0);
    ck_assert_msg(synced, "broker %d not back in every ISR after %d ms", victim, CATCH_UP_MS);

    chat_unsubscribe(sub);
    for (int c = 0; c < N_CHANNELS; c++)
        free(ch[c]);
    fixture_person_free(&ada);
    fixture_person_free(&bob);
    fixture_close(ctx, dir);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc < 3 || getenv("CHAT_TEST_KAFKA_DIR") == NULL) {
        fprintf(stderr, "usage: kafka.sh exec --brokers 3 %s path/to/kafka.sh {kafka}\n",
                argv[0]);
        return 2;
    }
    fixture_sh = argv[1];
    kafka_url = argv[2];
    kafka_dir = getenv("CHAT_TEST_KAFKA_DIR");
    snprintf(bootstrap, sizeof bootstrap, "%s", kafka_url + strlen("kafka://"));
    Suite *s = suite_create("kafka cluster");
    TCase *tc = tcase_create("cluster");
    tcase_set_timeout(tc, 100);
    tcase_add_test(tc, test_broker_dies_under_load);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
