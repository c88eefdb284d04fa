/*
 * bench_history_fill: builds a channel of N messages in a data directory
 * before chatd starts on it, through chat_message_import (the bulk path a
 * Slack export's history takes), so the history workload can read a
 * 10,000,000-message channel without posting it over HTTP for an hour.
 *
 *   bench_history_fill --data DIR [-n MESSAGES] [-b BATCH]
 *   bench_history_fill --data DIR --read PAGES
 *
 * DIR must be new. Signs up one user (the workspace's admin), creates
 * #history, imports N messages 1 ms apart ending a minute ago, BATCH per
 * call (one transaction each), then posts one thread (a parent and 3
 * replies) over the live path. Every 100,000th message also says "needle",
 * a rare word for search. Writes DIR/history.json for chat_loadgen
 * --history-data: the user's email and password, the channel, the count
 * and the ts of the first, middle and last imported messages and of the
 * thread. Prints the import rate.
 *
 * --read PAGES reads a directory built so through the public C API (no
 * HTTP): PAGES pages of 50 from one thread, the latest and the 50 before the
 * middle message in turn, and prints their p50/p99 and the CPU per page: the
 * domain and the store alone, to compare the store's cost across sizes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <chat/chat.h>

#define EMAIL "history@bench.example"
#define PASSWORD "history-bench-1"
#define TEXT_SIZE 96

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void check(chat_err rv, const char *what)
{
    if (rv != CHAT_OK) {
        fprintf(stderr, "bench_history_fill: %s: %s (%s)\n", what, chat_strerror(rv),
                chat_last_errmsg());
        exit(1);
    }
}

static void fmt_ts(int64_t us, char out[CHAT_TS_SIZE])
{
    char b[48]; /* room for any int64, so the compiler sees no truncation */
    snprintf(b, sizeof b, "%010" PRId64 ".%06" PRId64, us / 1000000, us % 1000000);
    snprintf(out, CHAT_TS_SIZE, "%.17s", b);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The value of "key":"..." in a history.json (written above, so no escapes). */
static void json_str(const char *json, const char *key, char *out, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    out[0] = '\0';
    if (p != NULL)
        snprintf(out, n, "%.*s", (int)strcspn(p + strlen(pat), "\""), p + strlen(pat));
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static int read_pages(const char *dir, long pages)
{
    char path[4096], json[1024] = "", channel[64], middle[CHAT_TS_SIZE], err[256];
    snprintf(path, sizeof path, "%s/history.json", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL || fread(json, 1, sizeof json - 1, f) == 0) {
        fprintf(stderr, "bench_history_fill: cannot read %s\n", path);
        return 1;
    }
    fclose(f);
    json_str(json, "channel", channel, sizeof channel);
    json_str(json, "middle_ts", middle, sizeof middle);
    chat_config *cfg = NULL;
    chat_ctx *ctx = NULL;
    check(chat_config_new(&cfg), "config");
    check(chat_config_set(cfg, "data_dir", dir, err, sizeof err), err);
    if (chat_open(&ctx, cfg, err, sizeof err) != CHAT_OK) {
        fprintf(stderr, "bench_history_fill: %s\n", err);
        return 1;
    }
    char *token = NULL;
    chat_session *s = NULL;
    check(chat_auth_login(ctx, EMAIL, PASSWORD, &token), "login");
    check(chat_auth_verify(ctx, token, &s), "verify");
    double *lat = malloc((size_t)pages * sizeof *lat);
    if (lat == NULL)
        check(CHAT_ERR_NOMEM, "latencies");
    double c0 = cpu_s(), t0 = now_s();
    for (long i = 0; i < pages; i++) {
        chat_list *l = NULL;
        double t = now_s();
        check(chat_message_history(ctx, s, channel, i & 1 ? middle : NULL, NULL, false, 50, NULL,
                                   &l),
              "history");
        lat[i] = now_s() - t;
        if (chat_list_count(l) != 50)
            check(CHAT_ERR_INTERNAL, "a short page");
        chat_list_free(l);
    }
    double wall = now_s() - t0, cpu = cpu_s() - c0;
    qsort(lat, (size_t)pages, sizeof *lat, cmp_double);
    printf("bench_history_fill: %ld pages of 50 from %s: p50 %.3f ms, p99 %.3f ms, "
           "%.0f pages/s, %.1f us of CPU per page\n",
           pages, channel, lat[pages / 2] * 1e3, lat[pages * 99 / 100] * 1e3, pages / wall,
           cpu / (double)pages * 1e6);
    free(lat);
    chat_session_free(s);
    chat_free(token);
    chat_close(ctx);
    chat_config_free(cfg);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    long n = 10000000, batch = 50000, pages = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = atol(argv[++i]);
        else if (strcmp(argv[i], "-b") == 0 && i + 1 < argc)
            batch = atol(argv[++i]);
        else if (strcmp(argv[i], "--read") == 0 && i + 1 < argc)
            pages = atol(argv[++i]);
        else
            dir = NULL, n = 0;
    }
    struct stat sb;
    if (dir == NULL || n < 100 || batch < 1 || pages < 0) {
        fprintf(stderr, "usage: bench_history_fill --data NEW_DIR [-n MESSAGES>=100] [-b BATCH]\n"
                        "       bench_history_fill --data DIR --read PAGES\n");
        return 2;
    }
    if (pages > 0)
        return read_pages(dir, pages);
    if (stat(dir, &sb) == 0) {
        fprintf(stderr, "bench_history_fill: %s exists; give a new directory\n", dir);
        return 2;
    }

    chat_config *cfg = NULL;
    chat_ctx *ctx = NULL;
    char err[256];
    check(chat_config_new(&cfg), "config");
    check(chat_config_set(cfg, "data_dir", dir, err, sizeof err), err);
    /* chatd on this directory checks the password with the hash's own cost. */
    check(chat_config_set(cfg, "argon2.m_cost_kib", "64", err, sizeof err), err);
    check(chat_config_set(cfg, "argon2.t_cost", "1", err, sizeof err), err);
    if (chat_open(&ctx, cfg, err, sizeof err) != CHAT_OK) {
        fprintf(stderr, "bench_history_fill: %s\n", err);
        return 1;
    }
    char *token = NULL;
    chat_session *s = NULL;
    chat_channel *c = NULL;
    check(chat_auth_signup(ctx, EMAIL, PASSWORD, "History Bench", NULL, NULL, &token), "signup");
    check(chat_auth_verify(ctx, token, &s), "verify");
    check(chat_channel_create(ctx, s, "history", false, &c), "channel");
    const char *channel = chat_channel_id(c);
    const char *user = chat_session_user_id(s);

    /* 1 ms apart, the last a minute ago: live posts come after them all. */
    int64_t step = 1000;
    int64_t first = (int64_t)time(NULL) * 1000000 - 60000000 - n * step;
    char(*ts)[CHAT_TS_SIZE] = malloc((size_t)batch * CHAT_TS_SIZE);
    char(*text)[TEXT_SIZE] = malloc((size_t)batch * TEXT_SIZE);
    const char **tsp = malloc((size_t)batch * sizeof *tsp);
    const char **users = malloc((size_t)batch * sizeof *users);
    const char **texts = malloc((size_t)batch * sizeof *texts);
    if (!ts || !text || !tsp || !users || !texts)
        check(CHAT_ERR_NOMEM, "buffers");
    static const char *words[] = {"deploy", "review", "lunch", "release", "incident",
                                  "standup", "design", "budget"};
    double t0 = now_s(), last_report = t0;
    for (long done = 0; done < n;) {
        long k = n - done < batch ? n - done : batch;
        for (long i = 0; i < k; i++) {
            long m = done + i;
            fmt_ts(first + m * step, ts[i]);
            snprintf(text[i], TEXT_SIZE, "history message %ld about the %s%s", m,
                     words[m % 8], m % 100000 == 0 ? " needle" : "");
            tsp[i] = ts[i];
            users[i] = user;
            texts[i] = text[i];
        }
        check(chat_message_import(ctx, s, channel, (size_t)k, tsp, users, texts), "import");
        done += k;
        double t = now_s();
        if (t - last_report >= 10 || done == n) {
            printf("bench_history_fill: %ld of %ld in %.1f s (%.0f msgs/s)\n", done, n, t - t0,
                   done / (t - t0));
            fflush(stdout);
            last_report = t;
        }
    }
    double took = now_s() - t0;

    /* A thread over the live path, for conversations.replies at this size. */
    chat_message *parent = NULL;
    check(chat_message_post(ctx, s, channel, "a thread at the end", NULL, NULL, 0, &parent),
          "thread");
    for (int i = 0; i < 3; i++)
        check(chat_message_post(ctx, s, channel, "a reply", chat_message_ts(parent), NULL, 0,
                                NULL),
              "reply");

    char first_ts[CHAT_TS_SIZE], mid_ts[CHAT_TS_SIZE], last_ts[CHAT_TS_SIZE], path[4096];
    fmt_ts(first, first_ts);
    fmt_ts(first + (n / 2) * step, mid_ts);
    fmt_ts(first + (n - 1) * step, last_ts);
    snprintf(path, sizeof path, "%s/history.json", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        check(CHAT_ERR_STORAGE, path);
    fprintf(f,
            "{\"email\":\"%s\",\"password\":\"%s\",\"channel\":\"%s\",\"messages\":%ld,"
            "\"first_ts\":\"%s\",\"middle_ts\":\"%s\",\"last_ts\":\"%s\",\"thread_ts\":\"%s\","
            "\"rare_word\":\"needle\",\"import_s\":%.1f}\n",
            EMAIL, PASSWORD, channel, n, first_ts, mid_ts, last_ts, chat_message_ts(parent),
            took);
    fclose(f);
    printf("bench_history_fill: %ld messages imported into %s in %.1f s (%.0f msgs/s); %s\n", n,
           channel, took, n / took, path);
    chat_message_free(parent);
    chat_channel_free(c);
    chat_session_free(s);
    chat_free(token);
    free(ts);
    free(text);
    free(tsp);
    free(users);
    free(texts);
    chat_close(ctx);
    chat_config_free(cfg);
    return 0;
}
