/*
 * libchat/proto/event.c - chat_event: creation, protobuf encoding and
 * decoding (chat.Event, event.proto), topic names and the public accessors.
 * chat_subscribe()/chat_unsubscribe() live with the broker code.
 */
#include <string.h>

#include "event.pb-c.h"
#include "proto/event_codec.h"

/* ------------------------------------------------------------- topics --- */

static const char *const topics[CHAT_EVENT_TYPE_MAX + 1] = {
    [CHAT_EVENT_MESSAGE_CREATED] = "message.created",
    [CHAT_EVENT_MESSAGE_CHANGED] = "message.changed",
    [CHAT_EVENT_MESSAGE_DELETED] = "message.deleted",
    [CHAT_EVENT_REACTION_ADDED] = "reaction.added",
    [CHAT_EVENT_REACTION_REMOVED] = "reaction.removed",
    [CHAT_EVENT_CHANNEL_CREATED] = "channel.created",
    [CHAT_EVENT_CHANNEL_RENAMED] = "channel.renamed",
    [CHAT_EVENT_CHANNEL_ARCHIVED] = "channel.archived",
    [CHAT_EVENT_CHANNEL_UNARCHIVED] = "channel.unarchived",
    [CHAT_EVENT_CHANNEL_TOPIC] = "channel.topic",
    [CHAT_EVENT_CHANNEL_PURPOSE] = "channel.purpose",
    [CHAT_EVENT_MEMBER_JOINED] = "channel.member_joined",
    [CHAT_EVENT_MEMBER_LEFT] = "channel.member_left",
    [CHAT_EVENT_PRESENCE_CHANGED] = "presence.changed",
    [CHAT_EVENT_USER_TYPING] = "user.typing",
    [CHAT_EVENT_USER_CHANGED] = "user.changed",
    [CHAT_EVENT_CHANNEL_MARKED] = "channel.marked",
    [CHAT_EVENT_FILE_DELETED] = "file.deleted",
    [CHAT_EVENT_USER_JOINED] = "user.joined",
    [CHAT_EVENT_MESSAGE_EPHEMERAL] = "message.ephemeral",
    [CHAT_EVENT_VIEW_CHANGED] = "view.changed",
    [CHAT_EVENT_PIN_ADDED] = "pin.added",
    [CHAT_EVENT_PIN_REMOVED] = "pin.removed",
};

static bool
type_valid(uint32_t type)
{
    return type >= 1 && type <= CHAT_EVENT_TYPE_MAX;
}

const char *
chat_event_topic(chat_event_type type)
{
    return type_valid((uint32_t)type) ? topics[type] : NULL;
}

chat_event_type
chat_event_type_from_topic(const char *topic)
{
    if (topic == NULL) {
        return (chat_event_type)0;
    }
    for (uint32_t t = 1; t <= CHAT_EVENT_TYPE_MAX; t++) {
        if (strcmp(topics[t], topic) == 0) {
            return (chat_event_type)t;
        }
    }
    return (chat_event_type)0;
}

/* ------------------------------------------------------------- events --- */

chat_event *
chati_event_new(chat_event_type type)
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char rnd[16];
    chat_event *ev;

    if (!type_valid((uint32_t)type)) {
        chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "unknown event type %d", (int)type);
        return NULL;
    }
    /* 48 bits of milliseconds, then 80 random bits (like a UUIDv7): ids
     * sort by time, so the stores that record applied event ids append to
     * one end of their index instead of dirtying a random page per event,
     * and 80 random bits per millisecond need no coordination. */
    if (chati_random(rnd + 6, sizeof(rnd) - 6) != CHAT_OK) {
        return NULL;
    }
    if ((ev = chat_calloc(1, sizeof(*ev))) == NULL) {
        chati_fail(CHAT_ERR_NOMEM, "allocating an event");
        return NULL;
    }
    ev->time_us = chati_now_us();
    uint64_t ms = (uint64_t)ev->time_us / 1000;
    for (int i = 5; i >= 0; i--, ms >>= 8) {
        rnd[i] = (unsigned char)(ms & 0xff);
    }
    ev->type = type;
    ev->id[0] = 'E';
    for (size_t i = 0; i < sizeof(rnd); i++) {
        ev->id[1 + 2 * i] = hex[rnd[i] >> 4];
        ev->id[2 + 2 * i] = hex[rnd[i] & 0xf];
    }
    ev->id[1 + 2 * sizeof(rnd)] = '\0';
    return ev;
}

void
chati_event_free(chat_event *ev)
{
    if (ev == NULL) {
        return;
    }
    chat_free(ev->reaction);
    chat_free(ev->data);
    chat_message_free(ev->message);
    chat_message_free(ev->previous);
    chat_channel_free(ev->channel);
    chat_user_free(ev->user);
    chat_free(ev);
}

/* ----------------------------------------------------------- encoding --- */

/* protobuf-c wants non-NULL char * for proto3 strings and does not write
 * through them while packing, so const fields are lent to it as they are. */
static char *
pstr(const char *s)
{
    return s != NULL ? (char *)s : "";
}

/* Points n slots of ptrs at the ids; returns the next free slot. */
static char **
lend_ids(char **ptrs, const char (*ids)[CHAT_ID_SIZE], size_t n, size_t *n_out,
         char ***out)
{
    if (ids == NULL || n == 0) {
        *n_out = 0;
        *out = NULL;
        return ptrs;
    }
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = (char *)ids[i];
    }
    *n_out = n;
    *out = ptrs;
    return ptrs + n;
}

/* Scratch memory for one encode: pointer arrays and reaction records. */
typedef struct enc_scratch {
    char **ptrs;
    Chat__Reaction *rx;
    Chat__Reaction **rxp;
} enc_scratch;

static size_t
id_count(const void *arr, size_t n)
{
    return arr != NULL ? n : 0;
}

static chat_err
message_to_pb(const chat_message *m, Chat__Message *pm, enc_scratch *sc)
{
    size_t nptrs, nrx;
    char **next;

    nrx = m->reactions != NULL ? m->n_reactions : 0;
    nptrs = id_count(m->reply_users, m->n_reply_users) + id_count(m->files, m->n_files) +
            id_count(m->mentions, m->n_mentions);
    for (size_t i = 0; i < nrx; i++) {
        nptrs += id_count(m->reactions[i].users, m->reactions[i].n_users);
    }
    if (nptrs > 0 && (sc->ptrs = chat_calloc(nptrs, sizeof(char *))) == NULL) {
        return chati_fail(CHAT_ERR_NOMEM, "encoding a message");
    }
    if (nrx > 0) {
        sc->rx = chat_calloc(nrx, sizeof(Chat__Reaction));
        sc->rxp = chat_calloc(nrx, sizeof(Chat__Reaction *));
        if (sc->rx == NULL || sc->rxp == NULL) {
            return chati_fail(CHAT_ERR_NOMEM, "encoding reactions");
        }
    }

    chat__message__init(pm);
    pm->channel = pstr(m->channel);
    pm->ts = pstr(m->ts);
    pm->user = pstr(m->user);
    pm->team_id = pstr(m->team_id);
    pm->text = pstr(m->text);
    pm->subtype = pstr(m->subtype);
    pm->thread_ts = pstr(m->thread_ts);
    pm->client_msg_id = pstr(m->client_msg_id);
    pm->edited_user = pstr(m->edited_user);
    pm->edited_ts = pstr(m->edited_ts);
    pm->reply_count = m->reply_count;
    pm->latest_reply = pstr(m->latest_reply);
    next = sc->ptrs;
    next = lend_ids(next, (const char(*)[CHAT_ID_SIZE])m->reply_users, m->n_reply_users,
                    &pm->n_reply_users, &pm->reply_users);
    next = lend_ids(next, (const char(*)[CHAT_ID_SIZE])m->files, m->n_files, &pm->n_files,
                    &pm->files);
    next = lend_ids(next, (const char(*)[CHAT_ID_SIZE])m->mentions, m->n_mentions,
                    &pm->n_mentions, &pm->mentions);
    for (size_t i = 0; i < nrx; i++) {
        const chat_reaction *r = &m->reactions[i];
        Chat__Reaction *pr = &sc->rx[i];

        chat__reaction__init(pr);
        pr->name = pstr(r->name);
        next = lend_ids(next, (const char(*)[CHAT_ID_SIZE])r->users, r->n_users, &pr->n_users,
                        &pr->users);
        sc->rxp[i] = pr;
    }
    pm->n_reactions = nrx;
    pm->reactions = nrx > 0 ? sc->rxp : NULL;
    pm->mention_flags = m->mention_flags;
    pm->reply_broadcast = m->reply_broadcast;
    pm->blocks = pstr(m->blocks);
    pm->attachments = pstr(m->attachments);
    pm->metadata = pstr(m->metadata);
    pm->username = pstr(m->username);
    pm->icon_emoji = pstr(m->icon_emoji);
    pm->icon_url = pstr(m->icon_url);
    pm->bot_id = pstr(m->bot_id);
    pm->flags = m->flags;
    return CHAT_OK;
}

static void
channel_to_pb(const chat_channel *c, Chat__Channel *pc)
{
    chat__channel__init(pc);
    pc->id = pstr(c->id);
    pc->team_id = pstr(c->team_id);
    pc->name = pstr(c->name);
    pc->type = (uint32_t)c->type;
    pc->creator = pstr(c->creator);
    pc->created = c->created;
    pc->topic = pstr(c->topic);
    pc->topic_creator = pstr(c->topic_creator);
    pc->topic_last_set = c->topic_last_set;
    pc->purpose = pstr(c->purpose);
    pc->purpose_creator = pstr(c->purpose_creator);
    pc->purpose_last_set = c->purpose_last_set;
    pc->is_archived = c->is_archived;
    pc->is_general = c->is_general;
    pc->dm_key = pstr(c->dm_key);
    pc->last_activity = pstr(c->last_activity);
    pc->member_count = c->member_count;
    pc->is_member = c->is_member;
    pc->last_read = pstr(c->last_read);
    pc->unread_count = c->unread_count;
    pc->mention_count = c->mention_count;
}

static void
user_to_pb(const chat_user *u, Chat__User *pu)
{
    chat__user__init(pu);
    pu->id = pstr(u->id);
    pu->team_id = pstr(u->team_id);
    pu->email = pstr(u->email);
    pu->name = pstr(u->name);
    pu->real_name = pstr(u->real_name);
    pu->display_name = pstr(u->display_name);
    pu->title = pstr(u->title);
    pu->status_text = pstr(u->status_text);
    pu->status_emoji = pstr(u->status_emoji);
    pu->tz = pstr(u->tz);
    pu->is_admin = u->is_admin;
    pu->deleted = u->deleted;
    pu->created = u->created;
    pu->updated = u->updated;
    pu->bot_id = pstr(u->bot_id);
    pu->app_id = pstr(u->app_id);
}

chat_err
chati_event_encode(const chat_event *ev, void **data, size_t *len)
{
    Chat__Event pe;
    Chat__Message pm, pprev;
    Chat__Channel pc;
    Chat__User pu;
    enc_scratch sc = {NULL, NULL, NULL}, sc_prev = {NULL, NULL, NULL};
    chat_err rv = CHAT_OK;
    uint8_t *buf;
    size_t size;

    if (ev == NULL || data == NULL || len == NULL) {
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "chati_event_encode: NULL argument");
    }
    if (!type_valid((uint32_t)ev->type)) {
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "unknown event type %d", (int)ev->type);
    }
    chat__event__init(&pe);
    pe.id = pstr(ev->id);
    pe.type = (uint32_t)ev->type;
    pe.time_us = ev->time_us;
    pe.team_id = pstr(ev->team_id);
    pe.channel_id = pstr(ev->channel_id);
    pe.user_id = pstr(ev->user_id);
    pe.target_user = pstr(ev->target_user);
    pe.item_ts = pstr(ev->item_ts);
    pe.reaction = pstr(ev->reaction);
    pe.data = pstr(ev->data);
    pe.file_id = pstr(ev->file_id);
    pe.presence = (uint32_t)ev->presence;
    pe.channel_type = (uint32_t)ev->channel_type;
    if (ev->previous != NULL) {
        if ((rv = message_to_pb(ev->previous, &pprev, &sc_prev)) != CHAT_OK) {
            goto out;
        }
        pe.previous = &pprev;
    }
    if (ev->message != NULL) {
        if ((rv = message_to_pb(ev->message, &pm, &sc)) != CHAT_OK) {
            goto out;
        }
        pe.message = &pm;
    }
    if (ev->channel != NULL) {
        channel_to_pb(ev->channel, &pc);
        pe.channel = &pc;
    }
    if (ev->user != NULL) {
        user_to_pb(ev->user, &pu);
        pe.user = &pu;
    }

    size = chat__event__get_packed_size(&pe);
    if ((buf = chat_malloc(size > 0 ? size : 1)) == NULL) {
        rv = chati_fail(CHAT_ERR_NOMEM, "encoding an event of %zu bytes", size);
        goto out;
    }
    if (chat__event__pack(&pe, buf) != size) {
        chat_free(buf);
        rv = chati_fail(CHAT_ERR_INTERNAL, "protobuf-c packed an unexpected size");
        goto out;
    }
    *data = buf;
    *len = size;
out:
    chat_free(sc.ptrs);
    chat_free(sc.rx);
    chat_free(sc.rxp);
    chat_free(sc_prev.ptrs);
    chat_free(sc_prev.rx);
    chat_free(sc_prev.rxp);
    return rv;
}

/* ----------------------------------------------------------- decoding --- */

static chat_err
bad(const char *what)
{
    return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "malformed event: %s", what);
}

static bool
utf8_ok(const char *s)
{
    return chati_utf8_valid(s, strlen(s), NULL);
}

/* A string field into a fixed id/ts array. */
static chat_err
dec_fixed(char *dst, size_t size, const char *src, const char *what)
{
    if (src == NULL) {
        dst[0] = '\0';
        return CHAT_OK;
    }
    if (!chati_copy_fixed(dst, size, src)) {
        return bad(what);
    }
    if (!utf8_ok(dst)) {
        dst[0] = '\0';
        return bad(what);
    }
    return CHAT_OK;
}

/* A string field into an owned char *; "" becomes NULL. */
static chat_err
dec_str(char **dst, const char *src, const char *what)
{
    *dst = NULL;
    if (src == NULL || src[0] == '\0') {
        return CHAT_OK;
    }
    if (!utf8_ok(src)) {
        return bad(what);
    }
    if ((*dst = chat_strdup(src)) == NULL) {
        return chati_fail(CHAT_ERR_NOMEM, "decoding an event");
    }
    return CHAT_OK;
}

/* A repeated string field into an owned array of ids. */
static chat_err
dec_ids(char (**dst)[CHAT_ID_SIZE], size_t *n_dst, char **src, size_t n, const char *what)
{
    char(*ids)[CHAT_ID_SIZE];
    chat_err rv;

    *dst = NULL;
    *n_dst = 0;
    if (n == 0 || src == NULL) {
        return CHAT_OK;
    }
    if (n > SIZE_MAX / CHAT_ID_SIZE) {
        return bad(what);
    }
    if ((ids = chat_malloc(n * CHAT_ID_SIZE)) == NULL) {
        return chati_fail(CHAT_ERR_NOMEM, "decoding an event");
    }
    for (size_t i = 0; i < n; i++) {
        if ((rv = dec_fixed(ids[i], CHAT_ID_SIZE, src[i], what)) != CHAT_OK) {
            chat_free(ids);
            return rv;
        }
    }
    *dst = ids;
    *n_dst = n;
    return CHAT_OK;
}

#define TRY(expr)                                                                          \
    do {                                                                                   \
        if ((rv = (expr)) != CHAT_OK) {                                                    \
            goto fail;                                                                     \
        }                                                                                  \
    } while (0)

static chat_err
message_from_pb(const Chat__Message *pm, chat_message **out)
{
    chat_message *m;
    chat_err rv;

    if ((m = chat_message_new()) == NULL) {
        return chati_fail(CHAT_ERR_NOMEM, "decoding a message");
    }
    TRY(dec_fixed(m->channel, sizeof(m->channel), pm->channel, "message.channel"));
    TRY(dec_fixed(m->ts, sizeof(m->ts), pm->ts, "message.ts"));
    TRY(dec_fixed(m->user, sizeof(m->user), pm->user, "message.user"));
    TRY(dec_fixed(m->team_id, sizeof(m->team_id), pm->team_id, "message.team_id"));
    TRY(dec_str(&m->text, pm->text, "message.text"));
    TRY(dec_str(&m->subtype, pm->subtype, "message.subtype"));
    TRY(dec_fixed(m->thread_ts, sizeof(m->thread_ts), pm->thread_ts, "message.thread_ts"));
    TRY(dec_str(&m->client_msg_id, pm->client_msg_id, "message.client_msg_id"));
    TRY(dec_str(&m->blocks, pm->blocks, "message.blocks"));
    TRY(dec_str(&m->attachments, pm->attachments, "message.attachments"));
    TRY(dec_str(&m->metadata, pm->metadata, "message.metadata"));
    TRY(dec_str(&m->username, pm->username, "message.username"));
    TRY(dec_str(&m->icon_emoji, pm->icon_emoji, "message.icon_emoji"));
    TRY(dec_str(&m->icon_url, pm->icon_url, "message.icon_url"));
    TRY(dec_fixed(m->bot_id, sizeof(m->bot_id), pm->bot_id, "message.bot_id"));
    m->flags = pm->flags;
    TRY(dec_fixed(m->edited_user, sizeof(m->edited_user), pm->edited_user,
                  "message.edited_user"));
    TRY(dec_fixed(m->edited_ts, sizeof(m->edited_ts), pm->edited_ts, "message.edited_ts"));
    m->reply_count = pm->reply_count;
    TRY(dec_fixed(m->latest_reply, sizeof(m->latest_reply), pm->latest_reply,
                  "message.latest_reply"));
    TRY(dec_ids(&m->reply_users, &m->n_reply_users, pm->reply_users, pm->n_reply_users,
                "message.reply_users"));
    TRY(dec_ids(&m->files, &m->n_files, pm->files, pm->n_files, "message.files"));
    TRY(dec_ids(&m->mentions, &m->n_mentions, pm->mentions, pm->n_mentions,
                "message.mentions"));
    if (pm->n_reactions > 0 && pm->reactions != NULL) {
        if ((m->reactions = chat_calloc(pm->n_reactions, sizeof(chat_reaction))) == NULL) {
            rv = chati_fail(CHAT_ERR_NOMEM, "decoding reactions");
            goto fail;
        }
        /* Counted before filling: every slot is zeroed, so freeing is safe. */
        m->n_reactions = pm->n_reactions;
        for (size_t i = 0; i < pm->n_reactions; i++) {
            const Chat__Reaction *pr = pm->reactions[i];
            chat_reaction *r = &m->reactions[i];

            if (pr == NULL) {
                rv = bad("message.reactions");
                goto fail;
            }
            TRY(dec_str(&r->name, pr->name, "reaction.name"));
            if (r->name == NULL) {
                rv = bad("reaction without a name");
                goto fail;
            }
            TRY(dec_ids(&r->users, &r->n_users, pr->users, pr->n_users, "reaction.users"));
        }
    }
    m->mention_flags = pm->mention_flags & (CHAT_MENTION_CHANNEL | CHAT_MENTION_HERE);
    m->reply_broadcast = pm->reply_broadcast;
    *out = m;
    return CHAT_OK;
fail:
    chat_message_free(m);
    return rv;
}

static bool
channel_type_valid(uint32_t t)
{
    return t == 0 || t == CHAT_CHANNEL_PUBLIC || t == CHAT_CHANNEL_PRIVATE ||
           t == CHAT_CHANNEL_IM || t == CHAT_CHANNEL_MPIM;
}

static chat_err
channel_from_pb(const Chat__Channel *pc, chat_channel **out)
{
    chat_channel *c;
    chat_err rv;

    if (!channel_type_valid(pc->type)) {
        return bad("channel.type");
    }
    if ((c = chat_channel_new()) == NULL) {
        return chati_fail(CHAT_ERR_NOMEM, "decoding a channel");
    }
    TRY(dec_fixed(c->id, sizeof(c->id), pc->id, "channel.id"));
    TRY(dec_fixed(c->team_id, sizeof(c->team_id), pc->team_id, "channel.team_id"));
    TRY(dec_str(&c->name, pc->name, "channel.name"));
    c->type = (chat_channel_type)pc->type;
    TRY(dec_fixed(c->creator, sizeof(c->creator), pc->creator, "channel.creator"));
    c->created = pc->created;
    TRY(dec_str(&c->topic, pc->topic, "channel.topic"));
    TRY(dec_fixed(c->topic_creator, sizeof(c->topic_creator), pc->topic_creator,
                  "channel.topic_creator"));
    c->topic_last_set = pc->topic_last_set;
    TRY(dec_str(&c->purpose, pc->purpose, "channel.purpose"));
    TRY(dec_fixed(c->purpose_creator, sizeof(c->purpose_creator), pc->purpose_creator,
                  "channel.purpose_creator"));
    c->purpose_last_set = pc->purpose_last_set;
    c->is_archived = pc->is_archived;
    c->is_general = pc->is_general;
    TRY(dec_str(&c->dm_key, pc->dm_key, "channel.dm_key"));
    TRY(dec_fixed(c->last_activity, sizeof(c->last_activity), pc->last_activity,
                  "channel.last_activity"));
    c->member_count = pc->member_count;
    c->is_member = pc->is_member;
    TRY(dec_fixed(c->last_read, sizeof(c->last_read), pc->last_read, "channel.last_read"));
    c->unread_count = pc->unread_count;
    c->mention_count = pc->mention_count;
    *out = c;
    return CHAT_OK;
fail:
    chat_channel_free(c);
    return rv;
}

static chat_err
user_from_pb(const Chat__User *pu, chat_user **out)
{
    chat_user *u;
    chat_err rv;

    if ((u = chat_user_new()) == NULL) {
        return chati_fail(CHAT_ERR_NOMEM, "decoding a user");
    }
    TRY(dec_fixed(u->id, sizeof(u->id), pu->id, "user.id"));
    TRY(dec_fixed(u->team_id, sizeof(u->team_id), pu->team_id, "user.team_id"));
    TRY(dec_str(&u->email, pu->email, "user.email"));
    TRY(dec_str(&u->name, pu->name, "user.name"));
    TRY(dec_str(&u->real_name, pu->real_name, "user.real_name"));
    TRY(dec_str(&u->display_name, pu->display_name, "user.display_name"));
    TRY(dec_str(&u->title, pu->title, "user.title"));
    TRY(dec_str(&u->status_text, pu->status_text, "user.status_text"));
    TRY(dec_str(&u->status_emoji, pu->status_emoji, "user.status_emoji"));
    TRY(dec_str(&u->tz, pu->tz, "user.tz"));
    u->is_admin = pu->is_admin;
    u->deleted = pu->deleted;
    u->created = pu->created;
    u->updated = pu->updated;
    TRY(dec_fixed(u->bot_id, sizeof(u->bot_id), pu->bot_id, "user.bot_id"));
    TRY(dec_fixed(u->app_id, sizeof(u->app_id), pu->app_id, "user.app_id"));
    *out = u;
    return CHAT_OK;
fail:
    chat_user_free(u);
    return rv;
}

chat_err
chati_event_decode(const void *data, size_t len, chat_event **out)
{
    Chat__Event *pe;
    chat_event *ev = NULL;
    chat_err rv;

    if (data == NULL || out == NULL) {
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "chati_event_decode: NULL argument");
    }
    pe = chat__event__unpack(NULL, len, data);
    if (pe == NULL) {
        return bad("not a chat.Event");
    }
    if (!type_valid(pe->type)) {
        rv = bad("unknown type");
        goto fail;
    }
    if (pe->presence > CHAT_PRESENCE_AWAY) {
        rv = bad("unknown presence");
        goto fail;
    }
    if (pe->channel_type != 0 && pe->channel_type != CHAT_CHANNEL_PUBLIC &&
        pe->channel_type != CHAT_CHANNEL_PRIVATE && pe->channel_type != CHAT_CHANNEL_IM &&
        pe->channel_type != CHAT_CHANNEL_MPIM) {
        rv = bad("unknown channel type");
        goto fail;
    }
    if (pe->id == NULL || pe->id[0] == '\0') {
        rv = bad("missing id");
        goto fail;
    }
    if ((ev = chat_calloc(1, sizeof(*ev))) == NULL) {
        rv = chati_fail(CHAT_ERR_NOMEM, "decoding an event");
        goto fail;
    }
    ev->type = (chat_event_type)pe->type;
    ev->time_us = pe->time_us;
    ev->presence = (chat_presence)pe->presence;
    TRY(dec_fixed(ev->id, sizeof(ev->id), pe->id, "id"));
    TRY(dec_fixed(ev->team_id, sizeof(ev->team_id), pe->team_id, "team_id"));
    TRY(dec_fixed(ev->channel_id, sizeof(ev->channel_id), pe->channel_id, "channel_id"));
    TRY(dec_fixed(ev->user_id, sizeof(ev->user_id), pe->user_id, "user_id"));
    TRY(dec_fixed(ev->target_user, sizeof(ev->target_user), pe->target_user, "target_user"));
    TRY(dec_fixed(ev->item_ts, sizeof(ev->item_ts), pe->item_ts, "item_ts"));
    TRY(dec_str(&ev->reaction, pe->reaction, "reaction"));
    TRY(dec_str(&ev->data, pe->data, "data"));
    TRY(dec_fixed(ev->file_id, sizeof(ev->file_id), pe->file_id, "file_id"));
    if (pe->message != NULL) {
        TRY(message_from_pb(pe->message, &ev->message));
    }
    if (pe->previous != NULL) {
        TRY(message_from_pb(pe->previous, &ev->previous));
    }
    ev->channel_type = (chat_channel_type)pe->channel_type;
    if (pe->channel != NULL) {
        TRY(channel_from_pb(pe->channel, &ev->channel));
    }
    if (pe->user != NULL) {
        TRY(user_from_pb(pe->user, &ev->user));
    }
    chat__event__free_unpacked(pe, NULL);
    *out = ev;
    return CHAT_OK;
fail:
    chati_event_free(ev);
    chat__event__free_unpacked(pe, NULL);
    return rv;
}

/* ---------------------------------------------------------- accessors --- */

static const char empty[] = "";

chat_event_type
chat_event_type_of(const chat_event *ev)
{
    return ev != NULL ? ev->type : (chat_event_type)0;
}

const char *
chat_event_id(const chat_event *ev)
{
    return ev != NULL ? ev->id : empty;
}

int64_t
chat_event_time_us(const chat_event *ev)
{
    return ev != NULL ? ev->time_us : 0;
}

const char *
chat_event_team_id(const chat_event *ev)
{
    return ev != NULL ? ev->team_id : empty;
}

const char *
chat_event_channel_id(const chat_event *ev)
{
    return ev != NULL ? ev->channel_id : empty;
}

const char *
chat_event_user_id(const chat_event *ev)
{
    return ev != NULL ? ev->user_id : empty;
}

const char *
chat_event_target_user(const chat_event *ev)
{
    return ev != NULL ? ev->target_user : empty;
}

const char *
chat_event_item_ts(const chat_event *ev)
{
    return ev != NULL ? ev->item_ts : empty;
}

const char *
chat_event_data(const chat_event *ev)
{
    return ev != NULL && ev->data != NULL ? ev->data : empty;
}

const char *
chat_event_reaction(const chat_event *ev)
{
    return ev != NULL && ev->reaction != NULL ? ev->reaction : empty;
}

const char *
chat_event_file_id(const chat_event *ev)
{
    return ev != NULL ? ev->file_id : empty;
}

chat_presence
chat_event_presence(const chat_event *ev)
{
    return ev != NULL ? ev->presence : CHAT_PRESENCE_OFFLINE;
}

const chat_message *
chat_event_message(const chat_event *ev)
{
    return ev != NULL ? ev->message : NULL;
}

const chat_channel *
chat_event_channel(const chat_event *ev)
{
    return ev != NULL ? ev->channel : NULL;
}

const chat_user *
chat_event_user(const chat_event *ev)
{
    return ev != NULL ? ev->user : NULL;
}

const chat_message *
chat_event_previous_message(const chat_event *ev)
{
    return ev != NULL ? ev->previous : NULL;
}

chat_channel_type
chat_event_channel_type(const chat_event *ev)
{
    return ev != NULL ? ev->channel_type : (chat_channel_type)0;
}
