/* The event hub: WebSocket clients at /rtm and the fan-out of events to them.
 *
 * Each event is encoded to JSON once into a shared, reference-counted frame,
 * numbered with the gateway's sequence, kept in a ring for clients that
 * reconnect, and queued on the connections allowed to see it (an index from
 * channel to connections, kept current by membership events). A client that
 * reconnects with ?since=<seq>&epoch=<epoch> gets every frame it missed, or
 * {"type":"resync"} when they are no longer in the ring. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.pb-c.h"
#include "event_json.h"
#include "gw_internal.h"
#include "net.h"
#include "ws_io.h"

/* Largest frame a client may send: 40,000 characters written as JSON escapes
 * (an emoji is "\ud83d\ude00", 12 bytes) plus the envelope. */
#define MAX_FRAME (512 * 1024)
/* What a client may lag behind by before it is dropped (it resumes by seq, or
 * is told to resync): memory stays bounded, and one slow reader never holds
 * up the others. */
#define MAX_QUEUED_BYTES ((size_t)4 << 20)
#define MAX_REPLAY 4096         /* frames replayed to a resuming client at most */
#define BUCKETS 4096
#define MAX_PENDING 256         /* client messages queued per connection */
#define MAX_PENDING_BYTES (1024 * 1024) /* ... and their bytes */
#define DRAIN_TURN 16           /* messages a worker handles before yielding */
#define REVERIFY_MS 10000       /* how stale a connection's token check may be */
#define CONNECT_PAGE 1000
#define MAX_WATCH 5000          /* users one connection may follow the presence of */

/* ------------------------------------------------------------- frames --- */

typedef struct frame {
    atomic_int refs;
    uint64_t seq;
    gw_scope scope;
    char scope_id[CHAT_ID_SIZE];
    char team_id[CHAT_ID_SIZE]; /* the event's team, "" when it has none */
    unsigned char hdr[10];      /* the WebSocket header: the same for every reader */
    uint8_t hdr_len;
    size_t len;
    char data[];
} frame;

static frame *frame_new(const char *data, size_t len)
{
    frame *f = chat_malloc(sizeof *f + len + 1);
    if (f == NULL)
        return NULL;
    atomic_init(&f->refs, 1);
    f->seq = 0;
    f->scope = GW_SCOPE_USER;
    f->scope_id[0] = '\0';
    f->team_id[0] = '\0';
    f->hdr_len = (uint8_t)gw_ws_frame_header(f->hdr, GW_WS_TEXT, len);
    f->len = len;
    memcpy(f->data, data, len);
    f->data[len] = '\0';
    return f;
}

static void frame_ref(frame *f)
{
    atomic_fetch_add(&f->refs, 1);
}

static void frame_unref(frame *f)
{
    if (f && atomic_fetch_sub(&f->refs, 1) == 1)
        chat_free(f);
}

static void frame_release(void *f)
{
    frame_unref(f);
}

/* -------------------------------------------------------- connections --- */

/* A message from a client, waiting for a worker. */
typedef struct incoming {
    struct incoming *next;
    char *text;
} incoming;

typedef struct conn {
    struct gw_hub *hub;
    gw_sock *sock;              /* referenced */
    chat_session *s;
    char *token;
    char *uri;
    char *authorization;        /* the upgrade request's header, or NULL */
    gw_ws_message msg;          /* a message being reassembled (loop thread) */
    atomic_int refs;            /* the hub's link + the socket's + one per job */
    pthread_mutex_t mu;         /* state below */
    bool closed, registered, unlinked;
    /* Client messages waiting for a worker, handled in arrival order by one
     * worker at a time; receiving goes on meanwhile up to MAX_PENDING. */
    struct incoming *in_head, *in_tail;
    size_t n_in, in_bytes;
    int64_t verified_ms;        /* when the token was last checked */
    bool draining, recv_paused;
    char (*channels)[CHAT_ID_SIZE]; /* what this client may see, sorted */
    size_t n_channels, cap_channels;
    char (*watch)[CHAT_ID_SIZE]; /* users whose presence it follows, sorted */
    size_t n_watch;
    struct conn *next, *prev;   /* hub->conns */
} conn;

/* ----------------------------------------------------- the index --- */

/* channel or user id -> the connections concerned */
typedef struct entry {
    char key[CHAT_ID_SIZE];
    conn **conns;
    size_t n, cap;
    struct entry *next;
} entry;

typedef struct index {
    entry *buckets[BUCKETS];
} index_t;

static uint32_t hash_id(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h & (BUCKETS - 1);
}

static entry *index_find(index_t *ix, const char *key)
{
    for (entry *e = ix->buckets[hash_id(key)]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

static bool index_add(index_t *ix, const char *key, conn *c)
{
    entry *e = index_find(ix, key);
    if (e == NULL) {
        e = chat_calloc(1, sizeof *e);
        if (e == NULL || !chati_copy_fixed(e->key, CHAT_ID_SIZE, key)) {
            chat_free(e);
            return false;
        }
        uint32_t h = hash_id(key);
        e->next = ix->buckets[h];
        ix->buckets[h] = e;
    }
    for (size_t i = 0; i < e->n; i++)
        if (e->conns[i] == c)
            return true;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 4;
        conn **p = chat_realloc(e->conns, cap * sizeof *p);
        if (p == NULL)
            return false;
        e->conns = p;
        e->cap = cap;
    }
    e->conns[e->n++] = c;
    return true;
}

static void index_remove(index_t *ix, const char *key, conn *c)
{
    uint32_t h = hash_id(key);
    for (entry **pe = &ix->buckets[h]; *pe; pe = &(*pe)->next) {
        entry *e = *pe;
        if (strcmp(e->key, key) != 0)
            continue;
        for (size_t i = 0; i < e->n; i++) {
            if (e->conns[i] == c) {
                e->conns[i] = e->conns[--e->n];
                break;
            }
        }
        if (e->n == 0) {
            *pe = e->next;
            chat_free(e->conns);
            chat_free(e);
        }
        return;
    }
}

static void index_clear(index_t *ix)
{
    for (size_t b = 0; b < BUCKETS; b++) {
        for (entry *e = ix->buckets[b], *n; e; e = n) {
            n = e->next;
            chat_free(e->conns);
            chat_free(e);
        }
        ix->buckets[b] = NULL;
    }
}

/* ------------------------------------------------------------ the hub --- */

struct gw_hub {
    gw *g;
    char *ws_url;
    chat_subscription *sub;
    char epoch[24];
    pthread_mutex_t mu;         /* everything below; taken before a conn's mu */
    conn *conns;
    index_t by_channel, by_user;
    index_t by_watch;           /* user -> connections following their presence */
    frame **ring;
    size_t ring_cap;
    uint64_t seq;               /* last assigned */
    uint64_t membership_gen;    /* bumped by every membership change */
    size_t live;                /* connections not yet freed */
    pthread_cond_t gone;        /* signalled when live drops */
    bool stopping;
};

const char *gw_hub_ws_url(const gw_hub *h)
{
    return h->ws_url;
}

static int id_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static bool sorted_has(char (*ids)[CHAT_ID_SIZE], size_t n, const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(ids[mid], id);
        if (r == 0)
            return true;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static bool has_channel(const conn *c, const char *id)
{
    return sorted_has(c->channels, c->n_channels, id);
}

/* Whether c hears f, a presence change: its own user's, or a user it follows
 * in its own team. */
static bool presence_for(const conn *c, const frame *f)
{
    if (strcmp(chat_session_user_id(c->s), f->scope_id) == 0)
        return true;
    return sorted_has(c->watch, c->n_watch, f->scope_id) &&
           (f->team_id[0] == '\0' || strcmp(chat_session_team_id(c->s), f->team_id) == 0);
}

/* Adds a channel to a connection's set and the index. Hub lock held. */
static void conn_add_channel(gw_hub *h, conn *c, const char *id)
{
    if (has_channel(c, id) || id[0] == '\0')
        return;
    if (c->n_channels == c->cap_channels) {
        size_t cap = c->cap_channels ? c->cap_channels * 2 : 16;
        void *p = chat_realloc(c->channels, cap * CHAT_ID_SIZE);
        if (p == NULL)
            return;
        c->channels = p;
        c->cap_channels = cap;
    }
    size_t i = c->n_channels;
    while (i > 0 && strcmp(c->channels[i - 1], id) > 0) {
        memcpy(c->channels[i], c->channels[i - 1], CHAT_ID_SIZE);
        i--;
    }
    chati_copy_fixed(c->channels[i], CHAT_ID_SIZE, id);
    c->n_channels++;
    index_add(&h->by_channel, id, c);
}

static void conn_remove_channel(gw_hub *h, conn *c, const char *id)
{
    for (size_t i = 0; i < c->n_channels; i++) {
        if (strcmp(c->channels[i], id) == 0) {
            memmove(c->channels[i], c->channels[i + 1], (c->n_channels - i - 1) * CHAT_ID_SIZE);
            c->n_channels--;
            index_remove(&h->by_channel, id, c);
            return;
        }
    }
}

static bool conn_may_see(const conn *c, const frame *f)
{
    switch (f->scope) {
    case GW_SCOPE_CHANNEL:
        return has_channel(c, f->scope_id);
    case GW_SCOPE_TEAM:
        return f->scope_id[0] == '\0' || strcmp(chat_session_team_id(c->s), f->scope_id) == 0;
    case GW_SCOPE_USER:
        return strcmp(chat_session_user_id(c->s), f->scope_id) == 0;
    case GW_SCOPE_PRESENCE:
        return presence_for(c, f);
    }
    return false;
}

static void conn_close(conn *c);
static void conn_ref(conn *c);
static void conn_unref(conn *c);

/* Queues a frame on a connection: written by the socket's loop with what
 * else is queued (fan-out), or at once by this thread (replies). A reader
 * too far behind is hung up: it resumes by seq, or is told to resync. */
static void conn_push_max(conn *c, frame *f, gw_send_mode mode, size_t max_queued)
{
    frame_ref(f);
    gw_out o = {.data = f->data, .len = f->len, .release = frame_release, .ref = f};
    memcpy(o.head, f->hdr, f->hdr_len);
    o.head_len = f->hdr_len;
    if (!gw_sock_send(c->sock, &o, max_queued, mode))
        gw_sock_close(c->sock, false); /* on_close unlinks it */
}

static void conn_push(conn *c, frame *f, gw_send_mode mode)
{
    conn_push_max(c, f, mode, MAX_QUEUED_BYTES);
}

/* Sends a frame made for this connection only (hello, pong, replies). */
static void conn_send_text(conn *c, const char *text, size_t len)
{
    frame *f = frame_new(text, len);
    if (f) {
        conn_push(c, f, GW_SEND_NOW);
        frame_unref(f);
    }
}

/* Says why, then hangs up once it is written (nothing else after it). */
static void conn_send_final(conn *c, const char *text, size_t len)
{
    frame *f = frame_new(text, len);
    if (f) {
        conn_push(c, f, GW_SEND_LAST);
        frame_unref(f);
    }
    gw_sock_close(c->sock, true);
}

/* ------------------------------------------------------ fan-out --- */

/* Keeps the index right for membership changes. Hub lock held. */
static void apply_membership(gw_hub *h, const chat_event *ev)
{
    chat_event_type t0 = chat_event_type_of(ev);
    if (t0 == CHAT_EVENT_MEMBER_JOINED || t0 == CHAT_EVENT_CHANNEL_CREATED)
        h->membership_gen++;
    const char *channel = chat_event_channel_id(ev);
    chat_event_type t = chat_event_type_of(ev);
    const char *who = NULL;
    if (t == CHAT_EVENT_MEMBER_JOINED)
        who = chat_event_target_user(ev);
    else if (t == CHAT_EVENT_CHANNEL_CREATED) {
        const chat_channel *c = chat_event_channel(ev);
        if (c && c->dm_key) {
            /* A DM or group DM: every member sees it from now on. */
            char key[512];
            snprintf(key, sizeof key, "%s", c->dm_key);
            for (char *save = NULL, *u = strtok_r(key, ",", &save); u;
                 u = strtok_r(NULL, ",", &save)) {
                entry *e = index_find(&h->by_user, u);
                for (size_t i = 0; e && i < e->n; i++)
                    conn_add_channel(h, e->conns[i], channel);
            }
            return;
        }
        who = chat_event_user_id(ev);
    }
    if (who == NULL)
        return;
    entry *e = index_find(&h->by_user, who);
    for (size_t i = 0; e && i < e->n; i++)
        conn_add_channel(h, e->conns[i], channel);
}

static void apply_departure(gw_hub *h, const chat_event *ev)
{
    if (chat_event_type_of(ev) != CHAT_EVENT_MEMBER_LEFT)
        return;
    h->membership_gen++;
    entry *e = index_find(&h->by_user, chat_event_target_user(ev));
    for (size_t i = 0; e && i < e->n; i++)
        conn_remove_channel(h, e->conns[i], chat_event_channel_id(ev));
}

static chat_err on_event(void *arg, const chat_event *ev)
{
    gw_hub *h = arg;
    chati_buf b = {0};
    gw_scope scope;
    char scope_id[CHAT_ID_SIZE];
    pthread_mutex_lock(&h->mu);
    uint64_t seq = h->seq + 1;
    /* Encode once; every recipient gets the same bytes. */
    if (!gw_event_json(ev, seq, &b, &scope, scope_id)) {
        pthread_mutex_unlock(&h->mu);
        chati_buf_free(&b);
        return CHAT_OK;
    }
    frame *f = frame_new(b.data, b.len);
    chati_buf_free(&b);
    if (f == NULL) {
        pthread_mutex_unlock(&h->mu);
        return CHAT_ERR_NOMEM;
    }
    h->seq = seq;
    f->seq = seq;
    f->scope = scope;
    memcpy(f->scope_id, scope_id, CHAT_ID_SIZE);
    chati_copy_fixed(f->team_id, CHAT_ID_SIZE, chat_event_team_id(ev));
    size_t slot = seq % h->ring_cap;
    frame_unref(h->ring[slot]);
    h->ring[slot] = f; /* the ring keeps the creation reference */

    apply_membership(h, ev);
    if (scope == GW_SCOPE_CHANNEL) {
        entry *e = index_find(&h->by_channel, scope_id);
        for (size_t i = 0; e && i < e->n; i++)
            conn_push(e->conns[i], f, GW_SEND_DEFER);
    } else if (scope == GW_SCOPE_USER || scope == GW_SCOPE_PRESENCE) {
        entry *e = index_find(&h->by_user, scope_id);
        for (size_t i = 0; e && i < e->n; i++)
            conn_push(e->conns[i], f, GW_SEND_DEFER);
        /* Presence goes to followers only: to everyone, a burst of N
         * connections would cost N^2 frames. Own connections had it above. */
        e = scope == GW_SCOPE_PRESENCE ? index_find(&h->by_watch, scope_id) : NULL;
        for (size_t i = 0; e && i < e->n; i++)
            if (strcmp(chat_session_user_id(e->conns[i]->s), scope_id) != 0 &&
                presence_for(e->conns[i], f))
                conn_push(e->conns[i], f, GW_SEND_DEFER);
    } else {
        for (conn *c = h->conns; c; c = c->next)
            if (c->registered && conn_may_see(c, f))
                conn_push(c, f, GW_SEND_DEFER);
    }
    apply_departure(h, ev); /* the one who left still hears that they left */
    pthread_mutex_unlock(&h->mu);
    return CHAT_OK;
}

/* ---------------------------------------------------- connection life --- */

static void conn_free(conn *c)
{
    gw_sock_unref(c->sock);
    for (incoming *in = c->in_head, *next; in; in = next) {
        next = in->next;
        chat_free(in->text);
        chat_free(in);
    }
    gw_ws_message_free(&c->msg);
    chat_free(c->channels);
    chat_free(c->watch);
    chat_free(c->token);
    chat_free(c->uri);
    chat_free(c->authorization);
    chat_session_free(c->s);
    pthread_mutex_destroy(&c->mu);
    gw_hub *h = c->hub;
    chat_free(c);
    /* Last: gw_hub_stop waits for this before it frees the hub. */
    pthread_mutex_lock(&h->mu);
    h->live--;
    pthread_cond_broadcast(&h->gone);
    pthread_mutex_unlock(&h->mu);
}

static void conn_ref(conn *c)
{
    atomic_fetch_add(&c->refs, 1);
}

/* Never called with the hub lock held: freeing takes it. */
static void conn_unref(conn *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1)
        conn_free(c);
}

/* Runs fn(c) on a worker holding a reference. */
static bool conn_submit(conn *c, gw_job_fn fn)
{
    conn_ref(c);
    if (gw_workers_submit(c->hub->g->workers, fn, c))
        return true;
    atomic_fetch_sub(&c->refs, 1);
    return false;
}

/* Unlinks a connection from the hub and hangs up. Idempotent. */
static void conn_close(conn *c)
{
    gw_hub *h = c->hub;
    pthread_mutex_lock(&h->mu);
    pthread_mutex_lock(&c->mu);
    bool first = !c->unlinked;
    c->unlinked = c->closed = true;
    if (c->registered) {
        for (size_t i = 0; i < c->n_channels; i++)
            index_remove(&h->by_channel, c->channels[i], c);
        index_remove(&h->by_user, chat_session_user_id(c->s), c);
        for (size_t i = 0; i < c->n_watch; i++)
            index_remove(&h->by_watch, c->watch[i], c);
        c->registered = false;
    }
    if (first) {
        if (c->prev)
            c->prev->next = c->next;
        else if (h->conns == c)
            h->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        c->next = c->prev = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_unlock(&h->mu);
    if (!first)
        return;
    gw_sock_close(c->sock, false);
    conn_unref(c); /* the hub's link */
}

static void close_job(void *arg)
{
    conn *c = arg;
    conn_close(c);
    conn_unref(c);
}

static void query_param(const char *uri, const char *name, char *out, size_t n)
{
    out[0] = '\0';
    const char *q = strchr(uri, '?');
    size_t nl = strlen(name);
    for (const char *p = q ? q + 1 : NULL; p && *p;) {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t len = strcspn(p + nl + 1, "&");
            if (len >= n)
                len = n - 1;
            memcpy(out, p + nl + 1, len);
            out[len] = '\0';
            return;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
}

static void drain_incoming(void *arg);

/* Queues a received message for the workers. false when the queue is full:
 * the socket pauses (bounded by count and by bytes: a client that sends
 * faster than it is served waits instead of growing the queue) until a
 * worker has drained half. Loop thread. */
static bool queue_incoming(conn *c, const char *text, size_t len)
{
    incoming *in = chat_malloc(sizeof *in);
    char *copy = chat_strndup(text, len);
    if (in == NULL || copy == NULL) {
        chat_free(in);
        chat_free(copy);
        gw_sock_close(c->sock, false);
        return false;
    }
    in->next = NULL;
    in->text = copy;
    pthread_mutex_lock(&c->mu);
    if (c->in_tail)
        c->in_tail->next = in;
    else
        c->in_head = in;
    c->in_tail = in;
    c->n_in++;
    c->in_bytes += len;
    bool start = !c->draining;
    c->draining = true;
    bool more = c->n_in < MAX_PENDING && c->in_bytes < MAX_PENDING_BYTES;
    c->recv_paused = !more;
    pthread_mutex_unlock(&c->mu);
    if (start && !conn_submit(c, drain_incoming))
        gw_sock_close(c->sock, false);
    return more;
}

static bool on_text(void *arg, const char *text, size_t len)
{
    conn *c = arg;
    if (queue_incoming(c, text, len))
        return true;
    gw_sock_pause(c->sock);
    return false;
}

/* Frames from the client: control frames answered, messages queued for the
 * workers in order. Loop thread. */
static size_t ws_on_data(gw_sock *s, char *data, size_t len)
{
    conn *c = gw_sock_data(s);
    return gw_ws_read(s, &c->msg, MAX_FRAME, data, len, on_text, c);
}

/* The socket is gone: unlink the connection on a worker (the hub lock may be
 * held long by a fan-out; the loop must not wait for it). */
static void ws_on_close(gw_sock *s)
{
    conn *c = gw_sock_data(s);
    pthread_mutex_lock(&c->mu);
    c->closed = true;
    pthread_mutex_unlock(&c->mu);
    if (!conn_submit(c, close_job))
        conn_close(c); /* stopping: no worker left, and no fan-out either */
    conn_unref(c); /* the socket's link */
}

static const gw_sock_ops ws_ops = {ws_on_data, ws_on_close, NULL, NULL};

/* Loads the caller's conversations: the channels whose events they get. */
static chat_err load_channels(gw_hub *h, conn *c, char (**ids)[CHAT_ID_SIZE], size_t *n)
{
    const chati_method *m = chati_method_by_name("users.conversations");
    char *cursor = NULL;
    chat_err rv = CHAT_OK;
    *ids = NULL;
    *n = 0;
    do {
        Chat__Api__UsersConversationsRequest req = CHAT__API__USERS_CONVERSATIONS_REQUEST__INIT;
        req.types = "public_channel,private_channel,im,mpim";
        req.limit = CONNECT_PAGE;
        if (cursor)
            req.cursor = cursor;
        ProtobufCMessage *resp = NULL;
        rv = chati_svc_call(h->g->svc, m, c->s, &req.base, 10000, &resp);
        chat_free(cursor);
        cursor = NULL;
        if (rv != CHAT_OK)
            break;
        const Chat__Api__ConversationsListResponse *l = (const void *)resp;
        void *grown = chat_realloc(*ids, (*n + l->n_channels + 1) * CHAT_ID_SIZE);
        if (grown == NULL) {
            rv = CHAT_ERR_NOMEM;
        } else {
            *ids = grown;
            for (size_t i = 0; i < l->n_channels; i++)
                chati_copy_fixed((*ids)[(*n)++], CHAT_ID_SIZE, l->channels[i]->id);
            if (l->response_metadata && l->response_metadata->next_cursor &&
                *l->response_metadata->next_cursor)
                cursor = chat_strdup(l->response_metadata->next_cursor);
        }
        protobuf_c_message_free_unpacked(resp, NULL);
    } while (rv == CHAT_OK && cursor);
    chat_free(cursor);
    return rv;
}

static void heartbeat(gw_hub *h, conn *c)
{
    static const chati_method *m;
    if (m == NULL)
        m = chati_method_by_name("rtm.heartbeat");
    Chat__Api__Empty req = CHAT__API__EMPTY__INIT;
    ProtobufCMessage *resp = NULL;
    if (chati_svc_call(h->g->svc, m, c->s, &req.base, 5000, &resp) == CHAT_OK)
        protobuf_c_message_free_unpacked(resp, NULL);
}

/* Authenticates a new connection and registers it: runs on a worker. */
static void conn_start(void *arg)
{
    conn *c = arg;
    gw_hub *h = c->hub;
    char token[2048], since_s[32], epoch[32];
    query_param(c->uri, "token", token, sizeof token);
    query_param(c->uri, "since", since_s, sizeof since_s);
    query_param(c->uri, "epoch", epoch, sizeof epoch);
    if (token[0] == '\0' && c->authorization) {
        /* Non-browser clients may send the header instead. */
        const char *t = gw_bearer_token(c->authorization);
        if (t)
            snprintf(token, sizeof token, "%s", t);
    }
    char (*ids)[CHAT_ID_SIZE] = NULL;
    size_t n = 0;
    chat_err rv = gw_authenticate(h->g, token, &c->s);
    if (rv == CHAT_OK)
        rv = chati_stream_permits(c->s);
    if (rv == CHAT_OK && (c->token = chat_strdup(token)) == NULL)
        rv = CHAT_ERR_NOMEM;
    c->verified_ms = chati_mono_ms();
    /* The list is read without the hub lock: if membership changes while it
     * loads, a join or kick could slip past this connection, so read again. */
    uint64_t gen = 0;
    for (int attempt = 0; rv == CHAT_OK; attempt++) {
        pthread_mutex_lock(&h->mu);
        gen = h->membership_gen;
        pthread_mutex_unlock(&h->mu);
        chat_free(ids);
        ids = NULL;
        rv = load_channels(h, c, &ids, &n);
        pthread_mutex_lock(&h->mu);
        bool stable = h->membership_gen == gen;
        pthread_mutex_unlock(&h->mu);
        if (stable || attempt == 5)
            break;
    }
    if (rv != CHAT_OK) {
        char msg[160];
        int len = snprintf(msg, sizeof msg, "{\"type\":\"error\",\"error\":\"%s\"}",
                           chat_err_name(rv));
        chat_free(ids);
        conn_send_final(c, msg, (size_t)len);
        conn_unref(c);
        return;
    }

    char *end = NULL;
    unsigned long long since = strtoull(since_s, &end, 10);
    bool want_resume = since_s[0] != '\0' && end && *end == '\0';
    pthread_mutex_lock(&h->mu);
    if (h->stopping || c->unlinked || h->membership_gen != gen) {
        /* Stopping, gone, or membership still moving under a busy server:
         * hang up; the client reconnects and resumes. */
        pthread_mutex_unlock(&h->mu);
        chat_free(ids);
        conn_close(c);
        conn_unref(c);
        return;
    }
    for (size_t i = 0; i < n; i++)
        conn_add_channel(h, c, ids[i]);
    chat_free(ids);
    index_add(&h->by_user, chat_session_user_id(c->s), c);
    c->registered = true;

    /* hello, then what was missed (or resync), then live events: all under the
     * hub lock, so nothing published meanwhile can slip between. */
    char hello[256];
    int hl = snprintf(hello, sizeof hello,
                      "{\"type\":\"hello\",\"epoch\":\"%s\",\"seq\":%llu,\"self\":{\"id\":\"%s\"},"
                      "\"team\":{\"id\":\"%s\"}}",
                      h->epoch, (unsigned long long)h->seq, chat_session_user_id(c->s),
                      chat_session_team_id(c->s));
    conn_send_text(c, hello, (size_t)hl);
    if (want_resume) {
        uint64_t oldest = h->seq >= h->ring_cap ? h->seq - h->ring_cap + 1 : 1;
        /* Too far behind to replay without overflowing the send queue is as
         * good as expired: by count, and by bytes (a replay the live bound
         * would cut off again at once). */
        size_t bytes = 0;
        bool expired = strcmp(epoch, h->epoch) != 0 || since > h->seq || since + 1 < oldest ||
                       h->seq - since > MAX_REPLAY;
        for (uint64_t s = since + 1; !expired && s <= h->seq; s++) {
            frame *f = h->ring[s % h->ring_cap];
            if (f && f->seq == s && conn_may_see(c, f))
                bytes += f->len;
            expired = bytes > MAX_QUEUED_BYTES / 2;
        }
        if (expired) {
            static const char resync[] = "{\"type\":\"resync\",\"reason\":\"events_expired\"}";
            conn_send_text(c, resync, sizeof resync - 1);
        } else {
            for (uint64_t s = since + 1; s <= h->seq; s++) {
                frame *f = h->ring[s % h->ring_cap];
                if (f && f->seq == s && conn_may_see(c, f))
                    conn_push_max(c, f, GW_SEND_DEFER, 0); /* counted above */
            }
        }
    }
    pthread_mutex_unlock(&h->mu);
    heartbeat(h, c);
    gw_sock_resume(c->sock); /* paused since the upgrade */
    conn_unref(c);
}

static void reply_error(conn *c, long long id, const char *code)
{
    char msg[256];
    int len = snprintf(msg, sizeof msg,
                       "{\"ok\":false,\"reply_to\":%lld,\"error\":{\"code\":\"%s\"}}", id, code);
    conn_send_text(c, msg, (size_t)len);
}

/* Whether the connection's token still holds: revocation, a password change
 * or deactivation end an open socket within REVERIFY_MS of its next message
 * (clients ping every 30 s). */
static bool still_authorized(conn *c)
{
    int64_t now = chati_mono_ms();
    if (now - c->verified_ms < REVERIFY_MS)
        return true;
    chat_session *fresh = NULL;
    chat_err rv = gw_authenticate(c->hub->g, c->token, &fresh);
    chat_session_free(fresh);
    if (rv == CHAT_OK) {
        c->verified_ms = now;
        return true;
    }
    char msg[160];
    int len = snprintf(msg, sizeof msg, "{\"type\":\"error\",\"error\":\"%s\"}",
                       chat_err_name(rv));
    conn_send_final(c, msg, (size_t)len);
    return false;
}

/* {"type":"presence_sub","ids":[...]}: from now on the connection hears the
 * presence changes of exactly these users (Slack's presence subscriptions;
 * an empty list stops them). Answers nothing when it succeeds, as Slack. */
static void presence_sub(conn *c, long long id, const gw_args *args)
{
    const gw_arg *a = gw_args_find(args, "ids");
    json_t *ids = a ? a->json : NULL;
    size_t n = ids ? json_array_size(ids) : 0;
    if (ids == NULL || !json_is_array(ids) || n > MAX_WATCH) {
        reply_error(c, id, "invalid_array_arg");
        return;
    }
    char (*watch)[CHAT_ID_SIZE] = n ? chat_malloc(n * CHAT_ID_SIZE) : NULL;
    if (n && watch == NULL) {
        reply_error(c, id, "internal_error");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *u = json_string_value(json_array_get(ids, i));
        if (u == NULL || !chati_id_valid(u, 0)) {
            chat_free(watch);
            reply_error(c, id, "invalid_user_id");
            return;
        }
        chati_copy_fixed(watch[i], CHAT_ID_SIZE, u);
    }
    if (n > 1) /* an empty list is NULL, which qsort may not be given */
        qsort(watch, n, CHAT_ID_SIZE, id_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (kept == 0 || strcmp(watch[kept - 1], watch[i]) != 0)
            memmove(watch[kept++], watch[i], CHAT_ID_SIZE);
    gw_hub *h = c->hub;
    pthread_mutex_lock(&h->mu);
    if (c->registered) {
        for (size_t i = 0; i < c->n_watch; i++)
            index_remove(&h->by_watch, c->watch[i], c);
        for (size_t i = 0; i < kept; i++)
            index_add(&h->by_watch, watch[i], c);
    }
    /* fan-out reads the list under the hub lock: swap it under both */
    pthread_mutex_lock(&c->mu);
    char (*old)[CHAT_ID_SIZE] = c->watch;
    c->watch = watch;
    c->n_watch = kept;
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_unlock(&h->mu);
    chat_free(old);
}

static void handle_one(conn *c, const char *text)
{
    gw_hub *h = c->hub;
    gw_args args = GW_ARGS_INIT;
    chati_buf out = {0};
    if (!still_authorized(c))
        return;
    if (gw_args_parse_json(text, strlen(text), &args) != CHAT_OK) {
        reply_error(c, 0, "invalid_json");
        goto done;
    }
    const char *type = gw_args_get(&args, "type");
    const char *id_s = gw_args_get(&args, "id");
    long long id = id_s ? strtoll(id_s, NULL, 10) : 0;
    if (type && strcmp(type, "ping") == 0) {
        char msg[128];
        int len = snprintf(msg, sizeof msg, "{\"type\":\"pong\",\"reply_to\":%lld}", id);
        conn_send_text(c, msg, (size_t)len);
        heartbeat(h, c);
    } else if (type && (strcmp(type, "typing") == 0 || strcmp(type, "message") == 0) &&
               !gw_ratelimit_take(h->g->rate, c->token, NULL)) {
        reply_error(c, id, "ratelimited"); /* the same budget as the token's API calls */
    } else if (type && strcmp(type, "presence_sub") == 0) {
        presence_sub(c, id, &args);
    } else if (type && strcmp(type, "typing") == 0) {
        gw_call_json(h->g, chati_method_by_name("rtm.typing"), c->s, &args, &out);
    } else if (type && strcmp(type, "message") == 0) {
        /* Slack's RTM send: answered with reply_to and the method's reply. */
        gw_call_json(h->g, chati_method_by_name("chat.postMessage"), c->s, &args, &out);
        chati_buf reply = {0};
        chati_buf_printf(&reply, "{\"reply_to\":%lld,", id);
        chati_buf_append(&reply, out.data + 1, out.len - 1); /* drop the '{' */
        conn_send_text(c, reply.data, reply.len);
        chati_buf_free(&reply);
    } else {
        reply_error(c, id, "unknown_type");
    }
done:
    gw_args_free(&args);
    chati_buf_free(&out);
}

/* A worker's turn at one connection: queued messages in order, at most
 * DRAIN_TURN of them before the worker goes back to the queue, so a chatty
 * socket cannot starve API requests. */
static void drain_incoming(void *arg)
{
    conn *c = arg;
    for (int turn = 0;; turn++) {
        pthread_mutex_lock(&c->mu);
        incoming *in = c->closed ? NULL : c->in_head;
        if (in != NULL && turn == DRAIN_TURN) {
            pthread_mutex_unlock(&c->mu);
            if (!conn_submit(c, drain_incoming))
                conn_close(c);
            break; /* draining stays set: the next turn is queued */
        }
        if (in == NULL) {
            c->draining = false;
            bool resume = c->recv_paused && !c->closed;
            c->recv_paused = false;
            pthread_mutex_unlock(&c->mu);
            if (resume)
                gw_sock_resume(c->sock);
            break;
        }
        c->in_head = in->next;
        if (c->in_head == NULL)
            c->in_tail = NULL;
        c->n_in--;
        c->in_bytes -= strlen(in->text);
        bool resume = c->recv_paused && c->n_in < MAX_PENDING / 2 &&
                      c->in_bytes < MAX_PENDING_BYTES / 2;
        if (resume)
            c->recv_paused = false;
        pthread_mutex_unlock(&c->mu);
        if (resume)
            gw_sock_resume(c->sock);
        handle_one(c, in->text);
        chat_free(in->text);
        chat_free(in);
    }
    conn_unref(c);
}

bool gw_hub_attach(gw_hub *h, gw_sock *s, const gw_req *r)
{
    const char *auth = gw_req_header(r, "Authorization");
    conn *c = chat_calloc(1, sizeof *c);
    if (c == NULL || (c->uri = chat_strdup(gw_req_uri(r))) == NULL ||
        (auth && (c->authorization = chat_strdup(auth)) == NULL) || !gw_ws_upgrade(s, r)) {
        if (c) {
            chat_free(c->uri);
            chat_free(c->authorization);
        }
        chat_free(c);
        return false;
    }
    c->hub = h;
    c->sock = s;
    gw_sock_ref(s);
    atomic_init(&c->refs, 2); /* the hub's link and the socket's */
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_lock(&h->mu);
    h->live++;
    c->next = h->conns;
    if (h->conns)
        h->conns->prev = c;
    h->conns = c;
    pthread_mutex_unlock(&h->mu);
    gw_sock_set_ops(s, &ws_ops, c);
    gw_sock_set_idle_timeout(s, 0); /* clients ping; presence notices who is gone */
    gw_sock_pause(s); /* until conn_start has registered it */
    if (!conn_submit(c, conn_start))
        gw_sock_close(s, false);
    return true;
}

chat_err gw_hub_start(gw *g, gw_hub **out)
{
    gw_hub *h = chat_calloc(1, sizeof *h);
    if (h == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "hub");
    *out = h;
    h->g = g;
    pthread_mutex_init(&h->mu, NULL);
    chati_cond_init(&h->gone);
    h->ring_cap = g->cfg.replay_events;
    h->ring = chat_calloc(h->ring_cap, sizeof *h->ring);
    unsigned char rnd[8];
    if (h->ring == NULL || chati_random(rnd, sizeof rnd) != CHAT_OK)
        return chati_fail(CHAT_ERR_NOMEM, "hub");
    chati_hex_encode(rnd, sizeof rnd, h->epoch);

    chati_buf pub = {0};
    const char *p = g->public_url;
    bool pub_tls = strncmp(p, "https://", 8) == 0;
    const char *rest = strstr(p, "://");
    const char *host = rest ? rest + 3 : p;
    size_t hl = strlen(host);
    while (hl > 0 && host[hl - 1] == '/')
        hl--;
    chati_buf_printf(&pub, "%s://%.*s/rtm", pub_tls ? "wss" : "ws", (int)hl, host);
    h->ws_url = chati_buf_steal(&pub);
    /* A group of its own: every gateway hears every event. */
    char group[64];
    snprintf(group, sizeof group, "gateway-%s", h->epoch);
    return chat_subscribe(g->events, group, 0, on_event, h, &h->sub);
}

void gw_hub_stop(gw_hub *h)
{
    if (h == NULL)
        return;
    chat_unsubscribe(h->sub);
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    pthread_mutex_unlock(&h->mu);
    for (;;) {
        pthread_mutex_lock(&h->mu);
        conn *c = h->conns;
        pthread_mutex_unlock(&h->mu);
        if (c == NULL)
            break;
        conn_close(c);
    }
    /* Jobs and callbacks may still hold connections: wait until the last one
     * is freed (on a worker, which still runs) before the hub goes. */
    pthread_mutex_lock(&h->mu);
    int64_t deadline = chati_mono_ms() + 10000;
    while (h->live > 0 && chati_mono_ms() < deadline) {
        int64_t step = chati_mono_ms() + 50;
        chati_cond_wait_until(&h->gone, &h->mu, step < deadline ? step : deadline);
    }
    pthread_mutex_unlock(&h->mu);
    for (size_t i = 0; h->ring && i < h->ring_cap; i++)
        frame_unref(h->ring[i]);
    chat_free(h->ring);
    index_clear(&h->by_channel);
    index_clear(&h->by_user);
    index_clear(&h->by_watch);
    pthread_cond_destroy(&h->gone);
    pthread_mutex_destroy(&h->mu);
    chat_free(h->ws_url);
    chat_free(h);
}
