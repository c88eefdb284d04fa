/* Socket Mode: an app's WebSocket at /link/?ticket=... (the URL
 * apps.connections.open returns), over which its events arrive as Slack's
 * envelopes and go back acknowledged.
 *
 * The events wait in the auth service's queue (domain/app_events.c). A
 * poller leases each connected app's due events, sends each as an envelope
 * whose envelope_id names it, and the app's {"envelope_id":...} acknowledges
 * it. What is not acknowledged within LEASE_MS (the app died, the socket
 * broke, the gateway died) is leased again, to whichever connection of the
 * app asks first, with retry_attempt counted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.pb-c.h"
#include "internal.pb-c.h"
#include "event_json.h"
#include "gw_internal.h"
#include "ws_io.h"

#include <jansson.h>

#define MAX_FRAME (1024 * 1024)  /* what an app may send: acks, response payloads */
#define POLL_MS 250              /* how often each connection's queue is looked at */
#define LEASE_MS 5000            /* an envelope not acknowledged by then is sent again */
#define LEASE_MAX 32             /* envelopes leased at once */
#define MAX_QUEUED ((size_t)1 << 20) /* unsent bytes above which no more is leased */
#define REVERIFY_MS 10000        /* how stale a connection's ticket check may be */
#define REFRESH_MS (50LL * 60 * 1000) /* before the ticket's hour ends: reconnect */
#define MAX_JOBS 256             /* acknowledgements waiting per connection */
#define MAX_COMMANDS 32          /* slash commands sent and not yet answered, per link */

typedef struct link {
    struct gw_links *l;
    gw_sock *sock;              /* referenced */
    chat_session *s;            /* the app's (from the ticket) */
    char *ticket;
    char *uri;
    gw_ws_message msg;          /* loop thread */
    atomic_int refs;            /* the list's + the socket's + one per job */
    atomic_int jobs;
    bool registered, unlinked;  /* under l->mu */
    int64_t opened_ms, verified_ms;
    bool refresh_sent;          /* poller thread */
    /* The slash commands and view submissions sent: an ack answers through
     * the ticket of a command's response_url (its payload, when it has
     * one) or of a submission's view (always: a bare ack closes the view)
     * (under l->mu). */
    struct {
        int64_t seq;
        char *ticket;
        bool view;
    } cmds[MAX_COMMANDS];
    size_t next_cmd;
    struct link *next, *prev;
} link;

struct gw_links {
    gw *g;
    char *base;
    uint32_t salt;              /* in envelope ids: this gateway's, at a glance */
    pthread_mutex_t mu;         /* the list and each link's flags */
    pthread_cond_t wake, gone;
    link *links;
    size_t live;
    bool stopping;
    pthread_t poller;
    bool poller_started;
};

const char *gw_links_base(const gw_links *l)
{
    return l->base;
}

/* ------------------------------------------------------------ lifetime --- */

static void link_ref(link *k)
{
    atomic_fetch_add(&k->refs, 1);
}

static void link_unref(link *k)
{
    if (atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    gw_links *l = k->l;
    gw_sock_unref(k->sock);
    gw_ws_message_free(&k->msg);
    chat_session_free(k->s);
    for (size_t i = 0; i < MAX_COMMANDS; i++)
        chat_free(k->cmds[i].ticket);
    if (k->ticket)
        memset(k->ticket, 0, strlen(k->ticket));
    chat_free(k->ticket);
    chat_free(k->uri);
    chat_free(k);
    pthread_mutex_lock(&l->mu);
    l->live--;
    pthread_cond_broadcast(&l->gone);
    pthread_mutex_unlock(&l->mu);
}

/* Takes a link off the list and hangs up. Idempotent; any thread. */
static void link_close(link *k)
{
    gw_links *l = k->l;
    pthread_mutex_lock(&l->mu);
    bool first = !k->unlinked;
    k->unlinked = true;
    k->registered = false;
    if (first) {
        if (k->prev)
            k->prev->next = k->next;
        else if (l->links == k)
            l->links = k->next;
        if (k->next)
            k->next->prev = k->prev;
        k->next = k->prev = NULL;
    }
    pthread_mutex_unlock(&l->mu);
    if (!first)
        return;
    gw_sock_close(k->sock, true);
    link_unref(k); /* the list's */
}

static void send_text(link *k, const char *text, size_t len, gw_send_mode mode)
{
    unsigned char hdr[10];
    size_t hl = gw_ws_frame_header(hdr, GW_WS_TEXT, len);
    char *copy = chat_malloc(len ? len : 1);
    if (copy == NULL) {
        gw_sock_close(k->sock, false);
        return;
    }
    memcpy(copy, text, len);
    gw_out o = {.data = copy, .len = len, .release = chat_free, .ref = copy};
    memcpy(o.head, hdr, hl);
    o.head_len = (uint8_t)hl;
    if (!gw_sock_send(k->sock, &o, 0, mode))
        gw_sock_close(k->sock, false);
}

/* Slack's disconnect message, then the socket closes once it is written:
 * the app opens a new connection (refresh_requested) or stops trying
 * (link_disabled). */
static void send_disconnect(link *k, const char *reason)
{
    char msg[160];
    int n = snprintf(msg, sizeof msg,
                     "{\"type\":\"disconnect\",\"reason\":\"%s\",\"debug_info\":{\"host\":"
                     "\"libchat\"}}",
                     reason);
    send_text(k, msg, (size_t)n, GW_SEND_LAST);
}

/* --------------------------------------------------------- envelopes --- */

static void put_envelope_id(chati_buf *b, uint32_t salt, const Chat__Internal__AppEvent *e)
{
    /* UUID-shaped; the last group is the queue's number for the event. */
    chati_buf_printf(b, "\"%08x-%04x-4000-8000-%012llx\"", salt, e->attempts & 0xffffu,
                     (unsigned long long)e->seq & 0xffffffffffffULL);
}

/* The seq an envelope id names; false when it is not one of ours. */
static bool parse_envelope_id(const char *id, int64_t *seq)
{
    size_t n = id ? strlen(id) : 0;
    if (n != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-')
        return false;
    int64_t v = 0;
    for (size_t i = 24; i < 36; i++) {
        int d = chati_hex_digit(id[i]);
        if (d < 0)
            return false;
        v = v << 4 | d;
    }
    *seq = v;
    return v > 0;
}

/* An envelope up to its payload: its id, type and attempt. */
static void envelope_head(chati_buf *out, const gw_links *l, const Chat__Internal__AppEvent *e,
                          const char *type, bool accepts_response)
{
    out->len = 0;
    chati_buf_puts(out, "{\"envelope_id\":");
    put_envelope_id(out, l->salt, e);
    chati_buf_printf(out,
                     ",\"type\":\"%s\",\"accepts_response_payload\":%s,\"retry_attempt\":%u,"
                     "\"retry_reason\":\"%s\",\"payload\":",
                     type, accepts_response ? "true" : "false",
                     e->attempts > 0 ? e->attempts - 1 : 0, e->attempts > 1 ? "timeout" : "");
}

/* Remembers the ticket an ack of envelope seq answers through. */
static void remember_answer(gw_links *l, link *k, int64_t seq, const char *t, bool view)
{
    char *ticket = t ? chat_strdup(t) : NULL;
    if (ticket == NULL)
        return;
    pthread_mutex_lock(&l->mu);
    size_t i = k->next_cmd++ % MAX_COMMANDS;
    chat_free(k->cmds[i].ticket);
    k->cmds[i].seq = seq;
    k->cmds[i].ticket = ticket;
    k->cmds[i].view = view;
    pthread_mutex_unlock(&l->mu);
}

/* A slash command as Slack's slash_commands envelope, an interaction as
 * its interactive one (their data is the queue's JSON {"url", "payload"}). */
static bool command_envelope(gw_links *l, link *k, const Chat__Internal__AppEvent *e,
                             chati_buf *out)
{
    bool command = e->kind == CHAT_APP_EVENT_COMMAND;
    json_t *w = json_loadb((const char *)e->event.data, e->event.len, 0, NULL);
    json_t *p = json_object_get(w, "payload");
    char *payload = json_is_object(p) ? json_dumps(p, JSON_COMPACT) : NULL;
    const char *url = json_string_value(json_object_get(p, "response_url"));
    const char *respond = url ? strstr(url, "/hooks/respond/") : NULL;
    const char *view = json_string_value(json_object_get(w, "answer"));
    if (payload && respond && command)
        remember_answer(l, k, e->seq, respond + strlen("/hooks/respond/"), false);
    if (payload && view)
        remember_answer(l, k, e->seq, view, true);
    if (payload) {
        envelope_head(out, l, e, command ? "slash_commands" : "interactive",
                      command || view != NULL);
        chati_buf_puts(out, payload);
        chati_buf_puts(out, "}");
    }
    free(payload); /* jansson's allocator */
    json_decref(w);
    return payload != NULL && out->data != NULL;
}

/* One leased event as Slack's events_api envelope. */
static bool envelope(gw_links *l, link *k, const Chat__Internal__AppEvent *e, chati_buf *out)
{
    if (e->kind == CHAT_APP_EVENT_COMMAND || e->kind == CHAT_APP_EVENT_INTERACTION)
        return command_envelope(l, k, e, out);
    chati_buf payload = {0};
    bool ok = gw_app_payload_json(e->event.data, e->event.len, (int)e->kind,
                                  chat_session_team_id(k->s), chat_session_app_id(k->s),
                                  chat_session_user_id(k->s), &payload);
    if (ok) {
        envelope_head(out, l, e, "events_api", false);
        chati_buf_append(out, payload.data, payload.len);
        chati_buf_puts(out, "}");
        ok = out->data != NULL;
    }
    chati_buf_free(&payload);
    return ok;
}

/* ------------------------------------------------------------ polling --- */

/* Whether the connection's ticket still holds (an app revoked or
 * uninstalled loses its sockets within REVERIFY_MS). */
static bool still_authorized(gw_links *l, link *k, int64_t now)
{
    if (now - k->verified_ms < REVERIFY_MS)
        return true;
    chat_session *fresh = NULL;
    chat_err rv = gw_authenticate(l->g, k->ticket, &fresh);
    chat_session_free(fresh);
    if (rv == CHAT_OK) {
        k->verified_ms = now;
        return true;
    }
    if (rv == CHAT_ERR_SERVICE_UNAVAILABLE || rv == CHAT_ERR_TIMEOUT)
        return true; /* the auth service is away: ask again next time */
    send_disconnect(k, "link_disabled");
    return false;
}

/* Leases the app's due events and sends them; true when a full batch came
 * (more may wait). Poller thread. */
static bool poll_link(gw_links *l, link *k)
{
    static const chati_method *lease;
    if (lease == NULL)
        lease = chati_method_by_name("internal.appEventsLease");
    int64_t now = chati_mono_ms();
    if (!still_authorized(l, k, now)) {
        link_close(k);
        return false;
    }
    if (now - k->opened_ms > REFRESH_MS && !k->refresh_sent) {
        k->refresh_sent = true;
        send_disconnect(k, "refresh_requested");
        return false;
    }
    if (k->refresh_sent || gw_sock_queued(k->sock) > MAX_QUEUED)
        return false; /* a slow reader gets more once it has read */
    Chat__Internal__AppEventsLeaseRequest req = CHAT__INTERNAL__APP_EVENTS_LEASE_REQUEST__INIT;
    req.max = LEASE_MAX;
    req.lease_ms = LEASE_MS;
    ProtobufCMessage *resp = NULL;
    if (chati_svc_call(l->g->svc, lease, k->s, &req.base, 5000, &resp) != CHAT_OK)
        return false; /* the events wait; the next poll asks again */
    const Chat__Internal__AppEventsLeaseResponse *r = (const void *)resp;
    chati_buf b = {0};
    for (size_t i = 0; i < r->n_events; i++)
        if (envelope(l, k, r->events[i], &b))
            send_text(k, b.data, b.len, GW_SEND_NOW);
    /* One that cannot be shown is never acknowledged: it expires. */
    chati_buf_free(&b);
    bool full = r->n_events == LEASE_MAX;
    protobuf_c_message_free_unpacked(resp, NULL);
    return full;
}

static void *poller(void *arg)
{
    gw_links *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stopping) {
        size_t n = 0;
        for (link *k = l->links; k; k = k->next)
            n += k->registered;
        link **ks = n ? chat_calloc(n, sizeof *ks) : NULL;
        size_t m = 0;
        for (link *k = l->links; ks && k && m < n; k = k->next)
            if (k->registered) {
                link_ref(k);
                ks[m++] = k;
            }
        pthread_mutex_unlock(&l->mu);
        bool more = false;
        for (size_t i = 0; i < m; i++) {
            for (int round = 0; round < 8 && poll_link(l, ks[i]); round++)
                more = true;
            link_unref(ks[i]);
        }
        chat_free(ks);
        pthread_mutex_lock(&l->mu);
        if (!l->stopping && !more)
            chati_cond_wait_until(&l->wake, &l->mu, chati_mono_ms() + POLL_MS);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ---------------------------------------------------------- the socket --- */

typedef struct ack_job {
    link *k;
    char *text;
} ack_job;

/* An ack's payload answers the slash command it acknowledges, as a POST
 * to its response_url would (ephemeral unless response_type says); any ack
 * of a view submission answers it (a bare one closes the view). */
static void answer_command(link *k, int64_t seq, const char *text)
{
    json_t *msg = json_loads(text, 0, NULL);
    json_t *p = json_object_get(msg, "payload");
    char *body = json_is_object(p) && json_object_size(p) > 0 ? json_dumps(p, JSON_COMPACT)
                                                               : NULL;
    json_decref(msg);
    char *ticket = NULL;
    bool view = false;
    pthread_mutex_lock(&k->l->mu);
    for (size_t i = 0; i < MAX_COMMANDS && ticket == NULL; i++)
        if (k->cmds[i].ticket && k->cmds[i].seq == seq && (body || k->cmds[i].view)) {
            ticket = k->cmds[i].ticket; /* answered once */
            view = k->cmds[i].view;
            k->cmds[i].ticket = NULL;
        }
    pthread_mutex_unlock(&k->l->mu);
    if (ticket && view)
        gw_app_view_answer(k->l->g, ticket, body ? body : "", body ? strlen(body) : 0);
    else if (ticket)
        gw_app_answer(k->l->g, ticket, body, strlen(body));
    chat_free(ticket);
    free(body); /* jansson's allocator */
}

/* {"envelope_id":"..."} acknowledges an envelope; a payload beside it
 * answers a slash command. Worker thread. */
static void ack_run(void *arg)
{
    static const chati_method *ack;
    if (ack == NULL)
        ack = chati_method_by_name("internal.appEventsAck");
    ack_job *j = arg;
    link *k = j->k;
    gw_args args = GW_ARGS_INIT;
    int64_t seq = 0;
    if (gw_args_parse_json(j->text, strlen(j->text), &args) == CHAT_OK &&
        parse_envelope_id(gw_args_get(&args, "envelope_id"), &seq)) {
        answer_command(k, seq, j->text);
        Chat__Internal__AppEventsAckRequest req = CHAT__INTERNAL__APP_EVENTS_ACK_REQUEST__INIT;
        req.seqs = &seq;
        req.n_seqs = 1;
        ProtobufCMessage *resp = NULL;
        /* A lost acknowledgement only means the envelope comes again. */
        if (chati_svc_call(k->l->g->svc, ack, k->s, &req.base, 5000, &resp) == CHAT_OK)
            protobuf_c_message_free_unpacked(resp, NULL);
    }
    gw_args_free(&args);
    chat_free(j->text);
    chat_free(j);
    atomic_fetch_sub(&k->jobs, 1);
    link_unref(k);
}

static bool on_text(void *arg, const char *text, size_t len)
{
    link *k = arg;
    if (atomic_fetch_add(&k->jobs, 1) >= MAX_JOBS) {
        atomic_fetch_sub(&k->jobs, 1);
        gw_ws_fail(k->sock, GW_WS_CLOSE_POLICY); /* acks far faster than they are served */
        return false;
    }
    ack_job *j = chat_malloc(sizeof *j);
    char *copy = chat_strndup(text, len);
    if (j == NULL || copy == NULL) {
        chat_free(j);
        chat_free(copy);
        atomic_fetch_sub(&k->jobs, 1);
        return true;
    }
    j->k = k;
    j->text = copy;
    link_ref(k);
    if (!gw_workers_submit(k->l->g->workers, ack_run, j)) {
        chat_free(copy);
        chat_free(j);
        atomic_fetch_sub(&k->jobs, 1);
        atomic_fetch_sub(&k->refs, 1); /* the list's reference still holds it */
    }
    return true;
}

static size_t ws_on_data(gw_sock *s, char *data, size_t len)
{
    link *k = gw_sock_data(s);
    return gw_ws_read(s, &k->msg, MAX_FRAME, data, len, on_text, k);
}

static void ws_on_close(gw_sock *s)
{
    link *k = gw_sock_data(s);
    link_close(k);
    link_unref(k); /* the socket's */
}

static const gw_sock_ops ws_ops = {ws_on_data, ws_on_close, NULL, NULL};

static void ticket_of(const char *uri, char *out, size_t n)
{
    out[0] = '\0';
    const char *p = strstr(uri, "?ticket=");
    if (p == NULL)
        p = strstr(uri, "&ticket=");
    if (p == NULL)
        return;
    p += 8;
    size_t len = strcspn(p, "&");
    if (len >= n)
        return;
    memcpy(out, p, len);
    out[len] = '\0';
}

/* Checks the ticket and says hello: on a worker. */
static void link_start(void *arg)
{
    link *k = arg;
    gw_links *l = k->l;
    char ticket[2048];
    ticket_of(k->uri, ticket, sizeof ticket);
    chat_err rv = gw_authenticate(l->g, ticket, &k->s);
    if (rv == CHAT_OK && chat_session_token_kind(k->s) != CHAT_TOKEN_APP)
        rv = chati_fail(CHAT_ERR_NOT_ALLOWED_TOKEN_TYPE, "a Socket Mode ticket only");
    if (rv == CHAT_OK && (k->ticket = chat_strdup(ticket)) == NULL)
        rv = CHAT_ERR_NOMEM;
    memset(ticket, 0, sizeof ticket);
    if (rv != CHAT_OK) {
        send_disconnect(k, "link_disabled");
        link_unref(k);
        return;
    }
    k->opened_ms = k->verified_ms = chati_mono_ms();
    size_t same = 1;
    pthread_mutex_lock(&l->mu);
    bool ok = !l->stopping && !k->unlinked;
    for (link *o = l->links; ok && o; o = o->next)
        same += o->registered && strcmp(chat_session_app_id(o->s), chat_session_app_id(k->s)) == 0;
    k->registered = ok;
    pthread_mutex_unlock(&l->mu);
    if (ok) {
        char hello[384];
        int n = snprintf(hello, sizeof hello,
                         "{\"type\":\"hello\",\"num_connections\":%zu,\"debug_info\":{\"host\":"
                         "\"libchat\",\"build_number\":1,\"approximate_connection_time\":%lld},"
                         "\"connection_info\":{\"app_id\":\"%s\"}}",
                         same, REFRESH_MS / 1000, chat_session_app_id(k->s));
        send_text(k, hello, (size_t)n, GW_SEND_NOW);
        gw_sock_resume(k->sock);
        pthread_mutex_lock(&l->mu);
        pthread_cond_signal(&l->wake); /* what waited for the app goes out now */
        pthread_mutex_unlock(&l->mu);
    } else {
        link_close(k);
    }
    link_unref(k);
}

bool gw_links_attach(gw_links *l, gw_sock *s, const gw_req *r)
{
    link *k = chat_calloc(1, sizeof *k);
    if (k == NULL || (k->uri = chat_strdup(gw_req_uri(r))) == NULL || !gw_ws_upgrade(s, r)) {
        if (k)
            chat_free(k->uri);
        chat_free(k);
        return false;
    }
    k->l = l;
    k->sock = s;
    gw_sock_ref(s);
    atomic_init(&k->refs, 2); /* the list's and the socket's */
    atomic_init(&k->jobs, 0);
    pthread_mutex_lock(&l->mu);
    l->live++;
    k->next = l->links;
    if (l->links)
        l->links->prev = k;
    l->links = k;
    pthread_mutex_unlock(&l->mu);
    gw_sock_set_ops(s, &ws_ops, k);
    gw_sock_set_idle_timeout(s, 0); /* apps ping; a dead one's lease runs out */
    gw_sock_pause(s);                /* until link_start has checked the ticket */
    link_ref(k);
    if (!gw_workers_submit(l->g->workers, link_start, k)) {
        atomic_fetch_sub(&k->refs, 1);
        gw_sock_close(s, false);
    }
    return true;
}

chat_err gw_links_start(gw *g, gw_links **out)
{
    gw_links *l = chat_calloc(1, sizeof *l);
    if (l == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "links");
    *out = l;
    l->g = g;
    pthread_mutex_init(&l->mu, NULL);
    chati_cond_init(&l->wake);
    chati_cond_init(&l->gone);
    unsigned char rnd[4];
    if (chati_random(rnd, sizeof rnd) != CHAT_OK)
        return chati_fail(CHAT_ERR_INTERNAL, "links");
    l->salt = (uint32_t)rnd[0] << 24 | (uint32_t)rnd[1] << 16 | (uint32_t)rnd[2] << 8 | rnd[3];
    /* Beside the RTM URL: the same host, scheme and port. */
    const char *rtm = gw_hub_ws_url(g->hub);
    size_t n = strlen(rtm) - strlen("/rtm");
    chati_buf b = {0};
    chati_buf_printf(&b, "%.*s/link/", (int)n, rtm);
    if ((l->base = chati_buf_steal(&b)) == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "links");
    if (pthread_create(&l->poller, NULL, poller, l) != 0)
        return chati_fail(CHAT_ERR_INTERNAL, "links: no thread");
    l->poller_started = true;
    return CHAT_OK;
}

void gw_links_stop(gw_links *l)
{
    if (l == NULL)
        return;
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    pthread_cond_broadcast(&l->wake);
    pthread_mutex_unlock(&l->mu);
    if (l->poller_started)
        pthread_join(l->poller, NULL);
    /* Apps reconnect, through the load balancer, to a gateway that stays. */
    for (;;) {
        pthread_mutex_lock(&l->mu);
        link *k = l->links;
        if (k)
            link_ref(k);
        pthread_mutex_unlock(&l->mu);
        if (k == NULL)
            break;
        send_disconnect(k, "refresh_requested");
        link_close(k);
        link_unref(k);
    }
    pthread_mutex_lock(&l->mu);
    int64_t deadline = chati_mono_ms() + 10000;
    while (l->live > 0 && chati_mono_ms() < deadline)
        chati_cond_wait_until(&l->gone, &l->mu, deadline);
    pthread_mutex_unlock(&l->mu);
    pthread_cond_destroy(&l->wake);
    pthread_cond_destroy(&l->gone);
    pthread_mutex_destroy(&l->mu);
    chat_free(l->base);
    chat_free(l);
}
