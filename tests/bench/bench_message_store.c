/*
 * bench_message_store: posts/s through a message store's post method, the
 * hot path of chat.postMessage below the API (each post with its outbox
 * item, as the domain writes it). P processes (one store each, as separate
 * chat-messaged would have) of T threads post N messages each, spread over
 * C channels, into one database. With -r each process also runs a relay
 * loop (outbox_fetch, outbox_ack), as a server does: its cost is part of a
 * post's (the store's work after the commit depends on it), and the figure
 * printed for it is how long after the last post the outbox was empty.
 *
 *   bench_message_store URL [-p PROCS] [-t THREADS] [-n POSTS_PER_THREAD]
 *                       [-c CHANNELS] [-r]
 *
 * e.g. against a throwaway FerretDB:
 *   tests/fixtures/ferretdb.sh exec build/tests/bench/bench_message_store \
 *       '{mongo}/bench' -p 2 -n 500
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chat/backend/store.h>

#include "backends/builtin.h"
#include "core/internal.h"

typedef struct relay {
    const chat_message_store_ops *ops;
    void *impl;
    atomic_bool posting;
    pthread_t thread;
    int64_t relayed, drained_us;
} relay;

/* Fetches and acknowledges until the posting is over and nothing is left
 * (a pass may come back empty while the lease is being renewed). */
static void *relay_main(void *arg)
{
    relay *r = arg;
    int64_t after = 0;
    int empty = 0;
    while (atomic_load(&r->posting) || empty < 20) {
        chat_outbox_item *it = NULL;
        size_t n = 0;
        chat_err rv = r->ops->outbox_fetch(r->impl, after, 512, &it, &n);
        if (rv != CHAT_OK)
            fprintf(stderr, "relay: %s\n", chat_last_errmsg());
        if (rv == CHAT_OK && n > 0) {
            after = it[n - 1].seq;
            r->relayed += (int64_t)n;
            chat_outbox_items_free(it, n);
            r->ops->outbox_ack(r->impl, after);
            r->drained_us = chati_mono_us();
            empty = 0;
            continue;
        }
        empty += !atomic_load(&r->posting);
        chati_sleep_ms(5);
    }
    return NULL;
}

typedef struct worker {
    const chat_message_store_ops *ops;
    void *impl;
    int proc, thread, n, channels;
    int errors;
} worker;

static chat_err outbox_item(void *arg, const chat_message *m, chat_outbox_item *out)
{
    CHATI_UNUSED(arg);
    out->topic = chat_strdup("message");
    out->key = chat_strdup(m->channel);
    out->data = chat_strdup(m->ts);
    out->len = strlen(m->ts);
    return out->topic && out->key && out->data ? CHAT_OK : CHAT_ERR_NOMEM;
}

static void *run(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        chat_message m;
        char text[64];
        memset(&m, 0, sizeof m);
        snprintf(m.channel, sizeof m.channel, "CB%d", i % w->channels);
        snprintf(m.user, sizeof m.user, "UB%d", w->proc);
        snprintf(text, sizeof text, "post %d of thread %d.%d", i, w->proc, w->thread);
        m.text = text;
        chat_message *out = NULL;
        if (w->ops->post(w->impl, &m, chati_now_us(), outbox_item, NULL, &out) != CHAT_OK) {
            if (w->errors++ == 0)
                fprintf(stderr, "post: %s\n", chat_last_errmsg());
        }
        chat_message_free(out);
    }
    return NULL;
}

static int proc_main(const char *url, int proc, int threads, int n, int channels, bool relays)
{
    chati_backends_register_builtin();
    const chat_message_store_ops *ops = chati_backend_find(CHATI_IFACE_MESSAGE, url);
    void *impl = NULL;
    chat_config *cfg = NULL;
    if (ops == NULL || chat_config_new(&cfg) != CHAT_OK ||
        ops->open(url, cfg, &impl) != CHAT_OK) {
        fprintf(stderr, "open %s: %s\n", url, chat_last_errmsg());
        return 1;
    }
    worker w[64];
    pthread_t th[64];
    relay r = {ops, impl, true, 0, 0, 0};
    if (relays)
        pthread_create(&r.thread, NULL, relay_main, &r);
    int64_t t0 = chati_mono_us();
    for (int t = 0; t < threads; t++) {
        w[t] = (worker){ops, impl, proc, t, n, channels, 0};
        pthread_create(&th[t], NULL, run, &w[t]);
    }
    int errors = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        errors += w[t].errors;
    }
    int64_t t1 = chati_mono_us();
    double s = (double)(t1 - t0) / 1e6;
    printf("process %d: %d posts in %.2f s, %.0f posts/s, %d errors\n", proc, threads * n, s,
           threads * n / s, errors);
    if (relays) {
        /* Leave the relay running a moment: another process may still post. */
        chati_sleep_ms(2000);
        atomic_store(&r.posting, false);
        pthread_join(r.thread, NULL);
        if (r.relayed == 0)
            printf("process %d: relayed nothing (the other process held the lease)\n", proc);
        else
            printf("process %d: relayed %" PRId64 " items, the last %.2f s after its last post\n",
                   proc, r.relayed, (double)(r.drained_us - t1) / 1e6);
    }
    ops->close(impl);
    chat_config_free(cfg);
    fflush(stdout); /* the child leaves with _exit */
    return errors > 0;
}

int main(int argc, char **argv)
{
    int procs = 1, threads = 1, n = 500, channels = 4, opt;
    bool relays = false;
    while ((opt = getopt(argc, argv, "p:t:n:c:r")) != -1) {
        switch (opt) {
        case 'p': procs = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'n': n = atoi(optarg); break;
        case 'c': channels = atoi(optarg); break;
        case 'r': relays = true; break;
        default: optind = argc + 1;
        }
    }
    if (optind != argc - 1 || procs < 1 || threads < 1 || threads > 64 || n < 1 ||
        channels < 1) {
        fprintf(stderr, "usage: %s URL [-p PROCS] [-t THREADS] [-n POSTS] [-c CHANNELS] [-r]\n",
                argv[0]);
        return 2;
    }
    const char *url = argv[optind];
    int64_t t0 = chati_mono_us();
    pid_t pids[64];
    for (int p = 0; p < procs && p < 64; p++) {
        fflush(stdout);
        if ((pids[p] = fork()) == 0)
            _exit(proc_main(url, p, threads, n, channels, relays));
    }
    int failed = 0;
    for (int p = 0; p < procs && p < 64; p++) {
        int st = 0;
        waitpid(pids[p], &st, 0);
        failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    double s = (double)(chati_mono_us() - t0) / 1e6;
    printf("total: %d posts in %.2f s, %.0f posts/s\n", procs * threads * n, s,
           procs * threads * n / s);
    return failed;
}
