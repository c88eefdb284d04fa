/*
 * chat_loadgen - a load generator for chatd's WebSocket event stream.
 *
 * Signs up N receivers and M senders, puts them all in one new channel,
 * connects the receivers (and, unless --http, the senders) to /rtm, then lets
 * the senders post for D seconds at a total rate R (0: as fast as a bounded
 * window of unanswered sends per sender allows). Each text carries its
 * message id, its sender and the CLOCK_MONOTONIC time it was handed to the
 * socket, so a receiver knows each delivery's latency without a clock shared
 * with the server. Prints accepted messages/s, deliveries/s, send->deliver
 * and send->ack latency quantiles, and every receiver that missed, doubled or
 * reordered a message.
 *
 * No thread per client, so thousands fit in one process. Two transports:
 *  - default: plain sockets read by a few epoll threads (lg_ws.c), each
 *    recv() taking every frame that has arrived;
 *  - --nng: nng's stream API, a stream, a buffer and an aio callback per
 *    client. Simpler, but each frame crosses nng's task threads several
 *    times: on a 2-core machine it tops out near 90,000 frames/s of client
 *    CPU, below what chatd can send, so the figures would measure the client.
 * Sign-up, joins and rtm.connect go through nng's HTTP client (lg_http.c).
 *
 * Senders are channel members too: chatd sends every message to N + M
 * connections, and a sender's reply queues behind the events sent to it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <nng/nng.h>

#include "lg_drill.h"
#include "lg_hist.h"
#include "lg_http.h"
#include "lg_history.h"
#include "lg_json.h"
#include "lg_post.h"
#include "lg_ws.h"

#define MAX_WINDOW 4096
#define PASSWORD "loadgen-password-1"

/* ------------------------------------------------------------ options --- */

static struct {
    const char *url;
    int n, m;
    double rate;
    double duration;
    int window;
    int size;
    bool http;
    bool nng;
    bool quickack;
    int threads;
    bool check;
    double drain;
    int setup_threads;
    int quiet_ms;
    uint64_t max_msgs;
    int server_pid;
    bool quiet;
    bool drill;
    const char *report;
    bool scan;
    int history;
    const char *history_data;
} O = {
    .n = 100,
    .m = 4,
    .rate = 0,
    .duration = 10,
    .window = 64,
    .threads = 2,
    .size = 0,
    .drain = 30,
    .setup_threads = 16,
    .quiet_ms = 500,
    .max_msgs = 20000000,
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: chat_loadgen --url http://HOST:PORT [options]\n"
            "  -n, --receivers N     WebSocket clients that receive [100]\n"
            "  -m, --senders M       clients that send [4]\n"
            "  -r, --rate R          total messages/s over all senders, 0 = flat out [0]\n"
            "  -d, --duration S      seconds of sending [10]\n"
            "  -w, --window W        unanswered sends allowed per sender [64]\n"
            "  -s, --size B          pad each text to at least B bytes [0]\n"
            "      --http            send with chat.postMessage over HTTP (1 in flight each)\n"
            "      --nng             WebSockets through nng's stream API (aio callbacks)\n"
            "                        instead of plain sockets read by epoll threads\n"
            "      --threads K       epoll threads reading the WebSockets [2]\n"
            "      --quickack        ACK every read at once (TCP_QUICKACK): shows whether\n"
            "                        the server's small writes wait on delayed ACKs (Nagle)\n"
            "      --drain S         wait at most S seconds for late deliveries [30]\n"
            "      --setup-threads K threads signing up and connecting [16]\n"
            "      --quiet-ms MS     idle time that marks the end of setup chatter [500]\n"
            "      --max-msgs X      stop sending after X messages [20000000]\n"
            "      --server-pid PID  also report that process's CPU time and peak RSS\n"
            "      --drill           for failure drills behind a load balancer: posts over\n"
            "                        HTTP with a client_msg_id, resent until acknowledged;\n"
            "                        WebSockets that drop reconnect; the error window\n"
            "                        runs from the first failure to the last recovery\n"
            "      --report FILE     the run as JSON (channel, acknowledged ids, error\n"
            "                        window, per-receiver duplicates, a receiver's token)\n"
            "      --check           exit 1 unless deliveries == accepted * N, nothing is\n"
            "                        missing, doubled or refused, and no client dropped\n"
            "      --history N       instead of the send phase: the senders post N messages,\n"
            "                        then read pages of 50 (latest, and from the middle) for\n"
            "                        the duration, closed-loop (lg_history.c)\n"
            "      --history-data F  the same readers (-m of them) against the channel that\n"
            "                        bench_history_fill built (F: its history.json) instead\n"
            "                        of posting one; then times the channel's other reads\n"
            "      --scan            find each event's text with strstr instead of checking\n"
            "                        every frame as JSON (what a real client does)\n"
            "  -q, --quiet           no per-second progress lines\n");
}

static void parse_opts(int argc, char **argv)
{
    enum { OPT_HTTP = 256, OPT_NNG, OPT_QUICKACK, OPT_THREADS, OPT_DRAIN, OPT_SETUP, OPT_QUIET_MS, OPT_MAX, OPT_PID, OPT_CHECK, OPT_DRILL, OPT_REPORT, OPT_SCAN, OPT_HISTORY, OPT_HISTORY_DATA };
    static const struct option longs[] = {
        {"url", required_argument, NULL, 'u'},
        {"receivers", required_argument, NULL, 'n'},
        {"senders", required_argument, NULL, 'm'},
        {"rate", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'},
        {"window", required_argument, NULL, 'w'},
        {"size", required_argument, NULL, 's'},
        {"http", no_argument, NULL, OPT_HTTP},
        {"nng", no_argument, NULL, OPT_NNG},
        {"quickack", no_argument, NULL, OPT_QUICKACK},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"drain", required_argument, NULL, OPT_DRAIN},
        {"setup-threads", required_argument, NULL, OPT_SETUP},
        {"quiet-ms", required_argument, NULL, OPT_QUIET_MS},
        {"max-msgs", required_argument, NULL, OPT_MAX},
        {"server-pid", required_argument, NULL, OPT_PID},
        {"check", no_argument, NULL, OPT_CHECK},
        {"drill", no_argument, NULL, OPT_DRILL},
        {"report", required_argument, NULL, OPT_REPORT},
        {"scan", no_argument, NULL, OPT_SCAN},
        {"history", required_argument, NULL, OPT_HISTORY},
        {"history-data", required_argument, NULL, OPT_HISTORY_DATA},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "u:n:m:r:d:w:s:qh", longs, NULL)) != -1) {
        switch (c) {
        case 'u': O.url = optarg; break;
        case 'n': O.n = atoi(optarg); break;
        case 'm': O.m = atoi(optarg); break;
        case 'r': O.rate = atof(optarg); break;
        case 'd': O.duration = atof(optarg); break;
        case 'w': O.window = atoi(optarg); break;
        case 's': O.size = atoi(optarg); break;
        case OPT_HTTP: O.http = true; break;
        case OPT_NNG: O.nng = true; break;
        case OPT_QUICKACK: O.quickack = true; break;
        case OPT_THREADS: O.threads = atoi(optarg); break;
        case OPT_DRAIN: O.drain = atof(optarg); break;
        case OPT_SETUP: O.setup_threads = atoi(optarg); break;
        case OPT_QUIET_MS: O.quiet_ms = atoi(optarg); break;
        case OPT_MAX: O.max_msgs = strtoull(optarg, NULL, 10); break;
        case OPT_PID: O.server_pid = atoi(optarg); break;
        case OPT_CHECK: O.check = true; break;
        case OPT_DRILL: O.drill = O.http = true; break;
        case OPT_REPORT: O.report = optarg; break;
        case OPT_SCAN: O.scan = true; break;
        case OPT_HISTORY: O.history = atoi(optarg); break;
        case OPT_HISTORY_DATA: O.history_data = optarg; O.history = O.history ? O.history : 1; break;
        case 'q': O.quiet = true; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (O.url == NULL || optind != argc || O.n < 1 || O.m < 1 || O.rate < 0 ||
        O.duration <= 0 || O.window < 1 || O.window > MAX_WINDOW || O.size < 0 ||
        O.size > 30000 || O.setup_threads < 1 || O.threads < 1 || O.max_msgs < 1 ||
        (O.drill && O.nng)) {
        usage(stderr);
        exit(2);
    }
    size_t ul = strlen(O.url);
    while (ul > 0 && O.url[ul - 1] == '/')
        ((char *)O.url)[--ul] = '\0';
}

/* -------------------------------------------------------------- time --- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("chat_loadgen: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* ------------------------------------------------------------- state --- */

typedef struct sender sender;

typedef struct client {
    int idx;                 /* 0..N-1 receivers, N..N+M-1 senders */
    sender *snd;             /* set on senders */
    char *token;
    char *ws_url;
    lg_ws *ws;               /* plain-socket transport, or: */
    lg_ws **old_ws;          /* --drill: connections that dropped (freed at the end) */
    int n_old;
    nng_stream_dialer *dialer;
    nng_stream *st;
    nng_aio *recv_aio;
    nng_iov riov;
    char *rbuf;
    bool hello;
    atomic_bool dead;        /* set by the receiving thread, read by senders */
    /* What a receiver saw; written only by its receive callback (one receive
     * is in flight at a time), read by main afterwards. */
    uint64_t *seen;          /* bitmap by message id */
    size_t seen_words;
    uint64_t dups, ooo, bad;
    uint64_t *last_by_sender; /* id + 1 of the last message from each sender */
    _Atomic uint64_t deliveries;
    _Atomic uint64_t last_ns;
    lg_hist lat;
} client;

typedef struct pend {
    uint64_t id;
    uint64_t t;
    bool used;
} pend;

struct sender {
    client *c;
    int idx;
    nng_aio *send_aio, *timer_aio;
    nng_iov siov;
    pthread_mutex_t mu;
    bool sending, done;
    int outstanding;
    double rate;             /* messages per ns for this sender, 0 = no pacing */
    double phase;
    uint64_t issued, accepted, rejected, send_errors;
    char first_error[256];
    pend *pend;
    char *sbuf;
    size_t sbuf_cap;
    lg_hist ack;
    pthread_t thread;        /* --http */
};

static lg_ws_loop *loop;     /* plain-socket transport */

static struct {
    char runid[20];
    char channel[64];
    char *pad;
    client *clients;         /* N + M */
    sender *senders;         /* M */
    int n_ws;                /* clients with a WebSocket */
    _Atomic uint64_t next_id;
    _Atomic uint64_t *accepted_bits;
    uint64_t cap;
    uint64_t t0, t_end;
    _Atomic bool stopping;
    _Atomic int hellos;
    _Atomic int dead;
    _Atomic uint64_t other_frames;
    _Atomic uint64_t conn_errors;
    _Atomic uint64_t error_frames;
    _Atomic uint64_t resyncs;     /* --drill: a reconnected client told to re-read */
    pthread_mutex_t err_mu;
    char first_conn_error[256];
} G;

static void note_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note_error(const char *fmt, ...)
{
    pthread_mutex_lock(&G.err_mu);
    if (G.first_conn_error[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(G.first_conn_error, sizeof G.first_conn_error, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&G.err_mu);
}

static size_t rbuf_size(void)
{
    /* A message event is the text plus ~400 bytes; setup events are small. */
    size_t n = 2 * (size_t)O.size + 16384;
    return n;
}

/* ---------------------------------------------------------- receiving --- */

static void start_recv(client *c)
{
    c->riov.iov_buf = c->rbuf;
    c->riov.iov_len = rbuf_size();
    nng_aio_set_iov(c->recv_aio, 1, &c->riov);
    nng_stream_recv(c->st, c->recv_aio);
}

static bool parse_text(const char *p, uint64_t *id, int *from, uint64_t *t)
{
    char *end;
    *id = strtoull(p, &end, 10);
    if (*end != ':')
        return false;
    long s = strtol(end + 1, &end, 10);
    if (*end != ':' || s < 0 || s >= O.m)
        return false;
    *from = (int)s;
    *t = strtoull(end + 1, &end, 10);
    return *end == ':';
}

static void deliver(client *c, const char *text, uint64_t t)
{
    uint64_t id, sent;
    int from;
    if (!parse_text(text, &id, &from, &sent)) {
        c->bad++;
        return;
    }
    size_t w = (size_t)(id >> 6);
    if (w >= c->seen_words) {
        size_t nw = c->seen_words ? c->seen_words : 1024;
        while (nw <= w)
            nw *= 2;
        uint64_t *p = realloc(c->seen, nw * sizeof *p);
        if (p == NULL)
            die("out of memory");
        memset(p + c->seen_words, 0, (nw - c->seen_words) * sizeof *p);
        c->seen = p;
        c->seen_words = nw;
    }
    uint64_t bit = UINT64_C(1) << (id & 63);
    if (c->seen[w] & bit)
        c->dups++;
    c->seen[w] |= bit;
    if (id + 1 < c->last_by_sender[from])
        c->ooo++;
    else
        c->last_by_sender[from] = id + 1;
    lg_hist_record(&c->lat, t > sent ? t - sent : 0);
    atomic_store_explicit(&c->deliveries, atomic_load_explicit(&c->deliveries,
                          memory_order_relaxed) + 1, memory_order_relaxed);
    atomic_store_explicit(&c->last_ns, t, memory_order_relaxed);
}

static void try_send(sender *s);

/* {"reply_to":N,"ok":true,...} answers a send; so does the gateway's
 * {"ok":false,"reply_to":N,"error":...} for a frame it could not read. */
static void on_reply(sender *s, const char *buf, const char *num, uint64_t t)
{
    char *end;
    uint64_t id = strtoull(num, &end, 10);
    bool ok = strncmp(end, ",\"ok\":true", 10) == 0;
    pthread_mutex_lock(&s->mu);
    pend *p = NULL;
    for (int i = 0; i < O.window; i++) {
        if (s->pend[i].used && s->pend[i].id == id) {
            p = &s->pend[i];
            break;
        }
    }
    if (p) {
        p->used = false;
        s->outstanding--;
        lg_hist_record(&s->ack, t > p->t ? t - p->t : 0);
    }
    if (ok && p) {
        s->accepted++;
        atomic_fetch_or_explicit(&G.accepted_bits[id >> 6], UINT64_C(1) << (id & 63),
                                 memory_order_relaxed);
    } else {
        s->rejected++;
        if (s->first_error[0] == '\0')
            snprintf(s->first_error, sizeof s->first_error, "%.250s", buf);
    }
    try_send(s);
    pthread_mutex_unlock(&s->mu);
}

static void handle_frame(client *c, const char *buf, uint64_t t)
{
    static const char reply[] = "{\"reply_to\":";
    static const char refused[] = "{\"ok\":false,\"reply_to\":";
    if (c->snd && strncmp(buf, reply, sizeof reply - 1) == 0) {
        on_reply(c->snd, buf, buf + sizeof reply - 1, t);
        return;
    }
    if (c->snd && strncmp(buf, refused, sizeof refused - 1) == 0) {
        on_reply(c->snd, buf, buf + sizeof refused - 1, t);
        return;
    }
    if (!O.scan) {
        /* As a real client: every frame checked whole as JSON, the text
         * decoded from it (lg_json.c; no tree, so the client keeps up). */
        static _Thread_local char text[40960];
        size_t tl = 0;
        int got = lg_json_member(buf, strlen(buf), "text", text, sizeof text, &tl);
        if (got < 0) {
            c->bad++;
            return;
        }
        bool ours = got == 1 && strncmp(text, "lg:", 3) == 0;
        if (ours && c->snd == NULL)
            deliver(c, text + 3, t);
        if (ours)
            return;
    } else {
        /* --scan: no JSON parse, just find our own text. */
        const char *p = strstr(buf, "\"text\":\"lg:");
        if (p) {
            if (c->snd == NULL)
                deliver(c, p + 11, t);
            return; /* senders are members too and hear their channel */
        }
    }
    if (!c->hello && strncmp(buf, "{\"type\":\"hello\"", 15) == 0) {
        c->hello = true;
        atomic_fetch_add(&G.hellos, 1);
        return;
    }
    if (O.drill && strstr(buf, "\"type\":\"resync\"")) {
        atomic_fetch_add(&G.resyncs, 1);
        return;
    }
    if (strncmp(buf, "{\"type\":\"error\"", 15) == 0 || strstr(buf, "\"type\":\"resync\"")) {
        atomic_fetch_add(&G.error_frames, 1);
        note_error("client %d got %.200s", c->idx, buf);
        return;
    }
    atomic_fetch_add_explicit(&G.other_frames, 1, memory_order_relaxed);
}

static void on_recv(void *arg)
{
    client *c = arg;
    int e = nng_aio_result(c->recv_aio);
    if (e != 0) {
        atomic_store(&c->dead, true);
        atomic_fetch_add(&G.dead, 1);
        if (!atomic_load(&G.stopping)) {
            atomic_fetch_add(&G.conn_errors, 1);
            note_error("client %d: receive: %s", c->idx, nng_strerror(e));
        }
        return;
    }
    size_t n = nng_aio_count(c->recv_aio);
    uint64_t t = now_ns();
    c->rbuf[n] = '\0';
    handle_frame(c, c->rbuf, t);
    start_recv(c);
}

static void on_ws_frame(void *arg, char *text, size_t len, uint64_t t)
{
    (void)len;
    handle_frame(arg, text, t);
}

static void on_ws_close(void *arg, const char *why)
{
    client *c = arg;
    if (O.drill && !atomic_load(&G.stopping)) {
        /* A gateway died: connect again through the load balancer. */
        lg_errwin_note(now_ns(), "client %d: WebSocket closed: %s", c->idx, why);
        lg_reconnect_push(c);
        return;
    }
    atomic_store(&c->dead, true);
    atomic_fetch_add(&G.dead, 1);
    if (!atomic_load(&G.stopping)) {
        atomic_fetch_add(&G.conn_errors, 1);
        note_error("client %d: %s", c->idx, why);
    }
}

/* ------------------------------------------------------------ sending --- */

/* The next message if one is due: its JSON in s->sbuf, its id in the
 * window, its send time in its text. s->mu held. 0 if none is due. */
static size_t next_message(sender *s)
{
    if (s->done)
        return 0;
    uint64_t t = now_ns();
    if (t >= G.t_end || atomic_load(&s->c->dead)) {
        s->done = true;
        return 0;
    }
    if (s->outstanding >= O.window)
        return 0;
    if (s->rate > 0 && (double)s->issued >= (double)(t - G.t0) * s->rate + s->phase)
        return 0;
    uint64_t id = atomic_fetch_add(&G.next_id, 1);
    if (id >= G.cap) {
        s->done = true;
        return 0;
    }
    pend *p = NULL;
    for (int i = 0; i < O.window; i++) {
        if (!s->pend[i].used) {
            p = &s->pend[i];
            break;
        }
    }
    *p = (pend){id, t, true};
    int len = snprintf(s->sbuf, s->sbuf_cap,
                       "{\"type\":\"message\",\"id\":%" PRIu64 ",\"channel\":\"%s\","
                       "\"text\":\"lg:%" PRIu64 ":%d:%" PRIu64 ":%s\"}",
                       id, G.channel, id, s->idx, now_ns(), G.pad);
    s->outstanding++;
    s->issued++;
    return (size_t)len;
}

/* Hands what is due to the socket. s->mu held. Called after each send
 * completes, each reply, and each pacing tick, so a sender never waits on
 * anything but its window, its rate and its socket. */
static void try_send(sender *s)
{
    if (s->c->ws) {
        /* A blocking write of a small frame: the window keeps it far below
         * what the socket buffers. */
        size_t len;
        while ((len = next_message(s)) > 0) {
            int e = lg_ws_send(s->c->ws, s->sbuf, len);
            if (e != 0) {
                s->send_errors++;
                s->done = true;
                if (!atomic_load(&G.stopping))
                    note_error("sender %d: send: %s", s->idx, strerror(e));
                return;
            }
        }
        return;
    }
    if (s->sending)
        return;
    size_t len = next_message(s);
    if (len == 0)
        return;
    s->sending = true;
    s->siov.iov_buf = s->sbuf;
    s->siov.iov_len = len;
    nng_aio_set_iov(s->send_aio, 1, &s->siov);
    nng_stream_send(s->c->st, s->send_aio);
}

/* Plain-socket senders at a set rate: one thread paces them all. */
static void *pacer(void *arg)
{
    (void)arg;
    for (;;) {
        bool busy = false;
        for (int i = 0; i < O.m; i++) {
            sender *s = &G.senders[i];
            pthread_mutex_lock(&s->mu);
            try_send(s);
            busy |= !s->done;
            pthread_mutex_unlock(&s->mu);
        }
        if (!busy || atomic_load(&G.stopping))
            return NULL;
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
}

static void on_sent(void *arg)
{
    sender *s = arg;
    int e = nng_aio_result(s->send_aio);
    pthread_mutex_lock(&s->mu);
    s->sending = false;
    if (e != 0) {
        s->send_errors++;
        s->done = true;
        if (!atomic_load(&G.stopping))
            note_error("sender %d: send: %s", s->idx, nng_strerror(e));
    } else {
        try_send(s);
    }
    pthread_mutex_unlock(&s->mu);
}

static void on_tick(void *arg)
{
    sender *s = arg;
    if (nng_aio_result(s->timer_aio) != 0)
        return;
    pthread_mutex_lock(&s->mu);
    try_send(s);
    bool again = !s->done;
    pthread_mutex_unlock(&s->mu);
    if (again)
        nng_sleep_aio(1, s->timer_aio);
}

/* --drill: the post in s->sbuf, sent again with its client_msg_id after any
 * error until it is acknowledged (the server keeps one message per id), for
 * at most a minute. The last reply, or NULL. */
static json_t *drill_post(lg_http *h, sender *s, uint64_t id)
{
    char err[512];
    uint64_t give_up = now_ns() + 60 * 1000000000ull;
    for (int tries = 0;; tries++) {
        json_t *r = lg_http_call(h, "chat.postMessage", s->c->token, s->sbuf, err, sizeof err);
        if (r && json_is_true(json_object_get(r, "ok"))) {
            if (tries > 0)
                lg_errwin_recovered(now_ns());
            return r;
        }
        char *d = r ? json_dumps(r, JSON_COMPACT) : NULL;
        lg_errwin_note(now_ns(), "post %" PRIu64 ": %.200s", id, d ? d : err);
        free(d);
        if (now_ns() > give_up)
            return r;
        json_decref(r);
        sleep_ms(100);
    }
}

/* --drill: a WebSocket that dropped connects again through the load
 * balancer (on the reconnecting thread); false after noting the error. */
static bool drill_reconnect(void *arg)
{
    client *c = arg;
    char err[512];
    lg_http *h = lg_http_new(O.url, err, sizeof err);
    json_t *r = NULL;
    if (h) {
        lg_http_set_timeout(h, 5000);
        r = lg_http_call(h, "rtm.connect", c->token, "{}", err, sizeof err);
        lg_http_free(h);
    }
    const char *url = r ? json_string_value(json_object_get(r, "url")) : NULL;
    lg_ws *ws = url ? lg_ws_connect(loop, url, rbuf_size(), on_ws_frame, on_ws_close, c, err,
                                    sizeof err)
                    : NULL;
    json_decref(r);
    if (ws == NULL) {
        lg_errwin_note(now_ns(), "client %d: reconnect: %.200s", c->idx,
                       url || !r ? err : "rtm.connect refused");
        return false;
    }
    lg_ws **old = realloc(c->old_ws, (size_t)(c->n_old + 1) * sizeof *old);
    if (old == NULL)
        die("out of memory");
    c->old_ws = old;
    c->old_ws[c->n_old++] = c->ws;
    c->ws = ws;
    lg_errwin_recovered(now_ns());
    return true;
}

/* --http: one blocking chat.postMessage at a time per sender thread. */
static void *http_sender(void *arg)
{
    sender *s = arg;
    char err[512];
    lg_http *h = lg_http_new(O.url, err, sizeof err);
    /* Posts go over a plain keep-alive socket, as most clients' do; drills
     * (timeouts, resends) and https keep nng's client. */
    lg_post *raw = !O.drill && strncmp(O.url, "http://", 7) == 0
                       ? lg_post_new(O.url, err, sizeof err)
                       : NULL;
    if (h == NULL) {
        note_error("sender %d: %s", s->idx, err);
        lg_post_free(raw);
        return NULL;
    }
    if (O.drill)
        lg_http_set_timeout(h, 30000); /* as the Slack SDKs: slower is not an error */
    for (;;) {
        uint64_t t = now_ns();
        if (t >= G.t_end)
            break;
        if (s->rate > 0) {
            double due = (double)G.t0 + ((double)s->issued - s->phase) / s->rate;
            if ((double)t < due) {
                uint64_t wait = (uint64_t)(due - (double)t);
                struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
                nanosleep(&ts, NULL);
                continue;
            }
        }
        uint64_t id = atomic_fetch_add(&G.next_id, 1);
        if (id >= G.cap)
            break;
        t = now_ns();
        snprintf(s->sbuf, s->sbuf_cap,
                 "{\"channel\":\"%s\",\"client_msg_id\":\"lg-%s-%" PRIu64 "\","
                 "\"text\":\"lg:%" PRIu64 ":%d:%" PRIu64 ":%s\"}", G.channel, G.runid, id, id,
                 s->idx, t, G.pad);
        pthread_mutex_lock(&s->mu);
        s->issued++;
        pthread_mutex_unlock(&s->mu);
        json_t *r = O.drill ? drill_post(h, s, id)
                    : raw ? lg_post_call(raw, "chat.postMessage", s->c->token, s->sbuf, err,
                                         sizeof err)
                          : lg_http_call(h, "chat.postMessage", s->c->token, s->sbuf, err,
                                         sizeof err);
        uint64_t t2 = now_ns();
        pthread_mutex_lock(&s->mu);
        lg_hist_record(&s->ack, t2 - t);
        if (r && json_is_true(json_object_get(r, "ok"))) {
            s->accepted++;
            atomic_fetch_or_explicit(&G.accepted_bits[id >> 6], UINT64_C(1) << (id & 63),
                                     memory_order_relaxed);
        } else {
            s->rejected++;
            if (s->first_error[0] == '\0') {
                if (r) {
                    char *d = json_dumps(r, JSON_COMPACT);
                    snprintf(s->first_error, sizeof s->first_error, "%.250s", d ? d : "?");
                    free(d);
                } else {
                    snprintf(s->first_error, sizeof s->first_error, "%.250s", err);
                }
            }
        }
        pthread_mutex_unlock(&s->mu);
        json_decref(r);
    }
    pthread_mutex_lock(&s->mu);
    s->done = true;
    pthread_mutex_unlock(&s->mu);
    lg_http_free(h);
    lg_post_free(raw);
    return NULL;
}

/* -------------------------------------------------------------- setup --- */

static json_t *call_ok(lg_http *h, const char *method, const char *token, json_t *body)
{
    char err[512];
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL)
        die("out of memory");
    json_t *r = lg_http_call(h, method, token, text, err, sizeof err);
    free(text);
    if (r == NULL)
        die("%s", err);
    if (!json_is_true(json_object_get(r, "ok"))) {
        char *d = json_dumps(r, JSON_COMPACT);
        die("%s failed: %s", method, d ? d : "?");
    }
    return r;
}

static void signup(lg_http *h, client *c)
{
    char email[128], name[64];
    snprintf(email, sizeof email, "lg%s-%d@loadgen.example", G.runid, c->idx);
    snprintf(name, sizeof name, "Loadgen %d", c->idx);
    json_t *r = call_ok(h, "auth.signup", NULL,
                        json_pack("{s:s,s:s,s:s}", "email", email, "password", PASSWORD,
                                  "real_name", name));
    const char *tok = json_string_value(json_object_get(r, "token"));
    if (tok == NULL || (c->token = strdup(tok)) == NULL)
        die("auth.signup: no token");
    json_decref(r);
}

static bool wants_ws(const client *c)
{
    return c->snd == NULL || !O.http;
}

static void connect_ws(lg_http *h, client *c)
{
    json_t *r = call_ok(h, "rtm.connect", c->token, json_object());
    const char *url = json_string_value(json_object_get(r, "url"));
    if (url == NULL || (c->ws_url = strdup(url)) == NULL)
        die("rtm.connect: no url");
    json_decref(r);
    if (!O.nng) {
        char err[512];
        c->ws = lg_ws_connect(loop, c->ws_url, rbuf_size(), on_ws_frame, on_ws_close, c, err,
                              sizeof err);
        if (c->ws == NULL)
            die("client %d: WebSocket: %s", c->idx, err);
        return;
    }
    nng_aio *aio = NULL;
    int e = nng_stream_dialer_alloc(&c->dialer, c->ws_url);
    if (e == 0)
        e = nng_stream_dialer_set_bool(c->dialer, NNG_OPT_WS_RECV_TEXT, true);
    if (e == 0)
        e = nng_stream_dialer_set_bool(c->dialer, NNG_OPT_WS_SEND_TEXT, true);
    if (e == 0)
        e = nng_stream_dialer_set_size(c->dialer, NNG_OPT_WS_RECVMAXFRAME, rbuf_size());
    if (e == 0)
        e = nng_aio_alloc(&aio, NULL, NULL);
    if (e == 0) {
        nng_aio_set_timeout(aio, 30000);
        nng_stream_dialer_dial(c->dialer, aio);
        nng_aio_wait(aio);
        e = nng_aio_result(aio);
    }
    if (e == 0)
        c->st = nng_aio_get_output(aio, 0);
    if (aio)
        nng_aio_free(aio);
    if (e == 0)
        e = nng_aio_alloc(&c->recv_aio, on_recv, c);
    if (e == 0 && (c->rbuf = malloc(rbuf_size() + 1)) == NULL)
        e = NNG_ENOMEM;
    if (e != 0)
        die("client %d: WebSocket %s: %s", c->idx, c->ws_url, nng_strerror(e));
    start_recv(c);
}

typedef struct setup_job {
    int phase;               /* 0: sign up and join, 1: connect */
    _Atomic int next;
} setup_job;

static void *setup_worker(void *arg)
{
    setup_job *j = arg;
    char err[512];
    lg_http *h = lg_http_new(O.url, err, sizeof err);
    if (h == NULL)
        die("%s", err);
    int total = O.n + O.m;
    for (int i; (i = atomic_fetch_add(&j->next, 1)) < total;) {
        client *c = &G.clients[i];
        if (j->phase == 0) {
            if (i == 0)
                continue; /* the channel's creator, done first */
            signup(h, c);
            json_decref(call_ok(h, "conversations.join", c->token,
                                json_pack("{s:s}", "channel", G.channel)));
        } else if (wants_ws(c)) {
            connect_ws(h, c);
        }
    }
    lg_http_free(h);
    return NULL;
}

static void run_setup(int phase)
{
    int k = O.setup_threads;
    setup_job j = {.phase = phase};
    atomic_init(&j.next, 0);
    pthread_t *t = calloc((size_t)k, sizeof *t);
    for (int i = 0; i < k; i++)
        if (pthread_create(&t[i], NULL, setup_worker, &j) != 0)
            die("cannot start setup threads");
    for (int i = 0; i < k; i++)
        pthread_join(t[i], NULL);
    free(t);
}

static void raise_nofile(rlim_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return;
    rl.rlim_cur = need;
    if (rl.rlim_max < need)
        rl.rlim_max = need; /* only root may: fall back to the hard limit */
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < need)
            fprintf(stderr, "chat_loadgen: warning: only %llu file descriptors, %llu wanted\n",
                    (unsigned long long)rl.rlim_cur, (unsigned long long)need);
    }
}

/* ------------------------------------------------- server observation --- */

static bool proc_cpu_ticks(int pid, unsigned long long *ticks)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    unsigned long long ut, st;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return false;
    *ticks = ut + st;
    return true;
}

static long proc_rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* ------------------------------------------------------------ running --- */

static uint64_t total_deliveries(uint64_t *last_ns)
{
    uint64_t d = 0, last = 0;
    for (int i = 0; i < O.n; i++) {
        client *c = &G.clients[i];
        d += atomic_load_explicit(&c->deliveries, memory_order_relaxed);
        uint64_t l = atomic_load_explicit(&c->last_ns, memory_order_relaxed);
        if (l > last)
            last = l;
    }
    if (last_ns)
        *last_ns = last;
    return d;
}

static void sender_totals(uint64_t *issued, uint64_t *accepted, uint64_t *rejected,
                          int *outstanding, int *busy)
{
    *issued = *accepted = *rejected = 0;
    *outstanding = *busy = 0;
    for (int i = 0; i < O.m; i++) {
        sender *s = &G.senders[i];
        pthread_mutex_lock(&s->mu);
        *issued += s->issued;
        *accepted += s->accepted;
        *rejected += s->rejected;
        *outstanding += atomic_load(&s->c->dead) ? 0 : s->outstanding;
        *busy += !s->done;
        pthread_mutex_unlock(&s->mu);
    }
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static double cpu_seconds(const struct rusage *a, const struct rusage *b)
{
    return (double)(b->ru_utime.tv_sec - a->ru_utime.tv_sec) +
           (double)(b->ru_utime.tv_usec - a->ru_utime.tv_usec) / 1e6 +
           (double)(b->ru_stime.tv_sec - a->ru_stime.tv_sec) +
           (double)(b->ru_stime.tv_usec - a->ru_stime.tv_usec) / 1e6;
}

/* --report FILE: what a drill checks afterwards against the server (every
 * acknowledged id stored once, unread counts) and what it prints. */
static void write_report(uint64_t accepted, uint64_t rejected, uint64_t missing, uint64_t dups,
                         double ack_p50_ms, double ack_max_ms)
{
    lg_errwin w = lg_errwin_get();
    json_t *ids = json_array(), *rx = json_array();
    for (uint64_t id = 0; id < G.cap; id++)
        if (atomic_load_explicit(&G.accepted_bits[id >> 6], memory_order_relaxed) &
            (UINT64_C(1) << (id & 63)))
            json_array_append_new(ids, json_integer((json_int_t)id));
    for (int i = 0; i < O.n && i < 3; i++)
        json_array_append_new(rx, json_pack("{s:s,s:I}", "token", G.clients[i].token,
                                            "duplicates", (json_int_t)G.clients[i].dups));
    double t0 = (double)G.t0;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "lg-%s-", G.runid);
    json_t *j = json_pack(
        "{s:s,s:s,s:s,s:I,s:I,s:o,s:I,s:f,s:f,s:f,s:s,s:I,s:I,s:I,s:I,s:o,s:f,s:f}", "runid",
        G.runid,
        "channel", G.channel, "client_msg_id_prefix", prefix, "accepted", (json_int_t)accepted,
        "refused", (json_int_t)rejected, "acked_ids", ids, "errors", (json_int_t)w.count,
        "error_window_s", w.count ? (double)(w.end_ns - w.first_ns) / 1e9 : 0.0,
        "first_error_at_s", w.count ? ((double)w.first_ns - t0) / 1e9 : 0.0,
        "last_error_at_s", w.count ? ((double)w.last_ns - t0) / 1e9 : 0.0, "first_error",
        w.first, "duplicates", (json_int_t)dups, "missing_over_socket", (json_int_t)missing,
        "reconnects", (json_int_t)lg_reconnect_count(), "resyncs",
        (json_int_t)atomic_load(&G.resyncs), "receivers", rx, "ack_p50_ms", ack_p50_ms,
        "ack_max_ms", ack_max_ms);
    if (j == NULL || json_dump_file(j, O.report, JSON_COMPACT) != 0)
        die("cannot write the report to %s", O.report);
    json_decref(j);
}

int main(int argc, char **argv)
{
    parse_opts(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_mutex_init(&G.err_mu, NULL);
    raise_nofile((rlim_t)(O.n + O.m) * 2 + 256);

    uint64_t seed = now_ns() ^ ((uint64_t)getpid() << 32);
    snprintf(G.runid, sizeof G.runid, "%08llx", (unsigned long long)(seed & 0xffffffffu));
    G.pad = malloc((size_t)O.size + 1);
    memset(G.pad, 'x', (size_t)O.size);
    G.pad[O.size] = '\0';
    if (O.rate > 0) {
        uint64_t bound = (uint64_t)(O.rate * O.duration * 1.2) + (uint64_t)O.m * 64 + 1024;
        if (bound < O.max_msgs)
            O.max_msgs = bound;
    }
    G.cap = O.max_msgs;
    G.accepted_bits = calloc((size_t)(G.cap / 64 + 1), sizeof *G.accepted_bits);
    G.clients = calloc((size_t)(O.n + O.m), sizeof *G.clients);
    G.senders = calloc((size_t)O.m, sizeof *G.senders);
    if (G.accepted_bits == NULL || G.clients == NULL || G.senders == NULL)
        die("out of memory");
    for (int i = 0; i < O.n + O.m; i++) {
        client *c = &G.clients[i];
        c->idx = i;
        if (i < O.n && (c->last_by_sender = calloc((size_t)O.m, sizeof(uint64_t))) == NULL)
            die("out of memory");
    }
    for (int i = 0; i < O.m; i++) {
        sender *s = &G.senders[i];
        s->idx = i;
        s->c = &G.clients[O.n + i];
        s->c->snd = s;
        pthread_mutex_init(&s->mu, NULL);
        s->pend = calloc((size_t)O.window, sizeof *s->pend);
        s->sbuf_cap = (size_t)O.size + 512;
        s->sbuf = malloc(s->sbuf_cap);
        if (s->pend == NULL || s->sbuf == NULL)
            die("out of memory");
        s->rate = O.rate > 0 ? O.rate / O.m / 1e9 : 0;
        s->phase = 1.0 + (double)i / O.m; /* staggered, so senders do not fire together */
        if (!O.http && O.nng && (nng_aio_alloc(&s->send_aio, on_sent, s) != 0 ||
                        nng_aio_alloc(&s->timer_aio, on_tick, s) != 0))
            die("out of memory");
    }

    char rate[32];
    snprintf(rate, sizeof rate, O.rate > 0 ? "%g/s" : "unlimited", O.rate);
    printf("chat_loadgen: %s  N=%d receivers  M=%d senders (%s)  rate=%s  duration=%gs  "
           "window=%d  text>=%d B\n",
           O.url, O.n, O.m,
           O.http ? "chat.postMessage over HTTP" : O.nng ? "WebSocket, nng streams" : "WebSocket, epoll", rate,
           O.duration, O.http ? 1 : O.window, O.size);

    /* The creator makes the channel; everyone else signs up and joins; then
     * all connect, so join events do not flood clients already connected. */
    uint64_t ts0 = now_ns();
    {
        char err[512];
        lg_http *h = lg_http_new(O.url, err, sizeof err);
        if (h == NULL)
            die("%s", err);
        signup(h, &G.clients[0]);
        char name[64];
        snprintf(name, sizeof name, "bench-%s", G.runid);
        json_t *r = call_ok(h, "conversations.create", G.clients[0].token,
                            json_pack("{s:s}", "name", name));
        const char *id = json_string_value(json_object_get(json_object_get(r, "channel"), "id"));
        if (id == NULL || strlen(id) >= sizeof G.channel)
            die("conversations.create: no channel id");
        snprintf(G.channel, sizeof G.channel, "%s", id);
        json_decref(r);
        lg_http_free(h);
    }
    run_setup(0);
    uint64_t ts1 = now_ns();
    for (int i = 0; i < O.n + O.m; i++)
        G.n_ws += wants_ws(&G.clients[i]);
    if (!O.nng) {
        char err[256];
        if ((loop = lg_ws_loop_new(O.threads, err, sizeof err)) == NULL)
            die("%s", err);
        lg_ws_loop_quickack(loop, O.quickack);
        if (O.drill)
            lg_reconnect_start(drill_reconnect, 250);
    }
    run_setup(1);
    uint64_t deadline = now_ns() + 60 * 1000000000ull;
    while (atomic_load(&G.hellos) < G.n_ws && now_ns() < deadline && atomic_load(&G.dead) == 0)
        sleep_ms(10);
    if (atomic_load(&G.hellos) < G.n_ws)
        die("only %d of %d clients said hello (%s)", atomic_load(&G.hellos), G.n_ws,
            G.first_conn_error[0] ? G.first_conn_error : "timeout");
    uint64_t ts2 = now_ns();
    /* Connecting makes the server announce presence to everyone: let it settle. */
    uint64_t seen = atomic_load(&G.other_frames), quiet_since = now_ns();
    deadline = now_ns() + 60 * 1000000000ull;
    while (now_ns() < deadline) {
        sleep_ms(20);
        uint64_t o = atomic_load(&G.other_frames);
        if (o != seen) {
            seen = o;
            quiet_since = now_ns();
        } else if (now_ns() - quiet_since >= (uint64_t)O.quiet_ms * 1000000u) {
            break;
        }
    }
    uint64_t ts3 = now_ns();
    printf("setup: %d users signed up and joined %s in %.2f s; %d WebSockets connected in "
           "%.2f s; %" PRIu64 " setup events, quiet after %.2f s\n",
           O.n + O.m, G.channel, ms(ts1 - ts0) / 1e3, G.n_ws, ms(ts2 - ts1) / 1e3, seen,
           ms(ts3 - ts2) / 1e3);

    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    unsigned long long srv_ticks0 = 0, srv_ticks1 = 0;
    bool srv_cpu = O.server_pid > 0 && proc_cpu_ticks(O.server_pid, &srv_ticks0);
    if (O.history > 0) {
        uint64_t h0 = now_ns();
        int rc = O.history_data != NULL
                     ? lg_history_prebuilt(O.url, O.history_data, O.m, O.duration)
                     : lg_history_run(O.url, G.clients[O.n].token, G.channel, O.history, O.m,
                                      O.duration);
        getrusage(RUSAGE_SELF, &ru1);
        double span = (double)(now_ns() - h0) / 1e9, cli = cpu_seconds(&ru0, &ru1);
        printf("loadgen: %.2f CPU s over %.2f s (%.0f%% of one core)\n", cli, span,
               100 * cli / span);
        if (srv_cpu && proc_cpu_ticks(O.server_pid, &srv_ticks1)) {
            double s = (double)(srv_ticks1 - srv_ticks0) / (double)sysconf(_SC_CLK_TCK);
            printf("server pid %d: %.2f CPU s over %.2f s (%.0f%% of one core)\n", O.server_pid,
                   s, span, 100 * s / span);
        }
        return rc;
    }
    long srv_rss_peak = O.server_pid > 0 ? proc_rss_kib(O.server_pid) : -1;
    long srv_rss_before = srv_rss_peak;

    G.t0 = now_ns();
    G.t_end = G.t0 + (uint64_t)(O.duration * 1e9);
    pthread_t pacer_tid;
    bool pacing = !O.http && !O.nng && O.rate > 0;
    if (pacing && pthread_create(&pacer_tid, NULL, pacer, NULL) != 0)
        die("cannot start the pacing thread");
    for (int i = 0; i < O.m && !pacing; i++) {
        sender *s = &G.senders[i];
        if (O.http) {
            if (pthread_create(&s->thread, NULL, http_sender, s) != 0)
                die("cannot start sender threads");
        } else if (O.rate > 0) {
            nng_sleep_aio(0, s->timer_aio);
        } else {
            pthread_mutex_lock(&s->mu);
            try_send(s);
            pthread_mutex_unlock(&s->mu);
        }
    }

    /* Progress each second, then wait for the answers and the late deliveries. */
    uint64_t next_report = G.t0 + 1000000000u, prev_acc = 0, prev_del = 0;
    uint64_t issued, accepted, rejected, del, last_del_ns = 0;
    int outstanding, busy;
    uint64_t progress_at = now_ns(), progress_val = 0;
    const char *gave_up = NULL;
    for (;;) {
        sleep_ms(20);
        uint64_t t = now_ns();
        sender_totals(&issued, &accepted, &rejected, &outstanding, &busy);
        del = total_deliveries(&last_del_ns);
        if (O.server_pid > 0) {
            long r = proc_rss_kib(O.server_pid);
            if (r > srv_rss_peak)
                srv_rss_peak = r;
        }
        if (t >= next_report && t < G.t_end + 1000000000u) {
            if (!O.quiet)
                fprintf(stderr, "  [%4.1fs] accepted %8" PRIu64 " (+%" PRIu64 ")  deliveries %10"
                        PRIu64 " (+%" PRIu64 ")  in flight %d\n",
                        (double)(t - G.t0) / 1e9, accepted, accepted - prev_acc, del,
                        del - prev_del, outstanding);
            prev_acc = accepted;
            prev_del = del;
            next_report += 1000000000u;
        }
        if (t < G.t_end)
            continue;
        for (int i = 0; i < O.m && !O.http; i++) {
            /* a sender with nothing in flight has nothing left to wake it */
            pthread_mutex_lock(&G.senders[i].mu);
            try_send(&G.senders[i]);
            pthread_mutex_unlock(&G.senders[i].mu);
        }
        if (busy == 0 && outstanding == 0 && del >= accepted * (uint64_t)O.n)
            break;
        /* A drill's reconnected clients re-read what they missed (resync):
         * the run ends once deliveries have been quiet for 2 s. */
        if (O.drill && busy == 0 && outstanding == 0 && t - last_del_ns > 2000000000u)
            break;
        uint64_t v = del + accepted + rejected;
        if (v != progress_val) {
            progress_val = v;
            progress_at = t;
        }
        if (t - progress_at > 3000000000u) {
            gave_up = "nothing arrived for 3 s: what is missing is lost";
            break;
        }
        if (t - G.t_end > (uint64_t)(O.drain * 1e9)) {
            gave_up = "--drain time is up while deliveries were still arriving: what is "
                      "missing was still queued in the server, not (yet) lost";
            break;
        }
    }
    uint64_t t_done = now_ns();
    getrusage(RUSAGE_SELF, &ru1);
    if (srv_cpu)
        srv_cpu = proc_cpu_ticks(O.server_pid, &srv_ticks1);

    /* Stop: pacing first, then every socket. */
    atomic_store(&G.stopping, true);
    for (int i = 0; i < O.m; i++) {
        sender *s = &G.senders[i];
        pthread_mutex_lock(&s->mu);
        s->done = true;
        pthread_mutex_unlock(&s->mu);
        if (O.http)
            pthread_join(s->thread, NULL);
        else if (s->timer_aio)
            nng_aio_stop(s->timer_aio);
    }
    if (pacing)
        pthread_join(pacer_tid, NULL);
    lg_reconnect_stop();
    lg_ws_loop_stop(loop);
    for (int i = 0; i < O.n + O.m; i++)
        if (G.clients[i].st)
            nng_stream_close(G.clients[i].st);
    for (int i = 0; i < O.n + O.m; i++) {
        client *c = &G.clients[i];
        if (c->recv_aio)
            nng_aio_stop(c->recv_aio);
        if (c->snd && c->snd->send_aio)
            nng_aio_stop(c->snd->send_aio);
    }
    sender_totals(&issued, &accepted, &rejected, &outstanding, &busy);
    del = total_deliveries(&last_del_ns);

    /* Exactly once: each receiver against the set of accepted ids. */
    uint64_t missing = 0, dups = 0, unexpected = 0, ooo = 0, bad = 0;
    int rx_bad = 0;
    size_t acc_words = (size_t)(G.cap / 64 + 1);
    lg_hist_sum *lat = calloc(1, sizeof *lat), *ack = calloc(1, sizeof *ack);
    for (int i = 0; i < O.n; i++) {
        client *c = &G.clients[i];
        uint64_t m = 0, u = 0;
        for (size_t w = 0; w < acc_words; w++) {
            uint64_t a = atomic_load_explicit(&G.accepted_bits[w], memory_order_relaxed);
            uint64_t s = w < c->seen_words ? c->seen[w] : 0;
            m += (uint64_t)__builtin_popcountll(a & ~s);
            u += (uint64_t)__builtin_popcountll(s & ~a);
        }
        missing += m;
        unexpected += u;
        dups += c->dups;
        ooo += c->ooo;
        bad += c->bad;
        rx_bad += (m || u || c->dups || c->ooo || c->bad);
        lg_hist_merge(lat, &c->lat);
    }
    uint64_t send_errors = 0;
    for (int i = 0; i < O.m; i++) {
        lg_hist_merge(ack, &G.senders[i].ack);
        send_errors += G.senders[i].send_errors;
    }

    double window_s = (double)(G.t_end - G.t0) / 1e9;
    uint64_t last = last_del_ns > G.t0 ? last_del_ns : t_done;
    double deliver_s = (double)(last - G.t0) / 1e9;
    uint64_t expected = accepted * (uint64_t)O.n;
    printf("sent        %10" PRIu64 "  in %.2f s\n", issued, window_s);
    printf("accepted    %10" PRIu64 "  %10.0f messages/s  (refused %" PRIu64 ")\n", accepted,
           (double)accepted / window_s, rejected);
    printf("deliveries  %10" PRIu64 "  %10.0f deliveries/s over %.2f s from the first send to "
           "the last delivery  (expected %" PRIu64 " = accepted x N)\n",
           del, deliver_s > 0 ? (double)del / deliver_s : 0.0, deliver_s, expected);
    printf("send->deliver ms  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f"
           "  (%" PRIu64 " samples)\n",
           ms(lg_hist_quantile(lat, 0.50)), ms(lg_hist_quantile(lat, 0.90)),
           ms(lg_hist_quantile(lat, 0.99)), ms(lg_hist_quantile(lat, 0.999)),
           ms(lg_hist_quantile(lat, 1.0)), lat->total ? ms(lat->sum / lat->total) : 0.0,
           lat->total);
    printf("send->ack ms      p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f"
           "  (%" PRIu64 " samples)\n",
           ms(lg_hist_quantile(ack, 0.50)), ms(lg_hist_quantile(ack, 0.90)),
           ms(lg_hist_quantile(ack, 0.99)), ms(lg_hist_quantile(ack, 0.999)),
           ms(lg_hist_quantile(ack, 1.0)), ack->total ? ms(ack->sum / ack->total) : 0.0,
           ack->total);
    if (gave_up)
        printf("stopped waiting %.1f s after the last send: %s\n",
               (double)(t_done - G.t_end) / 1e9, gave_up);
    printf("exactly-once: %d of %d receivers wrong; missing %" PRIu64 ", duplicates %" PRIu64
           ", delivered but not acknowledged %" PRIu64 ", out of order %" PRIu64
           ", unreadable %" PRIu64 "\n",
           rx_bad, O.n, missing, dups, unexpected, ooo, bad);
    printf("errors: connections lost %" PRIu64 ", error frames %" PRIu64 ", send errors %"
           PRIu64 ", unanswered %d%s%s\n",
           atomic_load(&G.conn_errors), atomic_load(&G.error_frames), send_errors, outstanding,
           G.first_conn_error[0] ? "; first: " : "", G.first_conn_error);
    for (int i = 0; i < O.m; i++)
        if (G.senders[i].first_error[0])
            printf("  sender %d first refusal: %s\n", i, G.senders[i].first_error);
    double cli_cpu = cpu_seconds(&ru0, &ru1);
    double span = (double)(t_done - G.t0) / 1e9;
    struct rusage ru_self;
    getrusage(RUSAGE_SELF, &ru_self);
    printf("loadgen: %.2f CPU s over %.2f s (%.0f%% of one core), max RSS %.1f MiB\n", cli_cpu,
           span, 100 * cli_cpu / span, (double)ru_self.ru_maxrss / 1024);
    if (O.server_pid > 0) {
        long hz = sysconf(_SC_CLK_TCK);
        if (srv_cpu)
            printf("server pid %d: %.2f CPU s over %.2f s (%.0f%% of one core)",
                   O.server_pid, (double)(srv_ticks1 - srv_ticks0) / (double)hz, span,
                   100 * (double)(srv_ticks1 - srv_ticks0) / (double)hz / span);
        printf("; RSS %.1f MiB before, peak %.1f MiB during the run\n",
               (double)srv_rss_before / 1024, (double)srv_rss_peak / 1024);
    }
    printf("RESULT n=%d m=%d rate=%g duration=%g accepted=%" PRIu64 " accepted_per_s=%.0f "
           "deliveries=%" PRIu64 " expected=%" PRIu64 " deliveries_per_s=%.0f p50_ms=%.3f "
           "p90_ms=%.3f p99_ms=%.3f max_ms=%.3f missing=%" PRIu64 " dups=%" PRIu64
           " errors=%" PRIu64 "\n",
           O.n, O.m, O.rate, O.duration, accepted, (double)accepted / window_s, del, expected,
           deliver_s > 0 ? (double)del / deliver_s : 0.0, ms(lg_hist_quantile(lat, 0.5)),
           ms(lg_hist_quantile(lat, 0.9)), ms(lg_hist_quantile(lat, 0.99)),
           ms(lg_hist_quantile(lat, 1.0)), missing, dups,
           atomic_load(&G.conn_errors) + atomic_load(&G.error_frames) + send_errors + rejected);

    if (O.drill) {
        lg_errwin w = lg_errwin_get();
        printf("drill: errors %" PRIu64 ", error window %.2f s%s%s; reconnects %" PRIu64
               ", resyncs %" PRIu64 "\n",
               w.count, w.count ? (double)(w.end_ns - w.first_ns) / 1e9 : 0.0,
               w.count ? "; first: " : "", w.first, lg_reconnect_count(),
               atomic_load(&G.resyncs));
    }
    if (O.report)
        write_report(accepted, rejected, missing, dups, ms(lg_hist_quantile(ack, 0.5)),
                     ms(lg_hist_quantile(ack, 1.0)));

    int rc = 0;
    if (O.check && (accepted == 0 || del != expected || missing || dups || unexpected || ooo ||
                    bad || rejected || send_errors || outstanding ||
                    atomic_load(&G.conn_errors) || atomic_load(&G.error_frames))) {
        printf("CHECK FAILED\n");
        rc = 1;
    } else if (O.check) {
        printf("CHECK OK\n");
    }

    for (int i = 0; i < O.n + O.m; i++) {
        client *c = &G.clients[i];
        lg_ws_free(c->ws);
        for (int k = 0; k < c->n_old; k++)
            lg_ws_free(c->old_ws[k]);
        free(c->old_ws);
        if (c->st)
            nng_stream_free(c->st);
        if (c->dialer)
            nng_stream_dialer_free(c->dialer);
        if (c->recv_aio)
            nng_aio_free(c->recv_aio);
        free(c->rbuf);
        free(c->seen);
        free(c->last_by_sender);
        free(c->token);
        free(c->ws_url);
    }
    for (int i = 0; i < O.m; i++) {
        sender *s = &G.senders[i];
        if (s->send_aio)
            nng_aio_free(s->send_aio);
        if (s->timer_aio)
            nng_aio_free(s->timer_aio);
        free(s->pend);
        free(s->sbuf);
        pthread_mutex_destroy(&s->mu);
    }
    lg_ws_loop_free(loop);
    free(G.clients);
    free(G.senders);
    free((void *)G.accepted_bits);
    free(G.pad);
    free(lat);
    free(ack);
    return rc;
}
