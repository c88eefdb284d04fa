/* chat_loadgen --history: fills a channel, then reads it back as clients
 * scrolling do (see lg_history.h). */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lg_hist.h"
#include "lg_history.h"
#include "lg_post.h"

#define PAGE 50

typedef struct shared {
    const char *url, *token, *channel;
    int posts;
    char (*ts)[24];             /* each post's ts, by post number */
    atomic_int next;            /* the next post to make */
    atomic_int errors;
    char first_error[256];
    uint64_t t_end;
    char middle[24];
} shared;

typedef struct worker {
    shared *sh;
    pthread_t th;
    lg_hist latest, middle;
} worker;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fail(shared *sh, const char *what)
{
    if (atomic_fetch_add(&sh->errors, 1) == 0)
        snprintf(sh->first_error, sizeof sh->first_error, "%s", what);
}

static void *poster(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    char err[256], body[256];
    lg_post *p = lg_post_new(sh->url, err, sizeof err);
    if (p == NULL) {
        fail(sh, err);
        return NULL;
    }
    for (int i; (i = atomic_fetch_add(&sh->next, 1)) < sh->posts;) {
        snprintf(body, sizeof body, "{\"channel\":\"%s\",\"text\":\"history %d\"}", sh->channel, i);
        json_t *r = lg_post_call(p, "chat.postMessage", sh->token, body, err, sizeof err);
        const char *ts = json_string_value(json_object_get(r, "ts"));
        if (ts && strlen(ts) < sizeof sh->ts[0])
            strcpy(sh->ts[i], ts);
        else
            fail(sh, r ? "a post was refused" : err);
        json_decref(r);
    }
    lg_post_free(p);
    return NULL;
}

static void *reader(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    char err[256], latest[256], middle[256];
    lg_post *p = lg_post_new(sh->url, err, sizeof err);
    if (p == NULL) {
        fail(sh, err);
        return NULL;
    }
    snprintf(latest, sizeof latest, "{\"channel\":\"%s\",\"limit\":%d}", sh->channel, PAGE);
    snprintf(middle, sizeof middle, "{\"channel\":\"%s\",\"limit\":%d,\"latest\":\"%s\"}",
             sh->channel, PAGE, sh->middle);
    for (unsigned k = 0; now_ns() < sh->t_end; k++) {
        bool mid = k & 1;
        uint64_t t = now_ns();
        json_t *r = lg_post_call(p, "conversations.history", sh->token, mid ? middle : latest,
                                 err, sizeof err);
        uint64_t d = now_ns() - t;
        /* a page is whole, or the answer does not count */
        if (json_array_size(json_object_get(r, "messages")) == PAGE)
            lg_hist_record(mid ? &w->middle : &w->latest, d);
        else
            fail(sh, r ? "a history page was short or refused" : err);
        json_decref(r);
    }
    lg_post_free(p);
    return NULL;
}

static void run(worker *ws, int n, void *(*fn)(void *))
{
    for (int i = 0; i < n; i++)
        pthread_create(&ws[i].th, NULL, fn, &ws[i]);
    for (int i = 0; i < n; i++)
        pthread_join(ws[i].th, NULL);
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

/* Readers for the duration, then the figures. posts: what the channel holds. */
static int read_and_report(shared *sh, worker *ws, int threads, double duration, long posts)
{
    uint64_t t0 = now_ns();
    sh->t_end = t0 + (uint64_t)(duration * 1e9);
    run(ws, threads, reader);
    double read_s = (double)(now_ns() - t0) / 1e9;
    lg_hist_sum all = {0}, latest = {0}, middle = {0};
    for (int i = 0; i < threads; i++) {
        lg_hist_merge(&latest, &ws[i].latest);
        lg_hist_merge(&middle, &ws[i].middle);
        lg_hist_merge(&all, &ws[i].latest);
        lg_hist_merge(&all, &ws[i].middle);
    }
    printf("history pages of %d: %" PRIu64 " in %.2f s (%.0f/s) by %d readers\n", PAGE, all.total,
           read_s, all.total / read_s, threads);
    printf("  latest  ms  p50 %.3f  p99 %.3f  max %.3f\n", ms(lg_hist_quantile(&latest, 0.5)),
           ms(lg_hist_quantile(&latest, 0.99)), ms(lg_hist_quantile(&latest, 1.0)));
    printf("  middle  ms  p50 %.3f  p99 %.3f  max %.3f\n", ms(lg_hist_quantile(&middle, 0.5)),
           ms(lg_hist_quantile(&middle, 0.99)), ms(lg_hist_quantile(&middle, 1.0)));
    int errors = atomic_load(&sh->errors);
    if (errors)
        printf("errors: %d; first: %s\n", errors, sh->first_error);
    printf("RESULT history posts=%ld pages=%" PRIu64 " pages_per_s=%.0f p50_ms=%.3f p99_ms=%.3f "
           "latest_p50_ms=%.3f latest_p99_ms=%.3f middle_p50_ms=%.3f middle_p99_ms=%.3f "
           "errors=%d\n",
           posts, all.total, all.total / read_s, ms(lg_hist_quantile(&all, 0.5)),
           ms(lg_hist_quantile(&all, 0.99)), ms(lg_hist_quantile(&latest, 0.5)),
           ms(lg_hist_quantile(&latest, 0.99)), ms(lg_hist_quantile(&middle, 0.5)),
           ms(lg_hist_quantile(&middle, 0.99)), errors);
    return errors;
}

int lg_history_run(const char *url, const char *token, const char *channel, int posts,
                   int threads, double duration)
{
    shared sh = {.url = url, .token = token, .channel = channel, .posts = posts};
    sh.ts = calloc((size_t)posts, sizeof *sh.ts);
    worker *ws = calloc((size_t)threads, sizeof *ws);
    if (sh.ts == NULL || ws == NULL || posts < 2 * PAGE) {
        fprintf(stderr, "history: needs at least %d posts (and memory)\n", 2 * PAGE);
        free(sh.ts);
        free(ws);
        return 2;
    }
    for (int i = 0; i < threads; i++)
        ws[i].sh = &sh;
    uint64_t t0 = now_ns();
    run(ws, threads, poster);
    double fill_s = (double)(now_ns() - t0) / 1e9;
    printf("history: %d messages posted in %.2f s (%.0f/s) by %d senders\n", posts, fill_s,
           posts / fill_s, threads);
    snprintf(sh.middle, sizeof sh.middle, "%s", sh.ts[posts / 2]);
    int errors = read_and_report(&sh, ws, threads, duration, posts);
    free(sh.ts);
    free(ws);
    return errors ? 1 : 0;
}

/* One call, times over, one after another: p50 and p99 of a read that is
 * not the workload, to see that it stays fast at this size too. */
static int probe(lg_post *p, const char *token, const char *method, const char *body, int times)
{
    lg_hist h;
    memset(&h, 0, sizeof h);
    char err[256];
    int bad = 0;
    for (int i = 0; i < times; i++) {
        uint64_t t = now_ns();
        json_t *r = lg_post_call(p, method, token, body, err, sizeof err);
        uint64_t d = now_ns() - t;
        if (json_is_true(json_object_get(r, "ok")))
            lg_hist_record(&h, d);
        else if (bad++ == 0)
            fprintf(stderr, "history: %s %s failed: %s\n", method, body, r ? "refused" : err);
        json_decref(r);
    }
    lg_hist_sum sum = {0};
    lg_hist_merge(&sum, &h);
    printf("  probe %-22s %-40.40s ms  p50 %.3f  p99 %.3f  (%d calls, %d failed)\n", method, body,
           ms(lg_hist_quantile(&sum, 0.5)), ms(lg_hist_quantile(&sum, 0.99)), times, bad);
    return bad;
}

int lg_history_prebuilt(const char *url, const char *data_file, int threads, double duration)
{
    json_error_t je;
    json_t *d = json_load_file(data_file, 0, &je);
    const char *email = json_string_value(json_object_get(d, "email"));
    const char *password = json_string_value(json_object_get(d, "password"));
    const char *channel = json_string_value(json_object_get(d, "channel"));
    const char *middle = json_string_value(json_object_get(d, "middle_ts"));
    const char *thread = json_string_value(json_object_get(d, "thread_ts"));
    const char *rare = json_string_value(json_object_get(d, "rare_word"));
    long posts = (long)json_integer_value(json_object_get(d, "messages"));
    if (!email || !password || !channel || !middle || !thread || !rare) {
        fprintf(stderr, "history: %s: not a bench_history_fill file (%s)\n", data_file, je.text);
        json_decref(d);
        return 2;
    }
    char err[256], body[512];
    lg_post *p = lg_post_new(url, err, sizeof err);
    json_t *r = NULL;
    if (p != NULL) {
        snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
        r = lg_post_call(p, "auth.login", NULL, body, err, sizeof err);
    }
    const char *token = json_string_value(json_object_get(r, "token"));
    if (token == NULL) {
        fprintf(stderr, "history: cannot log in as %s: %s\n", email, r ? "refused" : err);
        json_decref(r);
        json_decref(d);
        lg_post_free(p);
        return 1;
    }
    printf("history: %ld messages prebuilt in %s (%s)\n", posts, channel, data_file);
    shared sh = {.url = url, .token = token, .channel = channel};
    snprintf(sh.middle, sizeof sh.middle, "%s", middle);
    worker *ws = calloc((size_t)threads, sizeof *ws);
    int errors = 0;
    for (int i = 0; ws != NULL && i < threads; i++)
        ws[i].sh = &sh;
    if (ws != NULL)
        errors = read_and_report(&sh, ws, threads, duration, posts);
    /* The channel's other reads, which must not grow with it either. */
    snprintf(body, sizeof body, "{\"channel\":\"%s\"}", channel);
    errors += probe(p, token, "conversations.info", body, 200);
    snprintf(body, sizeof body, "{\"channel\":\"%s\",\"ts\":\"%s\"}", channel, thread);
    errors += probe(p, token, "conversations.replies", body, 200);
    snprintf(body, sizeof body, "{\"query\":\"%s\",\"count\":20}", rare);
    errors += probe(p, token, "search.messages", body, 200);
    /* Words every message has: O(matches) in FTS5 (docs/performance.md),
     * about a second each at 10M, so only a few. */
    snprintf(body, sizeof body, "{\"query\":\"history message %ld\",\"count\":20}", posts / 3);
    errors += probe(p, token, "search.messages", body, 5);
    json_decref(r);
    json_decref(d);
    lg_post_free(p);
    free(ws);
    return errors ? 1 : 0;
}
