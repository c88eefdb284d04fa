/* Events: payloads of every kind, consumer groups (split within a group, fan
 * out across groups), type masks, at-least-once redelivery, unsubscribe. */
#include "fixture.h"

#include "domain/ctx.h"
#include "proto/event_codec.h"

#include <pthread.h>
#include <sys/time.h>

static chat_ctx *ctx;
static char *dir;
static person ada, bob, cy;

static void setup(void)
{
    ctx = fixture_open(&dir, NULL);
    ada = fixture_person(ctx, "ada@example.com");
    bob = fixture_person(ctx, "bob@example.com");
    cy = fixture_person(ctx, "cy@example.com");
    /* Sign-ups publish member_joined for #general: let them pass before any
     * test subscribes. */
    ck_assert_chat_ok(chat_drain(ctx, 5000));
}

static void teardown(void)
{
    fixture_person_free(&ada);
    fixture_person_free(&bob);
    fixture_person_free(&cy);
    fixture_close(ctx, dir);
}

#define DRAIN() ck_assert_chat_ok(chat_drain(ctx, 10000))

/* ---- a copy of what a callback saw ---- */

typedef struct rec_ev {
    chat_event_type type;
    char id[48];
    int64_t time_us;
    char team[CHAT_ID_SIZE];
    char channel[CHAT_ID_SIZE];
    char user[CHAT_ID_SIZE];
    char target[CHAT_ID_SIZE];
    char item_ts[CHAT_TS_SIZE];
    char reaction[64];
    char file_id[CHAT_ID_SIZE];
    chat_presence presence;
    bool has_msg;
    char m_text[256];
    char m_ts[CHAT_TS_SIZE];
    char m_user[CHAT_ID_SIZE];
    char m_channel[CHAT_ID_SIZE];
    char m_client_msg_id[80];
    char m_edited_ts[CHAT_TS_SIZE];
    size_t m_mentions;
    char m_mention0[CHAT_ID_SIZE];
    size_t m_reactions;
    char m_reaction0[64];
    size_t m_reaction0_users;
    char m_reaction0_user0[CHAT_ID_SIZE];
    bool has_channel;
    char c_id[CHAT_ID_SIZE];
    char c_name[96];
    chat_channel_type c_type;
    char c_creator[CHAT_ID_SIZE];
} rec_ev;

#define REC_MAX 256

typedef struct recorder {
    pthread_mutex_t mu;
    int n;
    rec_ev ev[REC_MAX];
    /* at-least-once: fail the first delivery of every event id */
    bool fail_first;
    int attempts_total;
    int n_seen;
    char seen[REC_MAX][48];
    int attempts[REC_MAX];
} recorder;

static recorder *rec_new(void)
{
    recorder *r = calloc(1, sizeof *r);
    ck_assert_ptr_nonnull(r);
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

static void rec_free(recorder *r)
{
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static int rec_count(recorder *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

#define CP(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "(null)")

static void copy_event(rec_ev *e, const chat_event *ev)
{
    memset(e, 0, sizeof *e);
    e->type = chat_event_type_of(ev);
    CP(e->id, chat_event_id(ev));
    e->time_us = chat_event_time_us(ev);
    CP(e->team, chat_event_team_id(ev));
    CP(e->channel, chat_event_channel_id(ev));
    CP(e->user, chat_event_user_id(ev));
    CP(e->target, chat_event_target_user(ev));
    CP(e->item_ts, chat_event_item_ts(ev));
    CP(e->reaction, chat_event_reaction(ev));
    CP(e->file_id, chat_event_file_id(ev));
    e->presence = chat_event_presence(ev);
    const chat_message *m = chat_event_message(ev);
    if (m) {
        e->has_msg = true;
        CP(e->m_text, chat_message_text(m));
        CP(e->m_ts, chat_message_ts(m));
        CP(e->m_user, chat_message_user(m));
        CP(e->m_channel, chat_message_channel(m));
        CP(e->m_client_msg_id, chat_message_client_msg_id(m));
        CP(e->m_edited_ts, chat_message_edited_ts(m));
        e->m_mentions = chat_message_mention_count(m);
        if (e->m_mentions)
            CP(e->m_mention0, chat_message_mention(m, 0));
        e->m_reactions = chat_message_reaction_count(m);
        if (e->m_reactions) {
            CP(e->m_reaction0, chat_message_reaction_name(m, 0));
            e->m_reaction0_users = chat_message_reaction_user_count(m, 0);
            if (e->m_reaction0_users)
                CP(e->m_reaction0_user0, chat_message_reaction_user(m, 0, 0));
        }
    }
    const chat_channel *c = chat_event_channel(ev);
    if (c) {
        e->has_channel = true;
        CP(e->c_id, chat_channel_id(c));
        CP(e->c_name, chat_channel_name(c));
        e->c_type = chat_channel_type_of(c);
        CP(e->c_creator, chat_channel_creator(c));
    }
}

static chat_err on_event(void *arg, const chat_event *ev)
{
    recorder *r = arg;
    pthread_mutex_lock(&r->mu);
    chat_err rv = CHAT_OK;
    if (r->fail_first) {
        r->attempts_total++;
        int k = 0;
        while (k < r->n_seen && strcmp(r->seen[k], chat_event_id(ev)) != 0)
            k++;
        if (k == r->n_seen && k < REC_MAX) {
            CP(r->seen[k], chat_event_id(ev));
            r->n_seen++;
        }
        if (k < REC_MAX && ++r->attempts[k] == 1)
            rv = CHAT_ERR_INTERNAL; /* "try again later" */
    }
    if (rv == CHAT_OK && r->n < REC_MAX)
        copy_event(&r->ev[r->n++], ev);
    pthread_mutex_unlock(&r->mu);
    return rv;
}

static chat_subscription *subscribe(const char *group, uint32_t mask, recorder *r)
{
    chat_subscription *sub = NULL;
    ck_assert_chat_ok(chat_subscribe(ctx, group, mask, on_event, r, &sub));
    ck_assert_ptr_nonnull(sub);
    return sub;
}

#define BIT(t) (1u << (t))

static void assert_unique_ids(const recorder *r)
{
    for (int i = 0; i < r->n; i++) {
        ck_assert_int_eq(r->ev[i].id[0], 'E');
        ck_assert_uint_eq(strlen(r->ev[i].id), 33);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(r->ev[i].id, r->ev[j].id);
    }
}

static int64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* ============================ payloads ============================ */

START_TEST(message_and_reaction_events)
{
    char *news = fixture_channel(ctx, &ada, "news", false);
    ck_assert_chat_ok(chat_channel_join(ctx, bob.s, news, NULL));
    DRAIN();
    recorder *r = rec_new();
    chat_subscription *sub =
        subscribe("app", BIT(CHAT_EVENT_MESSAGE_CREATED) | BIT(CHAT_EVENT_MESSAGE_CHANGED) |
                             BIT(CHAT_EVENT_MESSAGE_DELETED) | BIT(CHAT_EVENT_REACTION_ADDED) |
                             BIT(CHAT_EVENT_REACTION_REMOVED),
                  r);
    int64_t t0 = now_us();
    char text[64];
    snprintf(text, sizeof text, "hello <@%s>", bob.id);
    chat_message *m = NULL, *e = NULL;
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, news, text, NULL, "cm-1", 0, &m));
    ck_assert_chat_ok(chat_message_update(ctx, ada.s, news, chat_message_ts(m), "hello again", &e));
    ck_assert_chat_ok(chat_reaction_add(ctx, bob.s, news, chat_message_ts(m), "thumbsup"));
    ck_assert_chat_ok(chat_reaction_remove(ctx, bob.s, news, chat_message_ts(m), "thumbsup"));
    ck_assert_chat_ok(chat_message_delete(ctx, ada.s, news, chat_message_ts(m)));
    DRAIN();
    int64_t t1 = now_us();
    const char *ts = chat_message_ts(m);
    const char *team = chat_session_team_id(ada.s);

    pthread_mutex_lock(&r->mu);
    ck_assert_int_eq(r->n, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(r->ev[i].channel, news);
        ck_assert_str_eq(r->ev[i].team, team);
        ck_assert(r->ev[i].has_msg);
        ck_assert_str_eq(r->ev[i].m_ts, ts);
        ck_assert_str_eq(r->ev[i].m_channel, news);
        ck_assert_str_eq(r->ev[i].m_user, ada.id);
        ck_assert_int_ge(r->ev[i].time_us, t0 - 1000000);
        ck_assert_int_le(r->ev[i].time_us, t1 + 1000000);
        ck_assert(!r->ev[i].has_channel);
    }
    assert_unique_ids(r);

    const rec_ev *c = &r->ev[0];
    ck_assert_int_eq(c->type, CHAT_EVENT_MESSAGE_CREATED);
    ck_assert_str_eq(c->user, ada.id);
    ck_assert_str_eq(c->m_text, text);
    ck_assert_str_eq(c->m_client_msg_id, "cm-1");
    ck_assert_str_eq(c->m_edited_ts, "");
    ck_assert_uint_eq(c->m_mentions, 1);
    ck_assert_str_eq(c->m_mention0, bob.id);

    c = &r->ev[1];
    ck_assert_int_eq(c->type, CHAT_EVENT_MESSAGE_CHANGED);
    ck_assert_str_eq(c->user, ada.id);
    ck_assert_str_eq(c->m_text, "hello again");
    ck_assert_str_eq(c->m_edited_ts, chat_message_edited_ts(e));
    ck_assert_str_ne(c->m_edited_ts, "");
    ck_assert_uint_eq(c->m_mentions, 0);

    c = &r->ev[2];
    ck_assert_int_eq(c->type, CHAT_EVENT_REACTION_ADDED);
    ck_assert_str_eq(c->user, bob.id);
    ck_assert_str_eq(c->item_ts, ts);
    ck_assert_str_eq(c->reaction, "thumbsup");
    ck_assert_uint_eq(c->m_reactions, 1);
    ck_assert_str_eq(c->m_reaction0, "thumbsup");
    ck_assert_uint_eq(c->m_reaction0_users, 1);
    ck_assert_str_eq(c->m_reaction0_user0, bob.id);

    c = &r->ev[3];
    ck_assert_int_eq(c->type, CHAT_EVENT_REACTION_REMOVED);
    ck_assert_str_eq(c->user, bob.id);
    ck_assert_str_eq(c->item_ts, ts);
    ck_assert_str_eq(c->reaction, "thumbsup");
    ck_assert_uint_eq(c->m_reactions, 0);

    c = &r->ev[4];
    ck_assert_int_eq(c->type, CHAT_EVENT_MESSAGE_DELETED);
    ck_assert_str_eq(c->user, ada.id);
    ck_assert_str_eq(c->m_text, "hello again"); /* the last state */
    pthread_mutex_unlock(&r->mu);

    /* Failed operations publish nothing. */
    ck_assert_chat_err(chat_message_delete(ctx, ada.s, news, ts), CHAT_ERR_MESSAGE_NOT_FOUND);
    ck_assert_chat_err(chat_message_post(ctx, cy.s, news, "x", NULL, NULL, 0, NULL),
                       CHAT_ERR_NOT_IN_CHANNEL);
    chat_message *m2 = NULL;
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, news, "two", NULL, "cm-2", 0, &m2));
    ck_assert_chat_err(chat_message_update(ctx, bob.s, news, chat_message_ts(m2), "hijack", NULL),
                       CHAT_ERR_CANT_UPDATE_MESSAGE);
    ck_assert_chat_ok(chat_reaction_add(ctx, bob.s, news, chat_message_ts(m2), "eyes"));
    ck_assert_chat_err(chat_reaction_add(ctx, bob.s, news, chat_message_ts(m2), "eyes"),
                       CHAT_ERR_ALREADY_REACTED);
    ck_assert_chat_err(chat_reaction_remove(ctx, cy.s, news, chat_message_ts(m2), "eyes"),
                       CHAT_ERR_NO_REACTION);
    /* A retried post (same client_msg_id) is not announced twice. */
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, news, "two", NULL, "cm-2", 0, NULL));
    DRAIN();
    pthread_mutex_lock(&r->mu);
    ck_assert_int_eq(r->n, 7);
    ck_assert_int_eq(r->ev[5].type, CHAT_EVENT_MESSAGE_CREATED);
    ck_assert_str_eq(r->ev[5].m_ts, chat_message_ts(m2));
    ck_assert_int_eq(r->ev[6].type, CHAT_EVENT_REACTION_ADDED);
    ck_assert_str_eq(r->ev[6].reaction, "eyes");
    assert_unique_ids(r);
    pthread_mutex_unlock(&r->mu);

    chat_unsubscribe(sub);
    rec_free(r);
    chat_message_free(m);
    chat_message_free(m2);
    chat_message_free(e);
    free(news);
}
END_TEST

START_TEST(channel_events)
{
    recorder *r = rec_new();
    chat_subscription *sub =
        subscribe("app", BIT(CHAT_EVENT_CHANNEL_CREATED) | BIT(CHAT_EVENT_MEMBER_JOINED), r);
    char *proj = fixture_channel(ctx, &ada, "proj", false);
    ck_assert_chat_ok(chat_channel_join(ctx, bob.s, proj, NULL));
    ck_assert_chat_ok(chat_channel_join(ctx, bob.s, proj, NULL)); /* already: no event */
    const char *who[] = {cy.id};
    ck_assert_chat_ok(chat_channel_invite(ctx, ada.s, proj, who, 1));
    ck_assert_chat_ok(chat_channel_leave(ctx, bob.s, proj)); /* member_left: masked out */
    char *hidden = fixture_channel(ctx, &bob, "hidden", true);
    DRAIN();

    pthread_mutex_lock(&r->mu);
    ck_assert_int_eq(r->n, 6);
    assert_unique_ids(r);
    /* Per channel, in order. */
    const rec_ev *p[4];
    const rec_ev *h[2];
    int np = 0, nh = 0;
    for (int i = 0; i < r->n; i++) {
        if (strcmp(r->ev[i].channel, proj) == 0 && np < 4)
            p[np++] = &r->ev[i];
        else if (strcmp(r->ev[i].channel, hidden) == 0 && nh < 2)
            h[nh++] = &r->ev[i];
    }
    ck_assert_int_eq(np, 4);
    ck_assert_int_eq(nh, 2);

    ck_assert_int_eq(p[0]->type, CHAT_EVENT_CHANNEL_CREATED);
    ck_assert_str_eq(p[0]->user, ada.id);
    ck_assert(p[0]->has_channel);
    ck_assert_str_eq(p[0]->c_id, proj);
    ck_assert_str_eq(p[0]->c_name, "proj");
    ck_assert_int_eq(p[0]->c_type, CHAT_CHANNEL_PUBLIC);
    ck_assert_str_eq(p[0]->c_creator, ada.id);
    ck_assert_str_eq(p[0]->team, chat_session_team_id(ada.s));

    ck_assert_int_eq(p[1]->type, CHAT_EVENT_MEMBER_JOINED);
    ck_assert_str_eq(p[1]->target, ada.id);
    ck_assert_str_eq(p[1]->user, ada.id);
    ck_assert_int_eq(p[2]->type, CHAT_EVENT_MEMBER_JOINED);
    ck_assert_str_eq(p[2]->target, bob.id);
    ck_assert_str_eq(p[2]->user, bob.id);
    ck_assert_int_eq(p[3]->type, CHAT_EVENT_MEMBER_JOINED);
    ck_assert_str_eq(p[3]->target, cy.id);
    ck_assert_str_eq(p[3]->user, ada.id); /* the inviter */

    ck_assert_int_eq(h[0]->type, CHAT_EVENT_CHANNEL_CREATED);
    ck_assert_str_eq(h[0]->c_name, "hidden");
    ck_assert_int_eq(h[0]->c_type, CHAT_CHANNEL_PRIVATE);
    ck_assert_str_eq(h[0]->user, bob.id);
    ck_assert_int_eq(h[1]->type, CHAT_EVENT_MEMBER_JOINED);
    ck_assert_str_eq(h[1]->target, bob.id);
    pthread_mutex_unlock(&r->mu);

    chat_unsubscribe(sub);
    rec_free(r);
    free(proj);
    free(hidden);
}
END_TEST

START_TEST(presence_and_typing_events)
{
    char *room = fixture_channel(ctx, &ada, "room", false);
    DRAIN();
    recorder *r = rec_new();
    chat_subscription *sub =
        subscribe("ui", BIT(CHAT_EVENT_PRESENCE_CHANGED) | BIT(CHAT_EVENT_USER_TYPING), r);
    ck_assert_chat_ok(chat_presence_heartbeat(ctx, ada.s));
    ck_assert_chat_ok(chat_presence_heartbeat(ctx, ada.s)); /* no change: no event */
    ck_assert_chat_ok(chat_presence_set(ctx, ada.s, true));
    ck_assert_chat_ok(chat_presence_set(ctx, ada.s, true)); /* no change */
    ck_assert_chat_ok(chat_presence_set(ctx, ada.s, false));
    ck_assert_chat_ok(chat_typing(ctx, ada.s, room));
    ck_assert_chat_err(chat_typing(ctx, bob.s, room), CHAT_ERR_NOT_IN_CHANNEL);
    DRAIN();

    pthread_mutex_lock(&r->mu);
    ck_assert_int_eq(r->n, 4);
    assert_unique_ids(r);
    const rec_ev *pr[3];
    const rec_ev *ty = NULL;
    int npr = 0;
    for (int i = 0; i < r->n; i++) {
        if (r->ev[i].type == CHAT_EVENT_PRESENCE_CHANGED && npr < 3)
            pr[npr++] = &r->ev[i];
        else if (r->ev[i].type == CHAT_EVENT_USER_TYPING)
            ty = &r->ev[i];
    }
    ck_assert_int_eq(npr, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(pr[i]->user, ada.id);
        ck_assert_str_eq(pr[i]->channel, "");
        ck_assert(!pr[i]->has_msg);
    }
    ck_assert_int_eq(pr[0]->presence, CHAT_PRESENCE_ACTIVE);
    ck_assert_int_eq(pr[1]->presence, CHAT_PRESENCE_AWAY);
    ck_assert_int_eq(pr[2]->presence, CHAT_PRESENCE_ACTIVE);
    ck_assert_ptr_nonnull(ty);
    ck_assert_str_eq(ty->user, ada.id);
    ck_assert_str_eq(ty->channel, room);
    ck_assert_str_eq(ty->team, chat_session_team_id(ada.s));
    pthread_mutex_unlock(&r->mu);
    chat_unsubscribe(sub);
    rec_free(r);
    free(room);
}
END_TEST

/* ====================== groups, masks, delivery ====================== */

static int find_ts(const recorder *r, const char *ts)
{
    int hits = 0;
    for (int i = 0; i < r->n; i++)
        hits += strcmp(r->ev[i].m_ts, ts) == 0;
    return hits;
}

START_TEST(groups_split_and_fan_out)
{
    char *room = fixture_channel(ctx, &ada, "room", false);
    DRAIN();
    recorder *a = rec_new(), *b = rec_new(), *c = rec_new();
    uint32_t mask = BIT(CHAT_EVENT_MESSAGE_CREATED);
    chat_subscription *sa = subscribe("workers", mask, a);
    chat_subscription *sb = subscribe("workers", mask, b);
    chat_subscription *sc = subscribe("audit", mask, c);
    enum { N = 12 };
    char ts[N][CHAT_TS_SIZE];
    for (int i = 0; i < N; i++) {
        chat_message *m = NULL;
        char text[32];
        snprintf(text, sizeof text, "msg %d", i);
        ck_assert_chat_ok(chat_message_post(ctx, ada.s, room, text, NULL, NULL, 0, &m));
        snprintf(ts[i], sizeof ts[i], "%s", chat_message_ts(m));
        chat_message_free(m);
        DRAIN(); /* one event at a time, so both workers get turns */
    }
    pthread_mutex_lock(&a->mu);
    pthread_mutex_lock(&b->mu);
    pthread_mutex_lock(&c->mu);
    /* Within a group: each event exactly once, and both members work. */
    ck_assert_int_eq(a->n + b->n, N);
    ck_assert_int_ge(a->n, 1);
    ck_assert_int_ge(b->n, 1);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(find_ts(a, ts[i]) + find_ts(b, ts[i]), 1);
    /* Another group gets everything, in order, with the same event ids. */
    ck_assert_int_eq(c->n, N);
    assert_unique_ids(c);
    for (int i = 0; i < N; i++) {
        ck_assert_str_eq(c->ev[i].m_ts, ts[i]);
        char want[32];
        snprintf(want, sizeof want, "msg %d", i);
        ck_assert_str_eq(c->ev[i].m_text, want);
        const recorder *w = find_ts(a, ts[i]) ? a : b;
        int k = 0;
        while (strcmp(w->ev[k].m_ts, ts[i]) != 0)
            k++;
        ck_assert_str_eq(w->ev[k].id, c->ev[i].id);
    }
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_unlock(&b->mu);
    pthread_mutex_unlock(&a->mu);

    /* A burst without drains is still split exactly once. */
    for (int i = 0; i < 30; i++)
        ck_assert_chat_ok(chat_message_post(ctx, ada.s, room, "burst", NULL, NULL, 0, NULL));
    DRAIN();
    ck_assert_int_eq(rec_count(a) + rec_count(b), N + 30);
    ck_assert_int_eq(rec_count(c), N + 30);
    chat_unsubscribe(sa);
    chat_unsubscribe(sb);
    chat_unsubscribe(sc);
    rec_free(a);
    rec_free(b);
    rec_free(c);
    free(room);
}
END_TEST

START_TEST(type_mask_filters)
{
    char *room = fixture_channel(ctx, &ada, "room", false);
    DRAIN();
    recorder *only = rec_new(), *all = rec_new();
    chat_subscription *so = subscribe("only", BIT(CHAT_EVENT_REACTION_ADDED), only);
    chat_subscription *sa = subscribe("all", 0, all);
    chat_message *m = NULL;
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, room, "hi", NULL, NULL, 0, &m));
    ck_assert_chat_ok(chat_reaction_add(ctx, ada.s, room, chat_message_ts(m), "wave"));
    ck_assert_chat_ok(chat_message_update(ctx, ada.s, room, chat_message_ts(m), "hi!", NULL));
    ck_assert_chat_ok(chat_typing(ctx, ada.s, room));
    ck_assert_chat_ok(chat_channel_mark(ctx, ada.s, room, chat_message_ts(m)));
    chat_file *f = NULL;
    ck_assert_chat_ok(chat_file_upload(ctx, ada.s, "f.txt", NULL, NULL, "x", 1, &f));
    ck_assert_chat_ok(chat_file_delete(ctx, ada.s, chat_file_id(f)));
    DRAIN();

    pthread_mutex_lock(&only->mu);
    ck_assert_int_eq(only->n, 1);
    ck_assert_int_eq(only->ev[0].type, CHAT_EVENT_REACTION_ADDED);
    ck_assert_str_eq(only->ev[0].reaction, "wave");
    pthread_mutex_unlock(&only->mu);

    pthread_mutex_lock(&all->mu);
    ck_assert_int_eq(all->n, 6);
    assert_unique_ids(all);
    /* Message-store events (relayed through the outbox) keep their order, and
     * so do the directly published ones; how the two streams interleave is
     * checked by one_channel_keeps_operation_order. */
    const rec_ev *relayed[3], *direct[3];
    int nr = 0, nd = 0;
    for (int i = 0; i < all->n; i++) {
        chat_event_type t = all->ev[i].type;
        if (t == CHAT_EVENT_MESSAGE_CREATED || t == CHAT_EVENT_REACTION_ADDED ||
            t == CHAT_EVENT_MESSAGE_CHANGED) {
            if (nr < 3)
                relayed[nr++] = &all->ev[i];
        } else if (nd < 3) {
            direct[nd++] = &all->ev[i];
        }
    }
    ck_assert_int_eq(nr, 3);
    ck_assert_int_eq(nd, 3);
    ck_assert_int_eq(relayed[0]->type, CHAT_EVENT_MESSAGE_CREATED);
    ck_assert_int_eq(relayed[1]->type, CHAT_EVENT_REACTION_ADDED);
    ck_assert_int_eq(relayed[2]->type, CHAT_EVENT_MESSAGE_CHANGED);
    ck_assert_str_eq(relayed[2]->m_text, "hi!");
    ck_assert_int_eq(direct[0]->type, CHAT_EVENT_USER_TYPING);
    ck_assert_int_eq(direct[1]->type, CHAT_EVENT_CHANNEL_MARKED);
    ck_assert_str_eq(direct[1]->item_ts, chat_message_ts(m));
    ck_assert_str_eq(direct[1]->user, ada.id);
    ck_assert_str_eq(direct[1]->channel, room);
    ck_assert_int_eq(direct[2]->type, CHAT_EVENT_FILE_DELETED);
    ck_assert_str_eq(direct[2]->file_id, chat_file_id(f));
    ck_assert_str_eq(direct[2]->user, ada.id);
    pthread_mutex_unlock(&all->mu);

    /* Topic names round-trip. */
    ck_assert_str_eq(chat_event_topic(CHAT_EVENT_MESSAGE_CREATED), "message.created");
    ck_assert_str_eq(chat_event_topic(CHAT_EVENT_MEMBER_JOINED), "channel.member_joined");
    ck_assert_ptr_null(chat_event_topic((chat_event_type)0));
    ck_assert_ptr_null(chat_event_topic((chat_event_type)(CHAT_EVENT_TYPE_MAX + 1)));
    for (int t = 1; t <= CHAT_EVENT_TYPE_MAX; t++)
        ck_assert_int_eq(chat_event_type_from_topic(chat_event_topic((chat_event_type)t)), t);
    ck_assert_int_eq(chat_event_type_from_topic("no.such"), 0);

    /* Bad subscriptions. */
    chat_subscription *bad = NULL;
    ck_assert_chat_err(chat_subscribe(ctx, "g", 1u, on_event, all, &bad),
                       CHAT_ERR_INVALID_ARGUMENTS); /* bit 0 is no type */
    ck_assert_chat_err(chat_subscribe(ctx, "", 0, on_event, all, &bad),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chat_subscribe(ctx, NULL, 0, on_event, all, &bad),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chat_subscribe(ctx, "g", 0, NULL, all, &bad), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chat_subscribe(ctx, "g", 0, on_event, all, NULL),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_ptr_null(bad);

    chat_unsubscribe(so);
    chat_unsubscribe(sa);
    rec_free(only);
    rec_free(all);
    chat_message_free(m);
    chat_file_free(f);
    free(room);
}
END_TEST

START_TEST(failed_callback_gets_event_again)
{
    char *room = fixture_channel(ctx, &ada, "room", false);
    DRAIN();
    recorder *r = rec_new();
    r->fail_first = true;
    chat_subscription *sub = subscribe("flaky", BIT(CHAT_EVENT_MESSAGE_CREATED), r);
    enum { N = 3 };
    char ts[N][CHAT_TS_SIZE];
    for (int i = 0; i < N; i++) {
        chat_message *m = NULL;
        ck_assert_chat_ok(chat_message_post(ctx, ada.s, room, "again", NULL, NULL, 0, &m));
        snprintf(ts[i], sizeof ts[i], "%s", chat_message_ts(m));
        chat_message_free(m);
        DRAIN(); /* drain waits for the redelivery to succeed */
        pthread_mutex_lock(&r->mu);
        ck_assert_int_eq(r->n_seen, i + 1);
        ck_assert_int_eq(r->attempts[i], 2);
        ck_assert_int_eq(r->n, i + 1);
        ck_assert_str_eq(r->ev[i].id, r->seen[i]); /* the same event, again */
        ck_assert_str_eq(r->ev[i].m_ts, ts[i]);
        pthread_mutex_unlock(&r->mu);
    }
    pthread_mutex_lock(&r->mu);
    ck_assert_int_eq(r->attempts_total, 2 * N);
    assert_unique_ids(r);
    pthread_mutex_unlock(&r->mu);

    /* A batch: an event that fails comes back, and whatever is redelivered
     * with it is a repeat, never a loss. */
    /* (Few: the broker backs off 20, 40, 80... ms after each failure.) */
    for (int i = 0; i < 5; i++)
        ck_assert_chat_ok(chat_message_post(ctx, ada.s, room, "batch", NULL, NULL, 0, NULL));
    DRAIN();
    pthread_mutex_lock(&r->mu);
    ck_assert_int_eq(r->n_seen, N + 5);
    for (int i = 0; i < r->n_seen; i++)
        ck_assert_int_ge(r->attempts[i], 2);
    /* Every event succeeded at least once. */
    for (int i = 0; i < r->n_seen; i++) {
        int ok = 0;
        for (int j = 0; j < r->n; j++)
            ok += strcmp(r->ev[j].id, r->seen[i]) == 0;
        ck_assert_int_ge(ok, 1);
    }
    pthread_mutex_unlock(&r->mu);
    chat_unsubscribe(sub);
    rec_free(r);
    free(room);
}
END_TEST

/* Publishes ev's bytes straight to the broker, as an outbox resend would. */
static void publish_raw(const chat_event *ev)
{
    void *data = NULL;
    size_t len = 0;
    ck_assert_chat_ok(chati_event_encode(ev, &data, &len));
    chat_broker_msg msg = {chat_event_topic(ev->type), ev->channel_id, data, len};
    ck_assert_chat_ok(ctx->broker->publish(ctx->broker_impl, &msg, 1, NULL, NULL, NULL));
    chat_free(data);
}

/* Brokers deliver at least once; a subscriber still sees each event once. */
START_TEST(redelivered_event_reaches_subscriber_once)
{
    char *room = fixture_channel(ctx, &ada, "again", false);
    DRAIN();
    recorder *r = rec_new();
    chat_subscription *sub = subscribe("once", BIT(CHAT_EVENT_MESSAGE_CREATED), r);
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, room, "one", NULL, NULL, 0, NULL));
    DRAIN();
    pthread_mutex_lock(&r->mu);
    ck_assert_int_eq(r->n, 1);
    char id[CHATI_EVENT_ID_SIZE];
    snprintf(id, sizeof id, "%.39s", r->ev[0].id);
    pthread_mutex_unlock(&r->mu);

    chat_event *ev = chati_event_new(CHAT_EVENT_MESSAGE_CREATED);
    snprintf(ev->id, sizeof ev->id, "%s", id);
    snprintf(ev->channel_id, sizeof ev->channel_id, "%s", room);
    publish_raw(ev); /* the same event again */
    DRAIN();
    pthread_mutex_lock(&r->mu);
    ck_assert_int_eq(r->n, 1);
    pthread_mutex_unlock(&r->mu);

    snprintf(ev->id, sizeof ev->id, "E%032d", 7); /* another event does arrive */
    publish_raw(ev);
    DRAIN();
    pthread_mutex_lock(&r->mu);
    ck_assert_int_eq(r->n, 2);
    ck_assert_str_eq(r->ev[1].id, ev->id);
    pthread_mutex_unlock(&r->mu);
    chati_event_free(ev);
    chat_unsubscribe(sub);
    rec_free(r);
    free(room);
}
END_TEST

/* "Events of one channel arrive in order" (event.h, docs/threading.md): a
 * consumer must see a channel's events in the order the operations happened,
 * whichever path (message-store outbox or direct publish) they take. */
START_TEST(one_channel_keeps_operation_order)
{
    char *room = fixture_channel(ctx, &ada, "room", false);
    ck_assert_chat_ok(chat_channel_join(ctx, bob.s, room, NULL));
    DRAIN();
    recorder *r = rec_new();
    chat_subscription *sub =
        subscribe("order", BIT(CHAT_EVENT_MESSAGE_CREATED) | BIT(CHAT_EVENT_CHANNEL_MARKED) |
                               BIT(CHAT_EVENT_MEMBER_LEFT),
                  r);
    enum { N = 60 };
    char ts[N + 1][CHAT_TS_SIZE];
    for (int i = 0; i < N; i++) {
        chat_message *m = NULL;
        ck_assert_chat_ok(chat_message_post(ctx, ada.s, room, "read me", NULL, NULL, 0, &m));
        snprintf(ts[i], sizeof ts[i], "%s", chat_message_ts(m));
        chat_message_free(m);
        /* Read up to the message just posted. */
        ck_assert_chat_ok(chat_channel_mark(ctx, ada.s, room, ts[i]));
    }
    /* Say goodbye, then leave. */
    chat_message *m = NULL;
    ck_assert_chat_ok(chat_message_post(ctx, bob.s, room, "bye", NULL, NULL, 0, &m));
    snprintf(ts[N], sizeof ts[N], "%s", chat_message_ts(m));
    chat_message_free(m);
    ck_assert_chat_ok(chat_channel_leave(ctx, bob.s, room));
    DRAIN();

    pthread_mutex_lock(&r->mu);
    ck_assert_int_eq(r->n, 2 * N + 2);
    for (int i = 0; i < N; i++) {
        const rec_ev *c = &r->ev[2 * i], *k = &r->ev[2 * i + 1];
        ck_assert_msg(c->type == CHAT_EVENT_MESSAGE_CREATED && strcmp(c->m_ts, ts[i]) == 0,
                      "event %d: wanted message.created %s, got %s %s%s", 2 * i, ts[i],
                      chat_event_topic(c->type), c->m_ts, c->item_ts);
        ck_assert_msg(k->type == CHAT_EVENT_CHANNEL_MARKED && strcmp(k->item_ts, ts[i]) == 0,
                      "event %d: wanted channel.marked %s, got %s %s%s", 2 * i + 1, ts[i],
                      chat_event_topic(k->type), k->m_ts, k->item_ts);
    }
    ck_assert_int_eq(r->ev[2 * N].type, CHAT_EVENT_MESSAGE_CREATED);
    ck_assert_str_eq(r->ev[2 * N].m_ts, ts[N]);
    ck_assert_int_eq(r->ev[2 * N + 1].type, CHAT_EVENT_MEMBER_LEFT);
    ck_assert_str_eq(r->ev[2 * N + 1].target, bob.id);
    pthread_mutex_unlock(&r->mu);
    chat_unsubscribe(sub);
    rec_free(r);
    free(room);
}
END_TEST

START_TEST(unsubscribe_stops_delivery)
{
    char *room = fixture_channel(ctx, &ada, "room", false);
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, room, "before", NULL, NULL, 0, NULL));
    DRAIN();
    recorder *a = rec_new(), *b = rec_new();
    uint32_t mask = BIT(CHAT_EVENT_MESSAGE_CREATED);
    chat_subscription *sa = subscribe("g", mask, a);
    chat_subscription *sb = subscribe("g", mask, b);
    /* Only events published after subscribing arrive. */
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, room, "one", NULL, NULL, 0, NULL));
    DRAIN();
    ck_assert_int_eq(rec_count(a) + rec_count(b), 1);
    int a_before = rec_count(a);
    chat_unsubscribe(sa);
    /* The remaining member gets everything now. */
    for (int i = 0; i < 4; i++) {
        ck_assert_chat_ok(chat_message_post(ctx, ada.s, room, "more", NULL, NULL, 0, NULL));
        DRAIN();
    }
    ck_assert_int_eq(rec_count(a), a_before);
    ck_assert_int_eq(rec_count(b), 5 - a_before);
    chat_unsubscribe(sb);
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, room, "after", NULL, NULL, 0, NULL));
    DRAIN();
    ck_assert_int_eq(rec_count(a), a_before);
    ck_assert_int_eq(rec_count(b), 5 - a_before);
    pthread_mutex_lock(&b->mu);
    for (int i = 0; i < b->n; i++)
        ck_assert_str_ne(b->ev[i].m_text, "before");
    pthread_mutex_unlock(&b->mu);
    chat_unsubscribe(NULL); /* a no-op */
    rec_free(a);
    rec_free(b);
    free(room);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("events");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, message_and_reaction_events);
    tcase_add_test(tc, channel_events);
    tcase_add_test(tc, presence_and_typing_events);
    tcase_add_test(tc, groups_split_and_fan_out);
    tcase_add_test(tc, type_mask_filters);
    tcase_add_test(tc, failed_callback_gets_event_again);
    tcase_add_test(tc, redelivered_event_reaches_subscriber_once);
    tcase_add_test(tc, one_channel_keeps_operation_order);
    tcase_add_test(tc, unsubscribe_stops_delivery);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
