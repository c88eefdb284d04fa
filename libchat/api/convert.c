/* Entities to API messages: the Slack shape of users, channels and messages. */
#include <stdio.h>
#include <string.h>

#include "api/convert.h"
#include "api/method.h"

chat_err chati_pb_str(char **field, const char *v)
{
    if (v == NULL || *v == '\0')
        return CHAT_OK;
    char *copy = chat_strdup(v);
    if (copy == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "response");
    *field = copy;
    return CHAT_OK;
}

chat_err chati_pb_strs(char ***field, size_t *n_field, const char *const *v, size_t n)
{
    if (n == 0)
        return CHAT_OK;
    char **arr = chat_calloc(n, sizeof *arr);
    if (arr == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "response");
    for (size_t i = 0; i < n; i++) {
        if ((arr[i] = chat_strdup(v[i] ? v[i] : "")) == NULL) {
            for (size_t j = 0; j < i; j++)
                chat_free(arr[j]);
            chat_free(arr);
            return chati_fail(CHAT_ERR_NOMEM, "response");
        }
    }
    *field = arr;
    *n_field = n;
    return CHAT_OK;
}

/* Fixed-size id arrays, as entities hold them, into a repeated string field. */
static chat_err pb_ids(char ***field, size_t *n_field, const char (*ids)[CHAT_ID_SIZE], size_t n)
{
    if (n == 0)
        return CHAT_OK;
    const char **v = chat_calloc(n, sizeof *v);
    if (v == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "response");
    for (size_t i = 0; i < n; i++)
        v[i] = ids[i];
    chat_err rv = chati_pb_strs(field, n_field, v, n);
    chat_free(v);
    return rv;
}

/* A fresh, initialised message of a generated type. */
#define NEW(type, desc) ((type *)chati_pb_new(&(desc)))

static void *fail_free(ProtobufCMessage *m)
{
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    chati_fail(CHAT_ERR_NOMEM, "response");
    return NULL;
}

/* Up to two initials of name (its first word's first character and its
 * last word's), upper-cased where ASCII, as the web client draws them. */
static void initials_of(const char *name, char out[16])
{
    size_t n = 0;
    const char *words[2] = {NULL, NULL};
    for (const char *p = name ? name : ""; *p; p++)
        if (*p != ' ' && (p == name || p[-1] == ' ')) {
            if (words[0] == NULL)
                words[0] = p;
            else
                words[1] = p;
        }
    for (int w = 0; w < 2 && words[w]; w++) {
        const unsigned char *p = (const unsigned char *)words[w];
        size_t len = *p < 0x80 ? 1 : *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : 2;
        for (size_t i = 0; i < len && p[i] && n < 15; i++)
            out[n++] = (char)(len == 1 && p[i] >= 'a' && p[i] <= 'z' ? p[i] - 32 : p[i]);
    }
    if (n == 0)
        out[n++] = '?';
    out[n] = '\0';
}

/* The web client's colours (web/js/dom.js avatarColour): FNV-1a of the id. */
static const char *avatar_colour(const char *id)
{
    static const char *const colours[] = {"c2410c", "0f766e", "1d4ed8", "7c3aed",
                                          "be185d", "15803d", "b45309", "0369a1",
                                          "9333ea", "4d7c0f", "b91c1c", "4338ca"};
    uint32_t x = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        x = (x ^ *p) * 16777619u;
    return colours[x % CHATI_ARRAY_LEN(colours)];
}

/* profile.image_*: base/avatars/<size>/<colour>/<initials, %-encoded>.svg */
static chat_err avatars(Chat__Api__Profile *p, const chat_user *u, const char *base)
{
    const char *name = u->display_name && *u->display_name ? u->display_name
                       : u->real_name && *u->real_name     ? u->real_name
                                                           : u->name;
    char ini[16], enc[64], hash[13];
    initials_of(name, ini);
    size_t n = 0;
    for (const unsigned char *c = (const unsigned char *)ini; *c; c++)
        n += (size_t)snprintf(enc + n, sizeof enc - n,
                              (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ? "%c" : "%%%02X",
                              *c);
    const char *colour = avatar_colour(u->id);
    uint32_t h = 2166136261u; /* the hash changes when the picture does */
    for (const unsigned char *c = (const unsigned char *)ini; *c; c++)
        h = (h ^ *c) * 16777619u;
    snprintf(hash, sizeof hash, "%s%06x", colour, (unsigned)(h & 0xffffff));
    static const int sizes[] = {24, 32, 48, 72, 192, 512};
    char **fields[] = {&p->image_24, &p->image_32, &p->image_48,
                       &p->image_72, &p->image_192, &p->image_512};
    for (size_t i = 0; i < CHATI_ARRAY_LEN(sizes); i++) {
        char url[1024];
        snprintf(url, sizeof url, "%s/avatars/%d/%s/%s.svg", base, sizes[i], colour, enc);
        if (chati_pb_str(fields[i], url))
            return CHAT_ERR_NOMEM;
    }
    return chati_pb_str(&p->avatar_hash, hash);
}

Chat__Api__Profile *chati_api_profile(const chat_user *u, const char *base)
{
    Chat__Api__Profile *p = NEW(Chat__Api__Profile, chat__api__profile__descriptor);
    if (p == NULL)
        return fail_free(NULL);
    const char *display = u->display_name ? u->display_name : "";
    if (chati_pb_str(&p->real_name, u->real_name) || chati_pb_str(&p->display_name, display) ||
        chati_pb_str(&p->title, u->title) || chati_pb_str(&p->status_text, u->status_text) ||
        chati_pb_str(&p->status_emoji, u->status_emoji) || chati_pb_str(&p->email, u->email) ||
        chati_pb_str(&p->real_name_normalized, u->real_name) ||
        chati_pb_str(&p->display_name_normalized, display) || chati_pb_str(&p->team, u->team_id) ||
        chati_pb_str(&p->bot_id, u->bot_id) || chati_pb_str(&p->api_app_id, u->app_id) ||
        (base && avatars(p, u, base) != CHAT_OK))
        return fail_free(&p->base);
    return p;
}

Chat__Api__User *chati_api_user(const chat_user *u, const char *base)
{
    Chat__Api__User *r = NEW(Chat__Api__User, chat__api__user__descriptor);
    if (r == NULL)
        return fail_free(NULL);
    r->deleted = u->deleted;
    r->is_admin = r->is_owner = u->is_admin;
    r->is_bot = u->bot_id[0] != '\0';
    r->updated = u->updated;
    if (chati_pb_str(&r->id, u->id) || chati_pb_str(&r->team_id, u->team_id) ||
        chati_pb_str(&r->name, u->name) || chati_pb_str(&r->real_name, u->real_name) ||
        chati_pb_str(&r->tz, u->tz) || (r->profile = chati_api_profile(u, base)) == NULL)
        return fail_free(&r->base);
    return r;
}

Chat__Api__Team *chati_api_team(const chat_team *t)
{
    Chat__Api__Team *r = NEW(Chat__Api__Team, chat__api__team__descriptor);
    if (r == NULL)
        return fail_free(NULL);
    if (chati_pb_str(&r->id, t->id) || chati_pb_str(&r->name, t->name) ||
        chati_pb_str(&r->domain, t->domain))
        return fail_free(&r->base);
    return r;
}

static Chat__Api__Topic *api_topic(const char *value, const char *creator, int64_t last_set)
{
    Chat__Api__Topic *t = NEW(Chat__Api__Topic, chat__api__topic__descriptor);
    if (t == NULL)
        return NULL;
    t->last_set = last_set;
    if (chati_pb_str(&t->value, value) || chati_pb_str(&t->creator, creator)) {
        protobuf_c_message_free_unpacked(&t->base, NULL);
        return NULL;
    }
    return t;
}

Chat__Api__Channel *chati_api_channel(const chat_channel *c, const char *self)
{
    Chat__Api__Channel *r = NEW(Chat__Api__Channel, chat__api__channel__descriptor);
    if (r == NULL)
        return fail_free(NULL);
    r->is_channel = c->type == CHAT_CHANNEL_PUBLIC;
    r->is_group = c->type == CHAT_CHANNEL_PRIVATE;
    r->is_im = c->type == CHAT_CHANNEL_IM;
    r->is_mpim = c->type == CHAT_CHANNEL_MPIM;
    r->is_private = c->type != CHAT_CHANNEL_PUBLIC;
    r->created = c->created;
    r->is_archived = c->is_archived;
    r->is_general = c->is_general;
    r->is_member = c->is_member;
    r->num_members = c->member_count;
    r->unread_count = r->unread_count_display = c->unread_count;
    r->mention_count = c->mention_count;
    if (chati_pb_str(&r->id, c->id) || chati_pb_str(&r->name, c->name) ||
        chati_pb_str(&r->name_normalized, c->name) || chati_pb_str(&r->creator, c->creator) ||
        chati_pb_str(&r->last_read, c->last_read) ||
        chati_pb_str(&r->context_team_id, c->team_id) ||
        chati_pb_str(&r->latest_ts, c->last_activity))
        return fail_free(&r->base);
    if (c->type == CHAT_CHANNEL_IM && c->dm_key && self) {
        /* dm_key is "A,B": the IM's user is whichever is not the caller. */
        const char *comma = strchr(c->dm_key, ',');
        char other[CHAT_ID_SIZE] = "";
        if (comma && (size_t)(comma - c->dm_key) < CHAT_ID_SIZE) {
            if (strncmp(c->dm_key, self, (size_t)(comma - c->dm_key)) == 0)
                chati_copy_fixed(other, sizeof other, comma + 1);
            else {
                memcpy(other, c->dm_key, (size_t)(comma - c->dm_key));
                other[comma - c->dm_key] = '\0';
            }
        } else if (comma == NULL) {
            chati_copy_fixed(other, sizeof other, c->dm_key); /* a DM with oneself */
        }
        if (chati_pb_str(&r->user, other))
            return fail_free(&r->base);
    }
    if (!r->is_im) {
        r->topic = api_topic(c->topic, c->topic_creator, c->topic_last_set);
        r->purpose = api_topic(c->purpose, c->purpose_creator, c->purpose_last_set);
        if (r->topic == NULL || r->purpose == NULL)
            return fail_free(&r->base);
    }
    return r;
}

const char *chati_pb_json(const Chat__Api__Json *j)
{
    return j == NULL ? NULL : j->raw ? j->raw : "";
}

chat_err chati_pb_set_json(Chat__Api__Json **out, const char *text)
{
    if (text == NULL || *text == '\0')
        return CHAT_OK;
    *out = NEW(Chat__Api__Json, chat__api__json__descriptor);
    return *out == NULL ? CHAT_ERR_NOMEM : chati_pb_str(&(*out)->raw, text);
}

/* Slack's username, icons and bot_id of a message, and its JSON parts. */
static chat_err api_message_rich(const chat_message *m, Chat__Api__Message *r)
{
    chat_err rv = CHAT_OK;
    if (chati_pb_set_json(&r->blocks, m->blocks) || chati_pb_set_json(&r->attachments, m->attachments) ||
        chati_pb_set_json(&r->metadata, m->metadata) || chati_pb_str(&r->username, m->username) ||
        chati_pb_str(&r->bot_id, m->bot_id))
        return CHAT_ERR_NOMEM;
    if ((m->icon_emoji && *m->icon_emoji) || (m->icon_url && *m->icon_url)) {
        Chat__Api__Icons *ic = r->icons = NEW(Chat__Api__Icons, chat__api__icons__descriptor);
        if (ic == NULL || chati_pb_str(&ic->emoji, m->icon_emoji) ||
            chati_pb_str(&ic->image_36, m->icon_url) ||
            chati_pb_str(&ic->image_48, m->icon_url) || chati_pb_str(&ic->image_72, m->icon_url))
            rv = CHAT_ERR_NOMEM;
    }
    return rv;
}

/* A topic or purpose notice's new value, from its text (consumers.c). */
static chat_err notice_value(const chat_message *m, Chat__Api__Message *r)
{
    static const char topic[] = "set the channel topic: ", purpose[] = "set the channel purpose: ";
    if (m->subtype == NULL || m->text == NULL)
        return CHAT_OK;
    if (strcmp(m->subtype, "channel_topic") == 0 && strncmp(m->text, topic, sizeof topic - 1) == 0)
        return chati_pb_str(&r->topic, m->text + sizeof topic - 1);
    if (strcmp(m->subtype, "channel_purpose") == 0 &&
        strncmp(m->text, purpose, sizeof purpose - 1) == 0)
        return chati_pb_str(&r->purpose, m->text + sizeof purpose - 1);
    return CHAT_OK;
}

Chat__Api__Message *chati_api_message(const chat_message *m, bool with_channel)
{
    Chat__Api__Message *r = NEW(Chat__Api__Message, chat__api__message__descriptor);
    if (r == NULL)
        return fail_free(NULL);
    r->reply_count = m->reply_count;
    r->reply_users_count = (int64_t)m->n_reply_users;
    r->reply_broadcast = m->reply_broadcast;
    /* Slack names a broadcast reply and a message sharing files by subtype. */
    const char *subtype = m->subtype                 ? m->subtype
                          : m->reply_broadcast && m->thread_ts[0] ? "thread_broadcast"
                          : m->n_files                            ? "file_share"
                                                                  : NULL;
    if (chati_pb_str(&r->type, "message") || chati_pb_str(&r->subtype, subtype) ||
        chati_pb_str(&r->user, m->user) || chati_pb_str(&r->text, m->text) ||
        chati_pb_str(&r->ts, m->ts) || chati_pb_str(&r->thread_ts, m->thread_ts) ||
        chati_pb_str(&r->latest_reply, m->latest_reply) ||
        chati_pb_str(&r->client_msg_id, m->client_msg_id) || chati_pb_str(&r->team, m->team_id) ||
        (with_channel && chati_pb_str(&r->channel, m->channel)) ||
        pb_ids(&r->reply_users, &r->n_reply_users, (const char(*)[CHAT_ID_SIZE])m->reply_users,
               m->n_reply_users) ||
        api_message_rich(m, r) || notice_value(m, r))
        return fail_free(&r->base);
    if (m->edited_ts[0]) {
        r->edited = NEW(Chat__Api__Edited, chat__api__edited__descriptor);
        if (r->edited == NULL || chati_pb_str(&r->edited->user, m->edited_user) ||
            chati_pb_str(&r->edited->ts, m->edited_ts))
            return fail_free(&r->base);
    }
    if (m->n_reactions) {
        r->reactions = chat_calloc(m->n_reactions, sizeof *r->reactions);
        if (r->reactions == NULL)
            return fail_free(&r->base);
        r->n_reactions = m->n_reactions;
        for (size_t i = 0; i < m->n_reactions; i++) {
            Chat__Api__Reaction *x = NEW(Chat__Api__Reaction, chat__api__reaction__descriptor);
            r->reactions[i] = x;
            if (x == NULL || chati_pb_str(&x->name, m->reactions[i].name) ||
                pb_ids(&x->users, &x->n_users,
                       (const char(*)[CHAT_ID_SIZE])m->reactions[i].users,
                       m->reactions[i].n_users))
                return fail_free(&r->base);
            x->count = (int64_t)m->reactions[i].n_users;
        }
    }
    if (m->n_files) {
        r->files = chat_calloc(m->n_files, sizeof *r->files);
        if (r->files == NULL)
            return fail_free(&r->base);
        r->n_files = m->n_files;
        for (size_t i = 0; i < m->n_files; i++) {
            Chat__Api__File *f = NEW(Chat__Api__File, chat__api__file__descriptor);
            r->files[i] = f;
            if (f == NULL || chati_pb_str(&f->id, m->files[i]))
                return fail_free(&r->base);
        }
    }
    return r;
}

chat_err chati_api_messages(const chat_list *l, Chat__Api__Message ***out, size_t *n)
{
    size_t k = chat_list_count(l);
    if (k == 0)
        return CHAT_OK;
    Chat__Api__Message **arr = chat_calloc(k, sizeof *arr);
    if (arr == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "response");
    *out = arr; /* owned by the response from here: freed with it on failure */
    for (size_t i = 0; i < k; i++) {
        if ((arr[i] = chati_api_message(chat_list_message(l, i), false)) == NULL)
            return CHAT_ERR_NOMEM;
        *n = i + 1;
    }
    return CHAT_OK;
}

chat_err chati_api_channels(const chat_list *l, const char *self, Chat__Api__Channel ***out,
                            size_t *n)
{
    size_t k = chat_list_count(l);
    if (k == 0)
        return CHAT_OK;
    Chat__Api__Channel **arr = chat_calloc(k, sizeof *arr);
    if (arr == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "response");
    *out = arr;
    for (size_t i = 0; i < k; i++) {
        if ((arr[i] = chati_api_channel(chat_list_channel(l, i), self)) == NULL)
            return CHAT_ERR_NOMEM;
        *n = i + 1;
    }
    return CHAT_OK;
}

Chat__Api__ResponseMetadata *chati_api_metadata(const chat_list *l)
{
    Chat__Api__ResponseMetadata *md =
        NEW(Chat__Api__ResponseMetadata, chat__api__response_metadata__descriptor);
    if (md == NULL || chati_pb_str(&md->next_cursor, chat_list_next_cursor(l)))
        return fail_free(md ? &md->base : NULL);
    return md;
}

chat_err chati_api_types(const char *types, unsigned def, unsigned *out)
{
    if (types == NULL || *types == '\0') {
        *out = def;
        return CHAT_OK;
    }
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"public_channel", CHAT_CHANNEL_PUBLIC},
                 {"private_channel", CHAT_CHANNEL_PRIVATE},
                 {"im", CHAT_CHANNEL_IM},
                 {"mpim", CHAT_CHANNEL_MPIM}};
    unsigned bits = 0;
    for (const char *p = types; *p;) {
        size_t len = strcspn(p, ",");
        bool found = false;
        for (size_t i = 0; i < CHATI_ARRAY_LEN(names) && len; i++) {
            if (strlen(names[i].name) == len && strncmp(names[i].name, p, len) == 0) {
                bits |= names[i].bit;
                found = true;
            }
        }
        if (!found && len)
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "unknown conversation type \"%.*s\"",
                              (int)(len > 40 ? 40 : len), p);
        p += len;
        if (*p == ',')
            p++;
    }
    *out = bits ? bits : def;
    return CHAT_OK;
}
