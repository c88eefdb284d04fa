/* The Events API: apps that gave a request URL (and not Socket Mode) get
 * their events as HTTP POSTs, signed as Slack signs them.
 *
 * One thread leases, from the auth service's queue, the due events of such
 * apps (with each app's URL and signing secret), checks a URL once with
 * Slack's url_verification challenge, POSTs each event_callback with
 * X-Slack-Request-Timestamp and X-Slack-Signature (v0, HMAC-SHA256 of
 * "v0:<ts>:<body>"), and acknowledges what the app answered with a 2xx.
 * What failed stays leased for the retry delay, then goes again with
 * X-Slack-Retry-Num, for as long as the auth service keeps events (a day):
 * an app whose server was down gets what it missed. Several gateways may run
 * this at once: a lease goes to one of them. */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "event_json.h"
#include "gw_internal.h"
#include "internal.pb-c.h"

#define POLL_MS 250
#define MAX_APPS 50
#define MAX_EVENTS 20           /* per app and round */
#define TIMEOUT_MS 3000         /* Slack gives an app 3 s to answer */
#define MAX_VERIFIED 1024       /* URLs remembered as answering the challenge */
#define MAX_ANSWER 65536        /* of an app's answer, what is read */
#define JSON_TYPE "application/json"
#define FORM_TYPE "application/x-www-form-urlencoded"

typedef struct verified {
    char app_id[CHAT_ID_SIZE];
    char *url;
} verified;

struct gw_app_http {
    gw *g;
    int retry_ms;
    pthread_t thread;
    bool started, curl_ready;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool stopping;
    verified seen[MAX_VERIFIED]; /* the sender thread's */
    size_t n_seen;
};

typedef struct answer {
    char data[MAX_ANSWER + 1];
    size_t len;
} answer;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    answer *a = arg;
    size_t len = size * n, room = MAX_ANSWER - a->len;
    memcpy(a->data + a->len, p, len < room ? len : room);
    a->len += len < room ? len : room;
    a->data[a->len] = '\0';
    return len;
}

/* POSTs body to url signed with secret; the HTTP status, 0 when none came
 * (refused, timed out). retry: Slack's X-Slack-Retry-Num, 0 on a first try. */
static long post(CURL *c, const char *url, const char *secret, const char *type,
                 const char *body, size_t len, unsigned retry, answer *ans)
{
    char ts[24], head_ts[64], head_sig[96], head_retry[48];
    snprintf(ts, sizeof ts, "%lld", (long long)(chati_now_ms() / 1000));
    chati_hmac_key *key = NULL;
    if (chati_hmac_key_new(secret, strlen(secret), &key) != CHAT_OK)
        return 0;
    char base[40];
    int bl = snprintf(base, sizeof base, "v0:%s:", ts);
    uint8_t mac[32];
    chati_hmac(key, base, (size_t)bl, body, len, mac);
    chati_hmac_key_free(key);
    char hex[65];
    chati_hex_encode(mac, sizeof mac, hex);
    snprintf(head_ts, sizeof head_ts, "X-Slack-Request-Timestamp: %s", ts);
    snprintf(head_sig, sizeof head_sig, "X-Slack-Signature: v0=%s", hex);
    char head_type[80];
    snprintf(head_type, sizeof head_type, "Content-Type: %s", type);
    struct curl_slist *h = curl_slist_append(NULL, head_type);
    h = curl_slist_append(h, head_ts);
    h = curl_slist_append(h, head_sig);
    if (retry > 0) {
        snprintf(head_retry, sizeof head_retry, "X-Slack-Retry-Num: %u", retry);
        h = curl_slist_append(h, head_retry);
        h = curl_slist_append(h, "X-Slack-Retry-Reason: http_error");
    }
    h = curl_slist_append(h, "Expect:");
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "Slackbot 1.0 (libchat)");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, ans);
    ans->len = 0;
    ans->data[0] = '\0';
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    return status;
}

/* Whether the app's URL answered Slack's url_verification challenge (asked
 * once per URL and app while this gateway runs). */
static bool url_verified(gw_app_http *s, CURL *c, const Chat__Internal__AppHttpDelivery *d)
{
    for (size_t i = 0; i < s->n_seen; i++)
        if (strcmp(s->seen[i].app_id, d->app_id) == 0 && strcmp(s->seen[i].url, d->request_url) == 0)
            return true;
    unsigned char rnd[16];
    char challenge[33];
    if (chati_random(rnd, sizeof rnd) != CHAT_OK)
        return false;
    chati_hex_encode(rnd, sizeof rnd, challenge);
    char body[160];
    int n = snprintf(body, sizeof body,
                     "{\"token\":\"\",\"challenge\":\"%s\",\"type\":\"url_verification\"}",
                     challenge);
    answer ans;
    long status = post(c, d->request_url, d->signing_secret, JSON_TYPE, body, (size_t)n, 0, &ans);
    /* The challenge back, as text or as {"challenge":...}. */
    if (status < 200 || status > 299 || strstr(ans.data, challenge) == NULL)
        return false;
    verified *v = &s->seen[s->n_seen < MAX_VERIFIED ? s->n_seen++ : 0];
    if (v->url)
        chat_free(v->url);
    chati_copy_fixed(v->app_id, CHAT_ID_SIZE, d->app_id);
    v->url = chat_strdup(d->request_url);
    if (v->url == NULL)
        v->app_id[0] = '\0';
    return true;
}

void gw_app_answer(gw *g, const char *ticket, const char *body, size_t len)
{
    static const chati_method *respond;
    if (respond == NULL)
        respond = chati_method_by_name("webhooks.respond");
    gw_args args = GW_ARGS_INIT;
    chati_buf out = {0};
    chat_err rv = len > 0 && body[0] == '{' ? gw_args_parse_json(body, len, &args)
                                            : gw_args_add(&args, "text", body, len);
    if (rv == CHAT_OK) {
        gw_args_remove(&args, "ticket");
        if (gw_args_add(&args, "ticket", ticket, strlen(ticket)) == CHAT_OK)
            (void)gw_call_json(g, respond, NULL, &args, &out);
    }
    chati_buf_free(&out);
    gw_args_free(&args);
}

void gw_app_view_answer(gw *g, const char *ticket, const char *body, size_t len)
{
    static const chati_method *view_answer;
    if (view_answer == NULL)
        view_answer = chati_method_by_name("internal.viewAnswer");
    gw_args args = GW_ARGS_INIT;
    chati_buf out = {0};
    if (gw_args_add(&args, "ticket", ticket, strlen(ticket)) == CHAT_OK &&
        gw_args_add(&args, "answer", body, len) == CHAT_OK)
        (void)gw_call_json(g, view_answer, NULL, &args, &out);
    chati_buf_free(&out);
    gw_args_free(&args);
}

/* A slash command as Slack sends it over HTTP: its fields as a form, to the
 * command's URL (else the app's request URL); a body in the 2xx answer is
 * the app's reply. An interaction: payload=<JSON> to the interactivity URL. */
static long post_command(gw_app_http *s, CURL *c, const Chat__Internal__AppHttpDelivery *d,
                         const Chat__Internal__AppEvent *e, chati_buf *body, answer *ans)
{
    json_t *w = json_loadb((const char *)e->event.data, e->event.len, 0, NULL);
    const json_t *p = json_object_get(w, "payload");
    const char *url = json_string_value(json_object_get(w, "url"));
    const char *respond = json_string_value(json_object_get(p, "response_url"));
    const char *ticket = respond ? strstr(respond, "/hooks/respond/") : NULL;
    if (url == NULL || *url == '\0')
        url = d->request_url;
    body->len = 0;
    if (e->kind == CHAT_APP_EVENT_INTERACTION) {
        /* Slack's interactivity POST: one form field, payload=<JSON>. */
        char *json = json_is_object(p) ? json_dumps(p, JSON_COMPACT) : NULL;
        char *esc = json ? curl_easy_escape(c, json, 0) : NULL;
        if (esc)
            chati_buf_printf(body, "payload=%s", esc);
        curl_free(esc);
        free(json); /* jansson's allocator */
        p = NULL; /* no fields of its own */
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)p, k, v)
    {
        char *ek = curl_easy_escape(c, k, 0);
        char *ev = curl_easy_escape(c, json_string_value(v) ? json_string_value(v) : "", 0);
        if (ek && ev)
            chati_buf_printf(body, "%s%s=%s", body->len ? "&" : "", ek, ev);
        curl_free(ek);
        curl_free(ev);
    }
    long status = 0;
    if (body->data && body->len > 0)
        status = post(c, url, d->signing_secret, FORM_TYPE, body->data, body->len,
                      e->attempts > 0 ? e->attempts - 1 : 0, ans);
    const char *view = json_string_value(json_object_get(w, "answer"));
    if (status >= 200 && status <= 299 && ans->len > 0 && ticket &&
        e->kind == CHAT_APP_EVENT_COMMAND)
        gw_app_answer(s->g, ticket + strlen("/hooks/respond/"), ans->data, ans->len);
    else if (status >= 200 && status <= 299 && view)
        gw_app_view_answer(s->g, view, ans->data, ans->len);
    json_decref(w);
    return status;
}

/* Sends one app's leased events and acknowledges those its URL took. */
static void deliver_app(gw_app_http *s, CURL *c, const Chat__Internal__AppHttpDelivery *d)
{
    static const chati_method *ack;
    if (ack == NULL)
        ack = chati_method_by_name("internal.appHttpAck");
    if (*d->request_url && !url_verified(s, c, d))
        return; /* the events stay leased: they go again after the retry delay */
    int64_t *done = chat_calloc(d->n_events ? d->n_events : 1, sizeof *done);
    size_t n_done = 0;
    chati_buf body = {0};
    answer ans;
    for (size_t i = 0; done && i < d->n_events; i++) {
        const Chat__Internal__AppEvent *e = d->events[i];
        long status;
        if (e->kind == CHAT_APP_EVENT_COMMAND || e->kind == CHAT_APP_EVENT_INTERACTION) {
            status = post_command(s, c, d, e, &body, &ans);
        } else {
            if (*d->request_url == '\0' ||
                !gw_app_payload_json(e->event.data, e->event.len, (int)e->kind, d->team_id,
                                     d->app_id, d->bot_user_id, &body))
                continue; /* nowhere to go, or cannot be shown: it ages out */
            status = post(c, d->request_url, d->signing_secret, JSON_TYPE, body.data, body.len,
                          e->attempts > 0 ? e->attempts - 1 : 0, &ans);
        }
        if (status < 200 || status > 299)
            break; /* the rest wait with it: no storm of requests at a URL that is down */
        done[n_done++] = e->seq;
    }
    chati_buf_free(&body);
    if (n_done > 0) {
        Chat__Internal__AppHttpAckRequest req = CHAT__INTERNAL__APP_HTTP_ACK_REQUEST__INIT;
        req.app_id = d->app_id;
        req.seqs = done;
        req.n_seqs = n_done;
        ProtobufCMessage *resp = NULL;
        /* A lost acknowledgement only means the event goes again. */
        if (chati_svc_call(s->g->svc, ack, NULL, &req.base, 5000, &resp) == CHAT_OK)
            protobuf_c_message_free_unpacked(resp, NULL);
    }
    chat_free(done);
}

/* One round: lease, send, acknowledge. true when there may be more. */
static bool round_once(gw_app_http *s, CURL *c)
{
    static const chati_method *lease;
    if (lease == NULL)
        lease = chati_method_by_name("internal.appHttpLease");
    Chat__Internal__AppHttpLeaseRequest req = CHAT__INTERNAL__APP_HTTP_LEASE_REQUEST__INIT;
    req.max_apps = MAX_APPS;
    req.max_events = MAX_EVENTS;
    req.lease_ms = (uint32_t)s->retry_ms;
    ProtobufCMessage *resp = NULL;
    if (chati_svc_call(s->g->svc, lease, NULL, &req.base, 5000, &resp) != CHAT_OK)
        return false; /* the auth service is away: the events wait */
    const Chat__Internal__AppHttpLeaseResponse *r = (const void *)resp;
    bool more = false;
    for (size_t i = 0; i < r->n_apps; i++) {
        deliver_app(s, c, r->apps[i]);
        more = more || r->apps[i]->n_events == MAX_EVENTS;
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return more;
}

static void *sender(void *arg)
{
    gw_app_http *s = arg;
    CURL *c = curl_easy_init();
    pthread_mutex_lock(&s->mu);
    while (c && !s->stopping) {
        pthread_mutex_unlock(&s->mu);
        bool more = round_once(s, c);
        pthread_mutex_lock(&s->mu);
        if (!s->stopping && !more)
            chati_cond_wait_until(&s->wake, &s->mu, chati_mono_ms() + POLL_MS);
    }
    pthread_mutex_unlock(&s->mu);
    if (c)
        curl_easy_cleanup(c);
    return NULL;
}

chat_err gw_app_http_start(gw *g, gw_app_http **out)
{
    gw_app_http *s = chat_calloc(1, sizeof *s);
    if (s == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "app sender");
    *out = s;
    s->g = g;
    s->retry_ms = g->cfg.app_retry_ms > 0 ? g->cfg.app_retry_ms : 60000;
    pthread_mutex_init(&s->mu, NULL);
    chati_cond_init(&s->wake);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return chati_fail(CHAT_ERR_INTERNAL, "libcurl would not start");
    s->curl_ready = true;
    if (pthread_create(&s->thread, NULL, sender, s) != 0)
        return chati_fail(CHAT_ERR_INTERNAL, "app sender: no thread");
    s->started = true;
    return CHAT_OK;
}

void gw_app_http_stop(gw_app_http *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->mu);
    if (s->started)
        pthread_join(s->thread, NULL);
    if (s->curl_ready)
        curl_global_cleanup();
    for (size_t i = 0; i < s->n_seen; i++)
        chat_free(s->seen[i].url);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    chat_free(s);
}
