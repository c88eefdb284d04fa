/*
 * libchat on the Kafka broker while Kafka goes away (issue: "publishing must
 * survive a broker outage"). Run by tests/fixtures/kafka.sh exec, which
 * started a broker: argv[1] is the fixture script, argv[2] the broker's URL,
 * CHAT_TEST_KAFKA_DIR its directory (for stop and restart on the same port
 * and data).
 *
 * With two consumer groups subscribed, Kafka is stopped, 500 messages are
 * posted (every post succeeds: the outbox keeps the events), Kafka is started
 * again, and each group must get every message.created event exactly once
 * (by event id and by text), within a bounded time. kcat then counts the
 * records in Kafka's topic from outside: 500, no duplicates from retries.
 * Also: bad URLs and an unreachable broker fail chat_open with a clear error.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <chat/chat.h>

#include "fixture.h"

#define N_POSTS 500
#define DELIVERY_MS 90000

static const char *fixture_sh, *kafka_url, *kafka_dir;

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

/* Runs a shell command; its first output line (if any) into out. */
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
    char line[512] = "";
    if (fgets(line, sizeof line, f) == NULL)
        line[0] = '\0';
    while (fgetc(f) != EOF) {
    }
    int st = pclose(f);
    line[strcspn(line, "\n")] = '\0';
    if (out != NULL)
        snprintf(out, outlen, "%s", line);
    return st;
}

/* ---- a group's view: event ids and texts seen ---- */

typedef struct seen {
    pthread_mutex_t mu;
    int by_text[N_POSTS];       /* deliveries of "post <i>" */
    char (*ids)[48];            /* event ids, in arrival order */
    int n, cap;
    int other;                  /* message.created events not from this test */
} seen;

static chat_err on_event(void *arg, const chat_event *ev)
{
    seen *s = arg;
    const chat_message *m = chat_event_message(ev);
    const char *text = m ? chat_message_text(m) : NULL;
    int i = -1;
    pthread_mutex_lock(&s->mu);
    if (text != NULL && sscanf(text, "post %d", &i) == 1 && i >= 0 && i < N_POSTS) {
        s->by_text[i]++;
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 1024;
            s->ids = realloc(s->ids, (size_t)s->cap * sizeof *s->ids);
        }
        snprintf(s->ids[s->n++], sizeof s->ids[0], "%s", chat_event_id(ev));
    } else {
        s->other++;
    }
    pthread_mutex_unlock(&s->mu);
    return CHAT_OK;
}

static int seen_count(seen *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Every post exactly once, and no event id twice. */
static void seen_check(seen *s, const char *group)
{
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < N_POSTS; i++)
        ck_assert_msg(s->by_text[i] == 1, "group %s got post %d %d times", group, i,
                      s->by_text[i]);
    ck_assert_int_eq(s->n, N_POSTS);
    qsort(s->ids, (size_t)s->n, sizeof *s->ids, cmp_id);
    for (int i = 1; i < s->n; i++)
        ck_assert_msg(strcmp(s->ids[i - 1], s->ids[i]) != 0, "group %s got event %s twice",
                      group, s->ids[i]);
    pthread_mutex_unlock(&s->mu);
}

START_TEST(test_posts_survive_kafka_outage)
{
    char *dir;
    chat_ctx *ctx = fixture_open(&dir, "broker", kafka_url, NULL);
    person ada = fixture_person(ctx, "ada@example.com");
    char *ch = fixture_channel(ctx, &ada, "outage", false);
    ck_assert_chat_ok(chat_drain(ctx, 30000));

    static seen g1, g2;
    pthread_mutex_init(&g1.mu, NULL);
    pthread_mutex_init(&g2.mu, NULL);
    chat_subscription *s1 = NULL, *s2 = NULL;
    uint32_t mask = 1u << CHAT_EVENT_MESSAGE_CREATED;
    ck_assert_chat_ok(chat_subscribe(ctx, "outage_g1", mask, on_event, &g1, &s1));
    ck_assert_chat_ok(chat_subscribe(ctx, "outage_g2", mask, on_event, &g2, &s2));

    long long t0 = now_ms();
    ck_assert_int_eq(sh(NULL, 0, "bash '%s' stop '%s'", fixture_sh, kafka_dir), 0);
    fprintf(stderr, "kafka stopped in %lld ms\n", now_ms() - t0);

    t0 = now_ms();
    for (int i = 0; i < N_POSTS; i++) {
        char text[32];
        snprintf(text, sizeof text, "post %d", i);
        ck_assert_chat_ok(chat_message_post(ctx, ada.s, ch, text, NULL, NULL, 0, NULL));
    }
    fprintf(stderr, "%d posts while kafka was down in %lld ms\n", N_POSTS, now_ms() - t0);
    /* Nothing can have arrived: Kafka is down. */
    sleep_ms(500);
    ck_assert_int_eq(seen_count(&g1), 0);
    ck_assert_int_eq(seen_count(&g2), 0);

    t0 = now_ms();
    char url[256];
    ck_assert_int_eq(sh(url, sizeof url, "bash '%s' restart '%s'", fixture_sh, kafka_dir), 0);
    ck_assert_str_eq(url, kafka_url);
    fprintf(stderr, "kafka restarted in %lld ms\n", now_ms() - t0);

    t0 = now_ms();
    while ((seen_count(&g1) < N_POSTS || seen_count(&g2) < N_POSTS) &&
           now_ms() - t0 < DELIVERY_MS)
        sleep_ms(20);
    fprintf(stderr, "delivered to both groups %lld ms after the restart\n", now_ms() - t0);
    ck_assert_chat_ok(chat_drain(ctx, 30000));
    sleep_ms(500); /* a late duplicate would show up now */
    seen_check(&g1, "outage_g1");
    seen_check(&g2, "outage_g2");

    /* From outside: the topic holds each event once (the idempotent producer's
     * retries after the outage added no duplicates). */
    char count[64];
    ck_assert_int_eq(sh(count, sizeof count,
                        "kcat -C -q -e -b '%s' -t message.created -o beginning -f 'x\\n' "
                        "| wc -l",
                        kafka_url + strlen("kafka://")),
                     0);
    ck_assert_int_eq(atoi(count), N_POSTS);

    chat_unsubscribe(s1);
    chat_unsubscribe(s2);
    free(g1.ids);
    free(g2.ids);
    free(ch);
    fixture_person_free(&ada);
    fixture_close(ctx, dir);
}
END_TEST

/* A context on the Kafka broker with its stores in dir (kept across opens). */
static chat_ctx *open_in(const char *dir)
{
    chat_config *cfg = NULL;
    char err[512];
    ck_assert_chat_ok(chat_config_new(&cfg));
    ck_assert_chat_ok(chat_config_set(cfg, "data_dir", dir, err, sizeof err));
    ck_assert_chat_ok(chat_config_set(cfg, "argon2.m_cost_kib", "64", err, sizeof err));
    ck_assert_chat_ok(chat_config_set(cfg, "argon2.t_cost", "1", err, sizeof err));
    ck_assert_chat_ok(chat_config_set(cfg, "broker", kafka_url, err, sizeof err));
    chat_ctx *ctx = NULL;
    chat_err rv = chat_open(&ctx, cfg, err, sizeof err);
    ck_assert_msg(rv == CHAT_OK, "chat_open: %s", err);
    chat_config_free(cfg);
    return ctx;
}

enum { N_KEEP = 50 };

/* Closing while Kafka is down neither hangs nor loses the events it could not
 * publish: they stay in the outbox and go out after the next open. */
START_TEST(test_close_while_down_keeps_events)
{
    char *dir = chat_test_tmpdir("kafka-keep");
    chat_ctx *ctx = open_in(dir);
    person ada = fixture_person(ctx, "ada@example.com");
    char *ch = fixture_channel(ctx, &ada, "keep", false);
    ck_assert_chat_ok(chat_drain(ctx, 30000));
    static seen g;
    pthread_mutex_init(&g.mu, NULL);
    chat_subscription *sub = NULL;
    uint32_t mask = 1u << CHAT_EVENT_MESSAGE_CREATED;
    ck_assert_chat_ok(chat_subscribe(ctx, "keep_g", mask, on_event, &g, &sub));

    ck_assert_int_eq(sh(NULL, 0, "bash '%s' stop '%s'", fixture_sh, kafka_dir), 0);
    for (int i = 0; i < N_KEEP; i++) {
        char text[32];
        snprintf(text, sizeof text, "post %d", i);
        ck_assert_chat_ok(chat_message_post(ctx, ada.s, ch, text, NULL, NULL, 0, NULL));
    }
    long long t0 = now_ms();
    chat_unsubscribe(sub);
    fixture_person_free(&ada);
    chat_close(ctx);
    long long close_ms = now_ms() - t0;
    fprintf(stderr, "closed while kafka was down in %lld ms\n", close_ms);
    ck_assert_int_lt(close_ms, 30000);
    ck_assert_int_eq(seen_count(&g), 0);

    char url[256];
    ck_assert_int_eq(sh(url, sizeof url, "bash '%s' restart '%s'", fixture_sh, kafka_dir), 0);
    ctx = open_in(dir);
    /* The group resumes at its committed offsets, so it also sees what the
     * outbox publishes now, left from the first open. */
    ck_assert_chat_ok(chat_subscribe(ctx, "keep_g", mask, on_event, &g, &sub));
    t0 = now_ms();
    while (seen_count(&g) < N_KEEP && now_ms() - t0 < DELIVERY_MS)
        sleep_ms(20);
    fprintf(stderr, "kept events delivered %lld ms after reopening\n", now_ms() - t0);
    ck_assert_chat_ok(chat_drain(ctx, 30000));
    pthread_mutex_lock(&g.mu);
    for (int i = 0; i < N_KEEP; i++)
        ck_assert_msg(g.by_text[i] >= 1, "post %d lost", i);
    pthread_mutex_unlock(&g.mu);
    chat_unsubscribe(sub);
    chat_close(ctx);
    free(g.ids);
    free(ch);
    chat_test_rmtree(dir);
}
END_TEST

static void open_expect(const char *url, chat_err want, const char *detail_part)
{
    char *dir = chat_test_tmpdir("kafka-bad");
    chat_config *cfg = NULL;
    char err[512];
    ck_assert_chat_ok(chat_config_new(&cfg));
    ck_assert_chat_ok(chat_config_set(cfg, "data_dir", dir, err, sizeof err));
    ck_assert_chat_ok(chat_config_set(cfg, "broker", url, err, sizeof err));
    chat_ctx *ctx = NULL;
    chat_err rv = chat_open(&ctx, cfg, err, sizeof err);
    ck_assert_msg(rv == want, "chat_open(%s): %s (%s), want %s", url, chat_strerror(rv), err,
                  chat_strerror(want));
    ck_assert_msg(strstr(err, detail_part) != NULL, "chat_open(%s): detail '%s' lacks '%s'",
                  url, err, detail_part);
    chat_config_free(cfg);
    chat_test_rmtree(dir);
}

START_TEST(test_bad_urls_and_unreachable)
{
    open_expect("kafka://", CHAT_ERR_INVALID_ARGUMENTS, "broker list");
    open_expect("kafka://host:notaport", CHAT_ERR_INVALID_ARGUMENTS, "broker list");
    open_expect("kafka://127.0.0.1:9092?nope=1", CHAT_ERR_INVALID_ARGUMENTS, "unknown option");
    open_expect("kafka://127.0.0.1:9092?partitions=0", CHAT_ERR_INVALID_ARGUMENTS,
                "partitions");
    open_expect("kafka://127.0.0.1:9092?session_timeout_ms=0", CHAT_ERR_INVALID_ARGUMENTS,
                "session_timeout_ms");
    open_expect("kafka://127.0.0.1:9092?session_timeout_ms=3000&heartbeat_interval_ms=3000",
                CHAT_ERR_INVALID_ARGUMENTS, "must be below");
    open_expect("kafka://127.0.0.1:9092?assignor=sticky", CHAT_ERR_INVALID_ARGUMENTS,
                "assignor");
    open_expect("kafka://127.0.0.1:9092?replication=2&min_insync=3", CHAT_ERR_INVALID_ARGUMENTS,
                "min_insync");
    /* Nobody listens on port 1: fails within timeout_ms, saying where it tried. */
    long long t0 = now_ms();
    open_expect("kafka://127.0.0.1:1?timeout_ms=1500", CHAT_ERR_SERVICE_UNAVAILABLE,
                "127.0.0.1:1");
    ck_assert_int_lt(now_ms() - t0, 10000);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc < 3 || getenv("CHAT_TEST_KAFKA_DIR") == NULL) {
        fprintf(stderr, "usage: kafka.sh exec %s path/to/kafka.sh {kafka}\n", argv[0]);
        return 2;
    }
    fixture_sh = argv[1];
    kafka_url = argv[2];
    kafka_dir = getenv("CHAT_TEST_KAFKA_DIR");
    Suite *s = suite_create("kafka outage");
    TCase *tc = tcase_create("outage");
    tcase_set_timeout(tc, 150);
    tcase_add_test(tc, test_bad_urls_and_unreachable);
    tcase_add_test(tc, test_posts_survive_kafka_outage);
    tcase_add_test(tc, test_close_while_down_keeps_events);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
