/*
 * Two MongoDB message stores in two processes on one database (FerretDB),
 * as two chat-messaged would share it. Each writer process opens the store
 * and runs the domain's outbox relay (domain/outbox.c) to one SQLite broker
 * file; a consumer process logs every event it receives. Both writers post
 * into the same three channels and react to one shared message per channel.
 *
 * Without a crash: every ts unique and strictly increasing per channel, in
 * history and in the order the events arrive; every event published exactly
 * once (one relay publishes, the other stands by); the reactions to one
 * message arrive in the order they were made (counts 1, 2, 3...).
 * With the lease holder killed (-9) mid-run: the standby's relay takes over
 * within a few seconds, every acknowledged change is published, duplicates
 * only of events from before the takeover.
 *
 * argv[1] is the server's URL ("{mongo}" of tests/fixtures/ferretdb.sh
 * exec); each test uses a database of its own. Children report through
 * their logs (one write per line or batch) and exit codes, never Check.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chat/backend/broker.h>
#include <chat/backend/store.h>
#include <mongoc/mongoc.h>

#include "contract.h"
#include "core/internal.h"
#include "domain/outbox.h"
#include "testutil.h"

enum {
    CHANNELS = 3,
    OPS = 150,           /* per writer without a crash */
    MAX_EVENTS = 20000,
    WAIT_MS = 90000,
};

static const char *const topic = "message.test";
static const int64_t ANCHOR_TS = INT64_C(1600000000000000); /* the shared messages */

static const char *server;

/* ---- the children ---- */

static void die_with_parent(pid_t parent)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(30);
}

/* Blocks SIGTERM before any library thread starts, so that they inherit the
 * mask and sigwait gets it. */
static sigset_t term_set(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    return set;
}

static void log_line(int fd, const char *line)
{
    size_t n = strlen(line);
    if (write(fd, line, n) != (ssize_t)n)
        _exit(31);
}

/* Consumer: logs "<data> <mono µs>" per event, one write per batch. */
static int cons_fd;

static chat_err cons_handler(void *arg, const chat_broker_msg *msgs, size_t n)
{
    CHATI_UNUSED(arg);
    static char buf[64 * 1024];
    size_t len = 0;
    int64_t now = chati_mono_us();
    for (size_t i = 0; i < n && len + 160 < sizeof buf; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%.*s %" PRId64 "\n",
                                (int)(msgs[i].len < 120 ? msgs[i].len : 120),
                                (const char *)msgs[i].data, now);
    if (write(cons_fd, buf, len) != (ssize_t)len)
        return CHAT_ERR_STORAGE;
    return CHAT_OK;
}

static void consumer_child(const char *broker_url, const char *log_path, int ready_fd)
{
    sigset_t set = term_set();
    cons_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    const chat_broker_ops *b = chati_backend_find(CHATI_IFACE_BROKER, broker_url);
    void *impl = NULL;
    chat_broker_consumer *c = NULL;
    if (cons_fd < 0 || b == NULL || b->open(broker_url, NULL, &impl) != CHAT_OK ||
        b->subscribe(impl, "check", &topic, 1, 64, cons_handler, NULL, &c) != CHAT_OK) {
        fprintf(stderr, "consumer: %s\n", chat_last_errmsg());
        _exit(11);
    }
    if (write(ready_fd, "r", 1) != 1)
        _exit(12);
    int sig = 0;
    sigwait(&set, &sig);
    b->unsubscribe(impl, c);
    b->close(impl);
    _exit(0);
}

/* Writer: its op ids are "<w>.<i>"; events carry "P <channel> <ts> <id>"
 * (posts) or "R <channel> <count> <id>" (reactions to the channel's shared
 * message, count after the change). The log gets "<event> <mono µs>" once
 * the store acknowledged the op. */
typedef struct writer {
    int w;
    const char *url, *broker_url, *log_path;
    int ops;             /* how many, or 0: until duration_ms */
    int duration_ms;
    bool anchors;        /* posts the shared messages first */
    bool relay;          /* runs the domain's relay to the broker */
} writer;

static char op_id[32];

static chat_err ev_item(void *arg, const chat_message *m, chat_outbox_item *out)
{
    char buf[128];
    if (arg != NULL) {
        size_t count = m->n_reactions > 0 ? m->reactions[0].n_users : 0;
        snprintf(buf, sizeof buf, "R %s %zu %s", m->channel, count, op_id);
    } else {
        snprintf(buf, sizeof buf, "P %s %s %s", m->channel, m->ts, op_id);
    }
    out->topic = chat_strdup(topic);
    out->key = chat_strdup(m->channel);
    out->data = chat_strdup(buf);
    out->len = strlen(buf);
    return out->topic && out->key && out->data ? CHAT_OK : CHAT_ERR_NOMEM;
}

static void writer_child(const writer *wr, int ready_fd)
{
    sigset_t set = term_set();
    int fd = open(wr->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    const chat_message_store_ops *S = chati_backend_find(CHATI_IFACE_MESSAGE, wr->url);
    const chat_broker_ops *B = chati_backend_find(CHATI_IFACE_BROKER, wr->broker_url);
    void *impl = NULL, *bimpl = NULL;
    chati_outbox *relay = NULL;
    if (fd < 0 || S == NULL || B == NULL || S->open(wr->url, contract_cfg(), &impl) != CHAT_OK ||
        B->open(wr->broker_url, NULL, &bimpl) != CHAT_OK ||
        (wr->relay && chati_outbox_start(S, impl, B, bimpl, &relay) != CHAT_OK)) {
        fprintf(stderr, "writer %d: %s\n", wr->w, chat_last_errmsg());
        _exit(21);
    }
    char ch[CHANNELS][CHAT_ID_SIZE], anchor[CHAT_TS_SIZE];
    for (int c = 0; c < CHANNELS; c++)
        snprintf(ch[c], sizeof ch[c], "C%d", c + 1);
    chati_ts_format(ANCHOR_TS, anchor);
    for (int c = 0; wr->anchors && c < CHANNELS; c++) {
        chat_message m = {0};
        chat_message *out = NULL;
        strcpy(m.channel, ch[c]);
        strcpy(m.user, "U0");
        m.text = "shared";
        if (S->post(impl, &m, ANCHOR_TS, NULL, NULL, &out) != CHAT_OK ||
            strcmp(out->ts, anchor) != 0)
            _exit(22);
        chat_message_free(out);
    }
    if (write(ready_fd, "r", 1) != 1)
        _exit(23);
    int64_t end = chati_mono_ms() + wr->duration_ms;
    for (int i = 0; wr->ops > 0 ? i < wr->ops : chati_mono_ms() < end; i++) {
        const char *c = ch[i % CHANNELS];
        char line[160], user[CHAT_ID_SIZE];
        chat_err rv;
        snprintf(op_id, sizeof op_id, "%d.%d", wr->w, i);
        if (i % 4 == 3) {
            snprintf(user, sizeof user, "U%dx%d", wr->w, i);
            rv = S->add_reaction(impl, c, anchor, "ok", user, ev_item, (void *)1);
            snprintf(line, sizeof line, "R %s ? %s", c, op_id);
        } else {
            chat_message m = {0};
            chat_message *out = NULL;
            strcpy(m.channel, c);
            snprintf(m.user, sizeof m.user, "U%d", wr->w);
            m.text = op_id;
            rv = S->post(impl, &m, chati_now_us(), ev_item, NULL, &out);
            snprintf(line, sizeof line, "P %s %s %s", c, out != NULL ? out->ts : "?", op_id);
            chat_message_free(out);
        }
        if (rv != CHAT_OK) {
            fprintf(stderr, "writer %d op %d: %s\n", wr->w, i, chat_last_errmsg());
            _exit(24);
        }
        size_t n = strlen(line);
        snprintf(line + n, sizeof line - n, " %" PRId64 "\n", chati_mono_us());
        log_line(fd, line);
        if (relay != NULL)
            chati_outbox_kick(relay);
    }
    log_line(fd, "done\n");
    int sig = 0;
    sigwait(&set, &sig);
    if (relay != NULL)
        chati_outbox_stop(relay);
    B->close(bimpl);
    chati_outbox_free(relay);
    S->close(impl);
    _exit(0);
}

/* ---- the parent ---- */

typedef struct op {
    char kind;           /* 'P' or 'R' */
    int channel;         /* 0-based */
    int64_t ts;          /* posts */
    long count;          /* reactions, as delivered */
    char id[32];
    int64_t at;          /* mono µs: logged (writers) or received (consumer) */
} op;

typedef struct oplog {
    op *v;
    size_t n;
    bool done;
} oplog;

/* "P C2 1700000000.000001 1.7 123" / "R C2 3 1.7 123" / "done". */
static size_t read_log(const char *path, oplog *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
    l->v = calloc(MAX_EVENTS, sizeof *l->v);
    ck_assert_ptr_nonnull(l->v);
    FILE *f = fopen(path, "r");
    char line[256];
    while (f != NULL && fgets(line, sizeof line, f) != NULL && l->n < MAX_EVENTS) {
        op *o = &l->v[l->n];
        char kind[4], chan[16], mid[32];
        long long at;
        if (strcmp(line, "done\n") == 0) {
            l->done = true;
            continue;
        }
        ck_assert_msg(sscanf(line, "%3s %15s %31s %31s %lld", kind, chan, mid, o->id, &at) == 5,
                      "%s: malformed line \"%s\"", path, line);
        o->kind = kind[0];
        o->channel = atoi(chan + 1) - 1;
        o->at = at;
        if (o->kind == 'P')
            ck_assert(chati_ts_parse(mid, &o->ts));
        else
            o->count = mid[0] == '?' ? -1 : atol(mid);
        ck_assert(o->channel >= 0 && o->channel < CHANNELS);
        l->n++;
    }
    if (f != NULL)
        fclose(f);
    return l->n;
}

/* How often each op of ops appears among the events. */
static void count_events(const oplog *ops, const oplog *ev, int *times)
{
    for (size_t i = 0; i < ops->n; i++) {
        times[i] = 0;
        for (size_t k = 0; k < ev->n; k++)
            times[i] += strcmp(ops->v[i].id, ev->v[k].id) == 0;
    }
}

static bool all_delivered(const oplog *ops, const oplog *ev)
{
    int *times = calloc(ops->n + 1, sizeof *times);
    count_events(ops, ev, times);
    bool all = true;
    for (size_t i = 0; i < ops->n && all; i++)
        all = times[i] > 0;
    free(times);
    return all;
}

static int wait_exit(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

typedef struct run {
    char *dir;
    char url[256], broker_url[600], cons_log[600], wlog[2][600];
    pid_t cons, writers[2];
    oplog ops, ev;               /* both writers' ops; the events received */
} run;

static void run_begin(run *r)
{
    memset(r, 0, sizeof *r);
    r->dir = chat_test_tmpdir("mongotwo");
    char db[64];
    contract_uniq("two", db, sizeof db);
    for (char *c = db; *c; c++)
        if (*c == '-')
            *c = '_';
    snprintf(r->url, sizeof r->url, "%s/%s", server, db);
    snprintf(r->broker_url, sizeof r->broker_url, "sqlite:%s/events.db", r->dir);
    snprintf(r->cons_log, sizeof r->cons_log, "%s/events.log", r->dir);
    for (int w = 0; w < 2; w++)
        snprintf(r->wlog[w], sizeof r->wlog[w], "%s/writer%d.log", r->dir, w + 1);
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t parent = getpid();
    if ((r->cons = fork()) == 0) {
        die_with_parent(parent);
        consumer_child(r->broker_url, r->cons_log, ready[1]);
    }
    char c;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    close(ready[0]);
    close(ready[1]);
}

static void start_writer(run *r, int w, int ops, int duration_ms, bool relay)
{
    writer wr = {w + 1, r->url, r->broker_url, r->wlog[w], ops, duration_ms, w == 0, relay};
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t parent = getpid();
    if ((r->writers[w] = fork()) == 0) {
        die_with_parent(parent);
        writer_child(&wr, ready[1]);
    }
    char c;
    ck_assert_msg(read(ready[0], &c, 1) == 1, "writer %d did not start", w + 1);
    close(ready[0]);
    close(ready[1]);
}

/* Reads both writers' logs into r->ops and the consumer's into r->ev, once
 * both writers are done and every op they logged has arrived. */
/* Both writers' ops into r->ops; whether both (but the dead one) are done. */
static bool read_ops(run *r, int dead)
{
    oplog w[2] = {{0}};
    read_log(r->wlog[0], &w[0]);
    read_log(r->wlog[1], &w[1]);
    free(r->ops.v);
    r->ops.v = calloc(w[0].n + w[1].n + 1, sizeof *r->ops.v);
    memcpy(r->ops.v, w[0].v, w[0].n * sizeof *w[0].v);
    memcpy(r->ops.v + w[0].n, w[1].v, w[1].n * sizeof *w[1].v);
    r->ops.n = w[0].n + w[1].n;
    bool done = (w[0].done || dead == 0) && (w[1].done || dead == 1);
    free(w[0].v);
    free(w[1].v);
    return done;
}

static void wait_delivered(run *r, int dead)
{
    long long deadline = contract_now_ms() + WAIT_MS;
    for (;;) {
        bool done = read_ops(r, dead);
        read_log(r->cons_log, &r->ev);
        if ((done && all_delivered(&r->ops, &r->ev)) || contract_now_ms() > deadline)
            break;
        contract_sleep_ms(200);
    }
    contract_sleep_ms(1500); /* a stray duplicate would show up by now */
    read_log(r->cons_log, &r->ev);
}

static void run_end(run *r, int dead)
{
    for (int w = 0; w < 2; w++) {
        if (w == dead)
            continue;
        kill(r->writers[w], SIGTERM);
        ck_assert_msg(wait_exit(r->writers[w]) == 0, "writer %d failed", w + 1);
    }
    kill(r->cons, SIGTERM);
    ck_assert_int_eq(wait_exit(r->cons), 0);
    free(r->ops.v);
    free(r->ev.v);
    chat_test_rmtree(r->dir);
}

/* Per channel, posts arrive in strictly increasing ts and reactions to the
 * shared message with counts 1, 2, 3... (first arrivals: a takeover may
 * repeat earlier ones). */
static void check_order(const oplog *ev)
{
    int64_t last_ts[CHANNELS] = {0};
    long last_count[CHANNELS] = {0};
    char(*seen)[32] = calloc(ev->n + 1, sizeof *seen);
    size_t n_seen = 0;
    for (size_t k = 0; k < ev->n; k++) {
        const op *e = &ev->v[k];
        bool again = false;
        for (size_t j = 0; j < n_seen && !again; j++)
            again = strcmp(seen[j], e->id) == 0;
        if (again)
            continue;
        snprintf(seen[n_seen++], 32, "%s", e->id);
        if (e->kind == 'P') {
            ck_assert_msg(e->ts > last_ts[e->channel], "C%d: post %s (ts %" PRId64
                          ") arrived after ts %" PRId64, e->channel + 1, e->id, e->ts,
                          last_ts[e->channel]);
            last_ts[e->channel] = e->ts;
        } else {
            ck_assert_msg(e->count == last_count[e->channel] + 1,
                          "C%d: reaction %s with count %ld after count %ld", e->channel + 1,
                          e->id, e->count, last_count[e->channel]);
            last_count[e->channel] = e->count;
        }
    }
    free(seen);
}

/* Every channel's history: the shared message plus every post logged, ts
 * unique and strictly decreasing (newest first). */
static void check_history(const run *r, const oplog *ops, bool exact)
{
    const chat_message_store_ops *S = chati_backend_find(CHATI_IFACE_MESSAGE, r->url);
    void *impl = NULL;
    ck_assert_chat_ok(S->open(r->url, contract_cfg(), &impl));
    for (int c = 0; c < CHANNELS; c++) {
        char ch[CHAT_ID_SIZE];
        snprintf(ch, sizeof ch, "C%d", c + 1);
        size_t posts = 0;
        for (size_t i = 0; i < ops->n; i++)
            posts += ops->v[i].kind == 'P' && ops->v[i].channel == c;
        chat_list *l = NULL;
        ck_assert_chat_ok(S->history(impl, ch, NULL, NULL, false, 1000, NULL, &l));
        size_t n = chat_list_count(l);
        if (exact)
            ck_assert_uint_eq(n, posts + 1);
        else
            ck_assert_uint_ge(n, posts + 1); /* the killed writer's last, unlogged */
        int64_t prev = INT64_MAX;
        for (size_t k = 0; k < n; k++) {
            int64_t ts = 0;
            ck_assert(chati_ts_parse(chat_list_message(l, k)->ts, &ts));
            ck_assert_msg(ts < prev, "%s: ts %" PRId64 " not below %" PRId64, ch, ts, prev);
            prev = ts;
        }
        chat_list_free(l);
        /* Every reaction acknowledged is in the shared message: concurrent
         * changes of one message did not overwrite one another. */
        size_t reactions = 0;
        for (size_t i = 0; i < ops->n; i++)
            reactions += ops->v[i].kind == 'R' && ops->v[i].channel == c;
        char anchor[CHAT_TS_SIZE];
        chat_message *m = NULL;
        chati_ts_format(ANCHOR_TS, anchor);
        ck_assert_chat_ok(S->get(impl, ch, anchor, &m));
        size_t users = m->n_reactions > 0 ? m->reactions[0].n_users : 0;
        if (exact)
            ck_assert_msg(users == reactions, "%s: %zu reactions of %zu acknowledged", ch, users,
                          reactions);
        else
            ck_assert_msg(users >= reactions, "%s: %zu reactions of %zu acknowledged", ch, users,
                          reactions);
        chat_message_free(m);
    }
    S->close(impl);
}

START_TEST(test_two_writers_one_relay)
{
    run r;
    run_begin(&r);
    start_writer(&r, 0, OPS, 0, true);
    start_writer(&r, 1, OPS, 0, true);
    wait_delivered(&r, -1);
    ck_assert_uint_eq(r.ops.n, 2 * OPS);
    int *times = calloc(r.ops.n, sizeof *times);
    count_events(&r.ops, &r.ev, times);
    size_t lost = 0, dups = 0;
    for (size_t i = 0; i < r.ops.n; i++) {
        lost += times[i] == 0;
        dups += times[i] > 1;
    }
    fprintf(stderr, "two writers: %zu ops, %zu events, %zu lost, %zu published twice\n",
            r.ops.n, r.ev.n, lost, dups);
    ck_assert_msg(lost == 0, "%zu acknowledged changes never published", lost);
    ck_assert_msg(dups == 0, "%zu events published more than once", dups);
    ck_assert_uint_eq(r.ev.n, r.ops.n);
    free(times);
    check_order(&r.ev);
    check_history(&r, &r.ops, true);
    run_end(&r, -1);
}
END_TEST

/* The outbox as a relay sees it while both writers post (they run no relay
 * here; this process fetches and acknowledges, as the relay does): seqs
 * come in order with none missing, never one below a seq already seen, and
 * every change the writers acknowledged comes exactly once. */
START_TEST(test_relay_sees_every_seq_in_order)
{
    run r;
    run_begin(&r);
    start_writer(&r, 0, OPS, 0, false);
    start_writer(&r, 1, OPS, 0, false);
    const chat_message_store_ops *S = chati_backend_find(CHATI_IFACE_MESSAGE, r.url);
    void *impl = NULL;
    ck_assert_chat_ok(S->open(r.url, contract_cfg(), &impl));
    static char seen[2 * OPS + 8][32];
    size_t n_seen = 0, fetches = 0;
    int64_t last = 0;
    long long deadline = contract_now_ms() + WAIT_MS;
    oplog w = {0};
    bool done = false;
    while (!done && contract_now_ms() < deadline) {
        chat_outbox_item *it = NULL;
        size_t n = 0;
        ck_assert_chat_ok(S->outbox_fetch(impl, last, 64, &it, &n));
        fetches += n > 0;
        for (size_t i = 0; i < n; i++) {
            ck_assert_msg(it[i].seq == last + 1, "seq %" PRId64 " after %" PRId64, it[i].seq,
                          last);
            last = it[i].seq;
            char data[128], kind[4], chan[16], mid[32];
            snprintf(data, sizeof data, "%.*s", (int)it[i].len, (const char *)it[i].data);
            ck_assert_uint_lt(n_seen, CHATI_ARRAY_LEN(seen));
            ck_assert_int_eq(sscanf(data, "%3s %15s %31s %31s", kind, chan, mid, seen[n_seen]),
                             4);
            n_seen++;
        }
        if (n > 0)
            ck_assert_chat_ok(S->outbox_ack(impl, last));
        chat_outbox_items_free(it, n);
        read_log(r.wlog[0], &w);
        done = w.done && n_seen >= 2 * OPS && n == 0;
        if (n == 0)
            contract_sleep_ms(20);
    }
    free(w.v);
    fprintf(stderr, "relay: %zu items in %zu fetches, last seq %" PRId64 "\n", n_seen, fetches,
            last);
    ck_assert_uint_eq(n_seen, 2 * OPS);
    for (size_t i = 0; i < n_seen; i++)
        for (size_t j = 0; j < i; j++)
            ck_assert_msg(strcmp(seen[i], seen[j]) != 0, "%s fetched twice", seen[i]);
    S->close(impl);
    for (int i = 0; i < 50 && !read_ops(&r, -1); i++)
        contract_sleep_ms(100);
    check_history(&r, &r.ops, true);
    run_end(&r, -1);
}
END_TEST

/* The lease as {own, ep}; own "" when none. */
static void read_lease(const char *url, char own[64], int64_t *ep)
{
    mongoc_uri_t *uri = mongoc_uri_new(url);
    mongoc_client_t *client = mongoc_client_new_from_uri(uri);
    mongoc_collection_t *meta =
        mongoc_client_get_collection(client, mongoc_uri_get_database(uri), "meta");
    bson_t *q = BCON_NEW("_id", BCON_UTF8("relay"));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(meta, q, NULL, NULL);
    const bson_t *doc;
    bson_iter_t it;
    own[0] = '\0';
    *ep = 0;
    if (mongoc_cursor_next(cur, &doc)) {
        if (bson_iter_init_find(&it, doc, "own") && BSON_ITER_HOLDS_UTF8(&it))
            snprintf(own, 64, "%s", bson_iter_utf8(&it, NULL));
        if (bson_iter_init_find(&it, doc, "ep"))
            *ep = bson_iter_as_int64(&it);
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(q);
    mongoc_collection_destroy(meta);
    mongoc_client_destroy(client);
    mongoc_uri_destroy(uri);
}

START_TEST(test_takeover_after_kill)
{
    run r;
    run_begin(&r);
    /* Writer 1 starts alone, so its relay takes the lease. */
    start_writer(&r, 0, 0, 60000, true);
    char holder[64] = "", now_own[64];
    int64_t ep = 0, ep2 = 0;
    long long deadline = contract_now_ms() + 20000;
    while (holder[0] == '\0' && contract_now_ms() < deadline) {
        contract_sleep_ms(100);
        read_lease(r.url, holder, &ep);
    }
    ck_assert_msg(holder[0] != '\0', "writer 1 never took the relay lease");
    start_writer(&r, 1, 0, 6000, true);
    contract_sleep_ms(1500);
    ck_assert_int_eq(kill(r.writers[0], SIGKILL), 0);
    int64_t killed_at = chati_mono_us();
    ck_assert_int_eq(wait_exit(r.writers[0]), 128 + SIGKILL);
    deadline = contract_now_ms() + 20000;
    do {
        contract_sleep_ms(50);
        read_lease(r.url, now_own, &ep2);
    } while ((strcmp(now_own, holder) == 0 || now_own[0] == '\0') &&
             contract_now_ms() < deadline);
    int64_t taken_at = chati_mono_us();
    ck_assert_msg(strcmp(now_own, holder) != 0, "nobody took the lease over");
    ck_assert_int_gt(ep2, ep);
    wait_delivered(&r, 0);

    int *times = calloc(r.ops.n + 1, sizeof *times);
    count_events(&r.ops, &r.ev, times);
    size_t lost = 0, dups = 0, late_dups = 0, after = 0;
    for (size_t i = 0; i < r.ops.n; i++) {
        if (times[i] == 0)
            fprintf(stderr, "lost: %c C%d %s, acknowledged %" PRId64 " ms after the kill\n",
                    r.ops.v[i].kind, r.ops.v[i].channel + 1, r.ops.v[i].id,
                    (r.ops.v[i].at - killed_at) / 1000);
        lost += times[i] == 0;
        dups += times[i] > 1;
        after += r.ops.v[i].at > taken_at;
        /* Republished by the new holder: only what existed before it took over. */
        late_dups += times[i] > 1 && r.ops.v[i].at > taken_at;
    }
    fprintf(stderr,
            "takeover: lease taken %" PRId64 " ms after the kill; %zu ops (%zu after), "
            "%zu events, %zu lost, %zu published twice\n",
            (taken_at - killed_at) / 1000, r.ops.n, after, r.ev.n, lost, dups);
    ck_assert_int_lt(taken_at - killed_at, INT64_C(6000000));
    ck_assert_uint_gt(after, 0);
    ck_assert_msg(lost == 0, "%zu acknowledged changes never published", lost);
    ck_assert_msg(late_dups == 0, "%zu events after the takeover published twice", late_dups);
    free(times);
    check_order(&r.ev);
    check_history(&r, &r.ops, false);
    run_end(&r, 0);
}
END_TEST

static Suite *two_suite(void)
{
    Suite *s = suite_create("message store mongodb, two processes");
    TCase *tc = tcase_create("two");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_two_writers_one_relay);
    tcase_add_test(tc, test_relay_sees_every_seq_in_order);
    tcase_add_test(tc, test_takeover_after_kill);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    server = argc > 1 ? argv[1] : getenv("CHAT_TEST_MONGO_URL");
    if (server == NULL || strncmp(server, "mongodb://", 10) != 0) {
        fprintf(stderr, "usage: %s mongodb://HOST:PORT (tests/fixtures/ferretdb.sh exec)\n",
                argv[0]);
        return 1;
    }
    contract_init(argc, argv, "mongodb:");
    return chat_test_run(two_suite());
}
